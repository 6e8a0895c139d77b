// Planning and validating a new rollout (rollout.start): every target node is asked what it serves (model.list,
// model.history, node.stats) through the NodeCaller, and the answer is a rollout document ready to persist, or a
// precise refusal. Nothing is changed on any node here.
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { RpcError, RolloutStartParams } from '../../shared/protocol/index.js';
import type { Rollout, RolloutNode, RolloutPlanStep, TestSet } from '../../shared/protocol/index.js';
import type { NodeCaller } from '../cluster/peers.js';
import { planSteps } from './plan.js';
import type { Spec } from './types.js';

/** Estimated memory a loaded version needs, as a multiple of its file size (weights plus onnxruntime arenas). */
export const LOAD_MEMORY_FACTOR = 3;

/** The start params with every default applied. */
type StartSpec = z.output<typeof RolloutStartParams>;

/** The stored form of the start params: the test set replaced by its name and row count (it is stored apart). */
export function storedSpec(spec: StartSpec): Spec {
  const { gate, ...rest } = spec;
  return gate ? { ...rest, gate: { metric: gate.metric, bound: gate.bound, max_regression: gate.max_regression, test_set: { name: gate.test_set.name ?? null, rows: gate.test_set.rows.length } } } : rest;
}

/** A planned rollout: the document (state gating, running, or planned for a dry run), its test set, and the plan. */
export interface PlannedRollout { rollout: Rollout; testSet: TestSet | null; plan: RolloutPlanStep[]; names: string[] }

/**
 * Validates and plans a rollout. Refuses (RpcError): a node named twice, a rollout of the model already active on one
 * of the nodes, an unknown or unreachable node, a candidate not pushed (a dry run warns instead), an unknown `from`,
 * a shadow rollout without a stable version everywhere, and too little memory to load the candidate (not a dry run).
 */
export async function planRollout(raw: unknown, by: string, role: string, deps: { nodes: NodeCaller; active: () => Rollout[]; now: number }): Promise<PlannedRollout> {
  const spec = RolloutStartParams.parse(raw);
  const names = spec.nodes ?? [deps.nodes.self];
  if (new Set(names).size !== names.length) throw new RpcError('INVALID_PARAMS', 'a node is named twice');
  const clash = deps.active().find((x) => x.name === spec.name && x.nodes.some((n) => names.includes(n.name)));
  if (clash && !spec.dry_run) throw new RpcError('CONFLICT', `rollout ${clash.id} of ${spec.name} is ${clash.state} on ${clash.nodes.filter((n) => names.includes(n.name)).map((n) => n.name).join(', ')}: finish, promote or abort it first`);
  const nodes: RolloutNode[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    const url = deps.nodes.url(name);
    const call = deps.nodes.call.bind(deps.nodes);
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
    // Memory up front: the candidate is loaded and warmed next to the stable version before any switch.
    if (!cand.loaded) {
      const stats = await call(name, 'node.stats', {}, by).catch(() => null);
      const need = cand.size_bytes * LOAD_MEMORY_FACTOR;
      const free = stats?.host.memory.available_bytes ?? null;
      if (free !== null && free < need) warnings.push(`${name}: loading ${spec.to} needs about ${(need / 2 ** 20).toFixed(0)} MiB (${LOAD_MEMORY_FACTOR}× its ${(cand.size_bytes / 2 ** 20).toFixed(1)} MiB file) next to the stable version; ${(free / 2 ** 20).toFixed(0)} MiB are available`);
    }
    nodes.push({ name, url, stable, previous_targets: previous, weight: 0, state: 'pending', touched: false, error: null });
  }
  const plan = planSteps(spec.strategy, names, spec.steps, spec.max_unavailable);
  if (spec.strategy === 'shadow' && nodes.some((n) => !n.stable)) throw new RpcError('INVALID_PARAMS', `a shadow rollout needs a stable version serving on every node (none on ${nodes.filter((n) => !n.stable).map((n) => n.name).join(', ')})`);
  const r: Rollout = {
    id: `ro_${randomBytes(5).toString('hex')}`, name: spec.name, to: spec.to, from: spec.from ?? null, strategy: spec.strategy,
    state: spec.dry_run ? 'planned' : spec.gate ? 'gating' : 'running', step: 0, plan, step_started_at: null, waits: 0, nodes, spec: storedSpec(spec), decisions: [],
    reason: spec.reason ?? null, created_at: deps.now, updated_at: deps.now, created_by: by, created_by_role: role, warnings,
  };
  const memory = warnings.filter((w) => w.includes('MiB are available'));
  if (memory.length && !spec.dry_run) throw new RpcError('CONFLICT', `not enough memory to load the candidate next to the stable version: ${memory.join('; ')}`);
  return { rollout: r, testSet: spec.gate?.test_set ?? null, plan, names };
}
