// Planning and validating a new rollout (rollout.start) with its pre-flight checks: every target node is asked what it
// serves (model.list, model.history) and what it has room for (node.stats, node.info) through the NodeCaller, and the
// answer is a rollout document ready to persist, or a precise refusal. The one change made on a node here: a stable
// version that is not loaded is loaded (model.load), once every check passed and never on a dry run.
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { RpcError, RolloutStartParams } from '../../shared/protocol/index.js';
import type { PreflightCheck, Rollout, RolloutNode, RolloutPlanStep, TestSet } from '../../shared/protocol/index.js';
import type { NodeCaller } from '../cluster/peers.js';
import { planSteps } from './plan.js';
import { gpuMemoryCheck, hostMemoryCheck, type ToLoad } from './preflight.js';
import type { TestSetUploads } from './test-set-uploads.js';
import type { Spec } from './types.js';

export { LOAD_MEMORY_FACTOR } from './preflight.js';

/** The start params with every default applied. */
type StartSpec = z.output<typeof RolloutStartParams>;

/** The stored form of the start params: the test set (inline or staged) replaced by its name and row count (it is stored apart). */
export function storedSpec(spec: StartSpec, testSet: TestSet | null): Spec {
  const { gate, ...rest } = spec;
  return gate && testSet ? { ...rest, gate: { metric: gate.metric, bound: gate.bound, max_regression: gate.max_regression, test_set: { name: testSet.name ?? null, rows: testSet.rows.length } } } : rest;
}

/** A planned rollout: the document (state gating, running, or planned for a dry run), its test set, and the plan. */
export interface PlannedRollout { rollout: Rollout; testSet: TestSet | null; plan: RolloutPlanStep[]; names: string[] }

/** What planning needs besides the params. */
export interface PlanDeps {
  nodes: NodeCaller; active: () => Rollout[]; now: number;
  /** Staged test sets (gate.test_set_id); without it only inline test sets are taken. */
  testSets?: TestSetUploads;
  /** models.gpu_load_min_bytes of this coordinator (default 512 MiB). */
  gpuLoadMinBytes?: number;
  /** Enforce the GPU memory check on simulated GPUs too (models.gpu_preflight_simulated). */
  gpuPreflightSimulated?: boolean;
}

/**
 * Validates and plans a rollout, with its pre-flight checks. Refuses (RpcError): a node named twice, a rollout of the
 * model already active on one of the nodes, an unknown or unreachable node, a candidate not pushed (a dry run warns
 * instead), an unknown `from`, a shadow rollout without a stable version everywhere, too little host or GPU memory to
 * load the candidate (and the stable version when it is not loaded) — a dry run warns instead — and a stable version
 * that fails to load. The stable version is the only thing changed on a node here: where it is not loaded, it is
 * loaded (not on a dry run) once every other check passed, as the canary split needs it serving.
 */
export async function planRollout(raw: unknown, by: string, role: string, deps: PlanDeps): Promise<PlannedRollout> {
  const spec = RolloutStartParams.parse(raw);
  const testSet = spec.gate ? spec.gate.test_set ?? stagedTestSet(spec.gate.test_set_id!, by, deps.testSets) : null;
  const names = spec.nodes ?? [deps.nodes.self];
  if (new Set(names).size !== names.length) throw new RpcError('INVALID_PARAMS', 'a node is named twice');
  const clash = deps.active().find((x) => x.name === spec.name && x.nodes.some((n) => names.includes(n.name)));
  if (clash && !spec.dry_run) throw new RpcError('CONFLICT', `rollout ${clash.id} of ${spec.name} is ${clash.state} on ${clash.nodes.filter((n) => names.includes(n.name)).map((n) => n.name).join(', ')}: finish, promote or abort it first`);
  const nodes: RolloutNode[] = [];
  const warnings: string[] = [];
  const preflight: PreflightCheck[] = [];
  const toLoadStable: Array<{ node: string; version: string }> = [];
  const call = deps.nodes.call.bind(deps.nodes);
  for (const name of names) {
    const url = deps.nodes.url(name);
    let versions;
    try { versions = (await call(name, 'model.list', { name: spec.name }, by)).models; } catch (e) {
      if (e instanceof RpcError) throw e;
      throw new RpcError('UNAVAILABLE', `node ${name} (${url}) is unreachable: ${(e as Error).message}`);
    }
    const cand = versions.find((v) => v.version === spec.to);
    if (!cand) {
      const msg = `node ${name} has no version ${spec.to} of ${spec.name}: push it first (fleetml model push ${spec.name} FILE.onnx --version ${spec.to} --node ${name})`;
      if (!spec.dry_run) throw new RpcError('NOT_FOUND', msg);
      warnings.push(msg);
      nodes.push({ name, url, stable: null, previous_targets: null, weight: 0, state: 'skipped', touched: false, error: 'candidate not pushed' });
      continue;
    }
    const hist = (await call(name, 'model.history', { name: spec.name, limit: 1 }, by)).events[0];
    const previous = hist ? hist.targets : null;
    const main = previous ? [...previous].sort((a, b) => b.weight - a.weight)[0]?.version ?? null : null;
    const stable = spec.from ?? (main && main !== spec.to ? main : versions.find((v) => v.version !== spec.to)?.version ?? null);
    if (spec.from && !versions.some((v) => v.version === spec.from)) throw new RpcError('NOT_FOUND', `node ${name} has no version ${spec.from} of ${spec.name}`);
    if (!stable && spec.strategy !== 'all-at-once') warnings.push(`${name}: no other version of ${spec.name} serves there: nothing to compare the candidate with (it takes all traffic at the first step)`);
    // The stable version must serve during the split: loaded here (after every check) when it is not.
    const st = stable ? versions.find((v) => v.version === stable) ?? null : null;
    if (st && !st.loaded) {
      preflight.push({ node: name, check: 'stable_loaded', outcome: spec.dry_run ? 'would_load' : 'loaded', detail: `${name}: the stable version ${stable} is not loaded: ${spec.dry_run ? 'it would be loaded before the first step (dry run: not loaded)' : 'loaded before the first step'}` });
      if (!spec.dry_run) toLoadStable.push({ node: name, version: st.version });
    } else if (st) preflight.push({ node: name, check: 'stable_loaded', outcome: 'pass', detail: `${name}: the stable version ${stable} is loaded` });
    // Memory up front: the candidate (and an unloaded stable version) is loaded and warmed before any switch.
    const load: ToLoad[] = [...(cand.loaded ? [] : [cand]), ...(st && !st.loaded ? [st] : [])];
    const [stats, info] = load.length
      ? await Promise.all([call(name, 'node.stats', {}, by).catch(() => null), call(name, 'node.info', {}, by).catch(() => null)])
      : [null, null];
    const checks = [
      hostMemoryCheck(name, load, stats?.host.memory.available_bytes ?? null),
      gpuMemoryCheck(name, load, info?.model_providers, stats?.gpu ?? null, deps.gpuLoadMinBytes ?? 512 * 2 ** 20, deps.gpuPreflightSimulated ?? false),
    ];
    preflight.push(...checks);
    for (const c of checks) if (c.outcome === 'fail') warnings.push(c.detail);
    nodes.push({ name, url, stable, previous_targets: previous, weight: 0, state: 'pending', touched: false, error: null });
  }
  const plan = planSteps(spec.strategy, names, spec.steps, spec.max_unavailable);
  if (spec.strategy === 'shadow' && nodes.some((n) => !n.stable)) throw new RpcError('INVALID_PARAMS', `a shadow rollout needs a stable version serving on every node (none on ${nodes.filter((n) => !n.stable).map((n) => n.name).join(', ')})`);
  const failed = preflight.filter((c) => c.outcome === 'fail');
  if (failed.length && !spec.dry_run) {
    const gpu = failed.some((c) => c.check === 'gpu_memory');
    throw new RpcError('CONFLICT', `not enough ${gpu ? (failed.every((c) => c.check === 'gpu_memory') ? 'GPU ' : 'host and GPU ') : ''}memory to load the candidate next to the stable version: ${failed.map((c) => c.detail).join('; ')}`,
      { preflight: failed });
  }
  for (const l of toLoadStable) {
    try { await call(l.node, 'model.load', { name: spec.name, version: l.version }, by); } catch (e) {
      throw new RpcError('CONFLICT', `node ${l.node}: the stable version ${l.version} of ${spec.name} is not loaded and loading it failed (${(e as Error).message}): the canary split needs it serving; fix or replace it (fleetml model load ${spec.name} --version ${l.version} --node ${l.node}), or start from another version with --from`);
    }
  }
  const r: Rollout = {
    id: `ro_${randomBytes(5).toString('hex')}`, name: spec.name, to: spec.to, from: spec.from ?? null, strategy: spec.strategy,
    state: spec.dry_run ? 'planned' : spec.gate ? 'gating' : 'running', step: 0, plan, step_started_at: null, waits: 0, nodes, spec: storedSpec(spec, testSet), decisions: [],
    reason: spec.reason ?? null, created_at: deps.now, updated_at: deps.now, created_by: by, created_by_role: role, warnings, preflight,
  };
  return { rollout: r, testSet, plan, names };
}

/** The staged test set a gate names (rollout.uploadTestSet by the same token). */
function stagedTestSet(id: string, by: string, uploads: TestSetUploads | undefined): TestSet {
  if (!uploads) throw new RpcError('INVALID_PARAMS', 'this coordinator takes inline test sets only (gate.test_set)');
  return uploads.get(id, by);
}
