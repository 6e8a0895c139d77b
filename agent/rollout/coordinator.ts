/**
 * The rollout coordinator: runs the rollouts this agent was asked to start, driving every target node (itself
 * included) through the public API — model.alias, model.stats, model.evaluate, drift.compare — with the cluster
 * token of its peers config (its own node through the same dispatcher, audited the same way).
 *
 * State machine of a rollout (persisted as one document per change; decisions are appended, never rewritten):
 *
 *   planned ─▶ gating ──fail──▶ failed            (the candidate never served)
 *                 │pass
 *                 ▼
 *   ┌────────▶ running ──analysis fail──▶ rolling_back ──every touched node restored──▶ rolled_back
 *   │   step k: apply weights (targets warmed before the switch) → wait step_duration → analyse
 *   │           pass → k+1 … last → promoted (shadow: completed);  too few requests → wait, then paused
 *   │             │ pause / node unreachable
 *   └── resume ── paused ──abort──▶ aborting ──every touched node restored──▶ aborted
 *   promote (running or paused, after the gate): every node at 100 % → promoted
 * rolling_back and aborting are persisted before the first restore call and retried on every tick (and after a
 * restart) until every node the rollout changed has its previous routing back: a crash or an unreachable node never
 * leaves a node on the candidate. A node is marked touched (and saved) before its routing is changed.
 *
 * Effects are idempotent (an alias is set to exact targets; loading is a no-op when loaded), so after a restart the
 * coordinator re-applies the current step's routing on every node (shadow copies included: they live in memory) and
 * restarts that step's window: it resumes at the right step and never judges on counters from before the restart.
 * One rollout is worked on by one task at a time (a per-rollout lock shared by the tick and the API calls).
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { RpcError } from '../../shared/protocol/index.js';
import type { AnalysisFigures, MethodName, ResultOf, Rollout, RolloutDecision, RolloutNode } from '../../shared/protocol/index.js';
import { RolloutStartParams } from '../../shared/protocol/index.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { z } from 'zod';
import type { AuditLog } from '../store/audit.js';
import type { Logger } from '../log.js';
import { judgeGate, judgeStep, planSteps, targetsFor } from './plan.js';
import type { RolloutStore } from './store.js';

type Spec = z.infer<typeof RolloutStartParams>;
type Caller = <M extends MethodName>(method: M, params: unknown) => Promise<ResultOf<M>>;

/** A node the coordinator can drive. */
export interface NodeHandle { name: string; url: string; call: Caller; close(): Promise<void> }

/** Peer as configured (agent config `peers`). */
export interface PeerConfig { name: string; url: string; token?: string; token_file?: string; ca_file?: string }

const TERMINAL = new Set(['promoted', 'completed', 'rolled_back', 'aborted', 'failed']);
/** What the gate needs of a spec's test set once it is stored apart. */
type StoredSpec = Omit<Spec, 'gate'> & { gate?: Omit<NonNullable<Spec['gate']>, 'test_set'> & { test_set: { name: string | null; rows: number } } };

/** Counters of a node at a step's start. */
interface Baseline { cand: { requests: number; errors: number }; stable: { requests: number; errors: number; p95: number | null }; shadow: { compared: number; disagreements: number } | null }

/** Share of shadow copies in the step whose answers differed (null before any was compared). */
function shadowShare(now: { compared: number; disagreements: number } | null, then: { compared: number; disagreements: number } | null): number | null {
  if (!now) return null;
  const c = now.compared - (then && then.compared <= now.compared ? then.compared : 0);
  const d = now.disagreements - (then && then.disagreements <= now.disagreements ? then.disagreements : 0);
  return c > 0 ? d / c : null;
}
/** Estimated memory a loaded version needs, as a multiple of its file size (weights plus onnxruntime arenas). */
export const LOAD_MEMORY_FACTOR = 3;

export class RolloutCoordinator extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  private locks = new Map<string, Promise<void>>();
  private remotes = new Map<string, NodeHandle>();
  private readonly now: () => number;

  constructor(private readonly deps: {
    store: RolloutStore; audit: AuditLog; log: Logger;
    self: { name: string; url: () => string; call: (by: string) => Caller };
    peers: PeerConfig[]; tickMs?: number; now?: () => number;
  }) {
    super();
    this.now = deps.now ?? Date.now;
  }

  /** Resume rollouts in progress (their current step's window restarts), then tick. */
  start(): void {
    for (const r of this.deps.store.active()) {
      if (r.state === 'running' && r.step_started_at !== null) {
        // re-apply the step's routing on every node (idempotent; restores in-memory shadow copies) and judge it on a fresh window
        r.step_started_at = null;
        for (const n of r.nodes) if (n.touched && n.state !== 'unreachable') n.state = 'pending';
        this.decide(r, 'resume', 'info', `coordinator restarted: step ${r.step + 1} of ${r.plan.length} resumes with a fresh analysis window`, 'coordinator');
      }
    }
    this.timer = setInterval(() => this.tick(), this.deps.tickMs ?? 500);
    this.timer.unref();
  }

  async dispose(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.remotes.values()].map((n) => n.close().catch(() => undefined)));
  }

  // ------------------------------------------------------------ nodes

  /** Names this coordinator can drive: itself and its peers. */
  knownNodes(): string[] { return [this.deps.self.name, ...this.deps.peers.map((p) => p.name)]; }

  private node(name: string, by: string): NodeHandle {
    if (name === this.deps.self.name) return { name, url: this.deps.self.url(), call: this.deps.self.call(by), close: async () => undefined };
    const have = this.remotes.get(name);
    if (have) return have;
    const p = this.deps.peers.find((x) => x.name === name);
    if (!p) throw new RpcError('INVALID_PARAMS', `unknown node ${name}: this coordinator (${this.deps.self.name}) knows ${this.knownNodes().join(', ')} (agent config peers)`);
    const token = p.token ?? (p.token_file ? readFileSync(p.token_file, 'utf8').trim() : undefined);
    if (!token) throw new RpcError('INVALID_PARAMS', `peer ${name} has no token in this agent's config (peers[].token or token_file): the coordinator cannot drive it`);
    // A peer on wss:// with a private or self-signed certificate: trust exactly that CA (never "insecure").
    let ca: Buffer | undefined;
    try { ca = p.ca_file ? readFileSync(p.ca_file) : undefined; } catch (e) {
      throw new RpcError('UNAVAILABLE', `peer ${name}: cannot read its ca_file ${p.ca_file}: ${(e as Error).message}`);
    }
    const client = new AgentClient({ url: p.url, token, reconnect: false, callTimeoutMs: 60_000, ...(ca ? { ca } : {}) });
    let connected: Promise<void> | null = null;
    const h: NodeHandle = {
      name, url: p.url,
      call: (async (method: MethodName, params: unknown) => {
        if (client.state !== 'open') { connected ??= client.connect().then(() => undefined).finally(() => { connected = null; }); await connected; }
        return client.call(method, params as never);
      }) as Caller,
      close: () => client.close(),
    };
    this.remotes.set(name, h);
    return h;
  }

  // ------------------------------------------------------------ API

  /** rollout.start: plan (dry run answers the plan), then persist and run. */
  async startRollout(raw: unknown, by: string, role = 'operate'): Promise<Rollout> {
    const spec = RolloutStartParams.parse(raw);
    const names = spec.nodes ?? [this.deps.self.name];
    if (new Set(names).size !== names.length) throw new RpcError('INVALID_PARAMS', 'a node is named twice');
    const clash = this.deps.store.active().find((x) => x.name === spec.name && x.nodes.some((n) => names.includes(n.name)));
    if (clash && !spec.dry_run) throw new RpcError('CONFLICT', `rollout ${clash.id} of ${spec.name} is ${clash.state} on ${clash.nodes.filter((n) => names.includes(n.name)).map((n) => n.name).join(', ')}: finish, promote or abort it first`);
    const missing: string[] = [];
    const now = this.now();
    const nodes: RolloutNode[] = [];
    const warnings: string[] = [];
    for (const name of names) {
      const h = this.node(name, by);
      let versions;
      try { versions = (await h.call('model.list', { name: spec.name })).models; } catch (e) {
        if (e instanceof RpcError) throw e;
        throw new RpcError('UNAVAILABLE', `node ${name} (${h.url}) is unreachable: ${(e as Error).message}`);
      }
      const cand = versions.find((v) => v.version === spec.to);
      if (!cand) {
        const msg = `node ${name} has no version ${spec.to} of ${spec.name}: push it first (fleetml model push ${spec.name} FILE.onnx --version ${spec.to} --node ${name})`;
        if (!spec.dry_run) throw new RpcError('NOT_FOUND', msg);
        missing.push(msg); warnings.push(msg);
        nodes.push({ name, url: h.url, stable: null, previous_targets: null, weight: 0, state: 'skipped', touched: false, error: 'candidate not pushed' });
        continue;
      }
      const hist = (await h.call('model.history', { name: spec.name, limit: 1 })).events[0];
      const previous = hist ? hist.targets : null;
      const main = previous ? [...previous].sort((a, b) => b.weight - a.weight)[0]?.version ?? null : null;
      const stable = spec.from ?? (main && main !== spec.to ? main : versions.find((v) => v.version !== spec.to)?.version ?? null);
      if (spec.from && !versions.some((v) => v.version === spec.from)) throw new RpcError('NOT_FOUND', `node ${name} has no version ${spec.from} of ${spec.name}`);
      if (!stable && spec.strategy !== 'all-at-once') warnings.push(`${name}: no other version of ${spec.name} serves there: nothing to compare the candidate with (it takes all traffic at the first step)`);
      // Memory up front: the candidate is loaded and warmed next to the stable version before any switch.
      const loaded = cand.loaded;
      if (!loaded) {
        const stats = await h.call('node.stats', {}).catch(() => null);
        const need = cand.size_bytes * LOAD_MEMORY_FACTOR;
        const free = stats?.host.memory.available_bytes ?? null;
        if (free !== null && free < need) warnings.push(`${name}: loading ${spec.to} needs about ${(need / 2 ** 20).toFixed(0)} MiB (${LOAD_MEMORY_FACTOR}× its ${(cand.size_bytes / 2 ** 20).toFixed(1)} MiB file) next to the stable version; ${(free / 2 ** 20).toFixed(0)} MiB are available`);
      }
      nodes.push({ name, url: h.url, stable, previous_targets: previous, weight: 0, state: 'pending', touched: false, error: null });
    }
    const plan = planSteps(spec.strategy, names, spec.steps, spec.max_unavailable);
    if (spec.strategy === 'shadow' && nodes.some((n) => !n.stable)) throw new RpcError('INVALID_PARAMS', `a shadow rollout needs a stable version serving on every node (none on ${nodes.filter((n) => !n.stable).map((n) => n.name).join(', ')})`);
    const r: Rollout = {
      id: `ro_${randomBytes(5).toString('hex')}`, name: spec.name, to: spec.to, from: spec.from ?? null, strategy: spec.strategy,
      state: spec.gate ? 'gating' : 'running', step: 0, plan, step_started_at: null, waits: 0, nodes, spec, decisions: [],
      reason: spec.reason ?? null, created_at: now, updated_at: now, created_by: by, created_by_role: role, warnings,
    };
    // The test set is kept apart from the document (rewritten on every change); the document keeps its size.
    const testSet = spec.gate?.test_set ?? null;
    if (spec.gate) r.spec = { ...spec, gate: { ...spec.gate, test_set: { name: spec.gate.test_set.name ?? null, rows: spec.gate.test_set.rows.length } } };
    void missing;
    const memory = warnings.filter((w) => w.includes('MiB are available'));
    if (spec.dry_run) { r.state = 'planned'; r.decisions.push({ ts: now, step: -1, kind: 'plan', outcome: 'info', reason: 'dry run: nothing changed', by }); return r; }
    if (memory.length) throw new RpcError('CONFLICT', `not enough memory to load the candidate next to the stable version: ${memory.join('; ')}`);
    if (testSet) this.deps.store.saveWithTestSet(r, testSet);
    this.decide(r, 'plan', 'info', `${spec.strategy} of ${spec.name} ${spec.to} on ${names.join(', ')}: ${plan.map((s) => s.note).join(' → ')}${spec.reason ? ` (${spec.reason})` : ''}`, by, { plan, warnings }, role);
    setImmediate(() => this.tick());
    return r;
  }

  get(id: string): Rollout {
    const r = this.deps.store.get(id);
    if (!r) throw new RpcError('NOT_FOUND', `no rollout ${id} on this coordinator (see: fleetml rollout list)`);
    return r;
  }

  list(name: string | undefined, limit: number): Rollout[] { return this.deps.store.list(name, limit); }

  async pause(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (r.state !== 'running' && r.state !== 'gating') throw new RpcError('CONFLICT', `rollout ${id} is ${r.state}: only a running rollout can be paused`);
      r.state = 'paused';
      this.decide(r, 'pause', 'info', reason ?? 'paused by hand', by, undefined, role);
    });
  }

  async resume(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (r.state !== 'paused') throw new RpcError('CONFLICT', `rollout ${id} is ${r.state}: only a paused rollout can be resumed`);
      r.state = this.gatePassed(r) ? 'running' : 'gating';
      r.step_started_at = null; r.waits = 0;
      // re-apply every node's routing (a node that was away may have restarted without its shadow copy)
      for (const n of r.nodes) if (n.state !== 'skipped') { n.state = 'pending'; n.error = null; }
      this.decide(r, 'resume', 'info', reason ?? `resumed by hand at step ${r.step + 1}`, by, undefined, role);
    });
  }

  private gatePassed(r: Rollout): boolean {
    return !(r.spec as StoredSpec).gate || r.decisions.some((d) => d.kind === 'gate' && d.outcome === 'pass');
  }

  async promote(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (r.state !== 'running' && r.state !== 'paused') throw new RpcError('CONFLICT', `rollout ${id} is ${r.state}: only a running or paused rollout can be promoted`);
      if (!this.gatePassed(r)) throw new RpcError('CONFLICT', `rollout ${id} has not passed its test gate: the candidate cannot be promoted before it does`);
      await this.applyWeights(r, Object.fromEntries(r.nodes.map((n) => [n.name, 100])), by, `promoted by hand${reason ? `: ${reason}` : ''}`);
      r.state = 'promoted';
      for (const n of r.nodes) if (n.state !== 'skipped') n.state = 'done';
      this.decide(r, 'promote', 'ok', reason ?? 'promoted by hand: every node serves the candidate', by, undefined, role);
    });
  }

  async abort(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (TERMINAL.has(r.state)) throw new RpcError('CONFLICT', `rollout ${id} is already ${r.state}`);
      if (r.state === 'aborting' || r.state === 'rolling_back') return;
      r.state = 'aborting';
      this.decide(r, 'abort', 'info', `${reason ?? 'aborted by hand'}: restoring the previous routing on ${r.nodes.filter((n) => n.touched).map((n) => n.name).join(', ') || 'no node (none was changed)'}`, by, undefined, role);
      await this.finishRestore(r, by, `rollout ${r.id} aborted${reason ? `: ${reason}` : ''}`);
    });
  }

  /**
   * One attempt to restore every touched node (rolling_back / aborting). All restored → the terminal state; else the
   * rollout stays restoring, the failing nodes are recorded (once per change) and the next tick tries again.
   */
  private async finishRestore(r: Rollout, by: string, reason: string): Promise<void> {
    const errors = await this.restore(r, by, reason);
    const touched = r.nodes.filter((n) => n.touched).map((n) => n.name).join(', ') || 'no node (none was changed)';
    if (errors.length === 0) {
      if (r.state === 'rolling_back') { r.state = 'rolled_back'; this.decide(r, 'rollback', 'ok', `previous routing restored on ${touched}`, 'coordinator'); }
      else { r.state = 'aborted'; this.decide(r, 'abort', 'ok', `aborted; previous routing restored on ${touched}`, 'coordinator'); }
      return;
    }
    const msg = `could not restore ${errors.join('; ')}: retrying until every node is restored`;
    if (r.decisions.at(-1)?.reason !== msg) this.decide(r, r.state === 'rolling_back' ? 'rollback' : 'abort', 'fail', msg, 'coordinator');
    else this.save(r);
  }

  /** Runs fn on the latest stored rollout, one task per rollout at a time (ticks and API calls share the lock), then saves even if fn fails part-way. */
  private async withRollout(id: string, fn: (r: Rollout) => Promise<void>): Promise<Rollout> {
    return this.exclusive(id, async () => {
      const r = this.get(id);
      try { await fn(r); } finally { this.save(r); }
      return r;
    });
  }

  /** A per-rollout mutex (promise chain, no timeout): effects of one rollout never interleave. */
  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((res) => { release = res; });
    const chained = prev.then(() => mine);
    this.locks.set(id, chained);
    await prev;
    try { return await fn(); } finally {
      release();
      if (this.locks.get(id) === chained) this.locks.delete(id);
    }
  }

  // ------------------------------------------------------------ the loop

  private tick(): void {
    for (const r0 of this.deps.store.active()) {
      if (r0.state === 'paused' || this.locks.has(r0.id)) continue;
      // the document is read again under the lock: an API call may have changed it since
      this.exclusive(r0.id, async () => { const r = this.get(r0.id); if (r.state !== 'paused' && !TERMINAL.has(r.state)) await this.advance(r); })
        .catch((e) => this.deps.log.error({ err: (e as Error).message, rollout: r0.id }, 'rollout step failed'));
    }
  }

  private async advance(r: Rollout): Promise<void> {
    const spec = r.spec as Spec;
    try {
      if (r.state === 'rolling_back') return await this.finishRestore(r, 'coordinator', `rollout ${r.id} rolled back`);
      if (r.state === 'aborting') return await this.finishRestore(r, 'coordinator', `rollout ${r.id} aborted`);
      if (r.state === 'gating') return await this.gate(r, spec);
      if (r.state !== 'running') return;
      const step = r.plan[r.step];
      if (r.step_started_at === null) {
        await this.applyWeights(r, step.weights, r.created_by, `rollout ${r.id} step ${r.step + 1}/${r.plan.length}: ${step.note}`);
        r.step_started_at = this.now(); r.waits = 0;
        (r as Rollout & { baseline?: unknown }).baseline = await this.snapshot(r);
        this.decide(r, 'step', 'ok', `step ${r.step + 1} of ${r.plan.length}: ${step.note}`, r.created_by, { weights: step.weights });
        return;
      }
      const due = r.step_started_at + spec.step_duration_s * 1000 * (1 + r.waits);
      if (this.now() < due) return;
      const figures = await this.analyse(r, spec);
      const v = judgeStep(figures, spec.analysis);
      if (v.outcome === 'fail') {
        this.decide(r, 'analysis', 'fail', v.reason, 'coordinator', figures);
        r.state = 'rolling_back'; // persisted before any restore call: a crash from here on still ends restored
        this.decide(r, 'rollback', 'info', `automatic rollback to the stable version on ${r.nodes.filter((n) => n.touched).map((n) => n.name).join(', ')}: ${v.reason}`, 'coordinator', figures);
        await this.finishRestore(r, 'coordinator', `rollout ${r.id} rolled back: ${v.reason}`);
      } else if (v.outcome === 'wait') {
        if (r.waits < spec.analysis.max_waits) { r.waits++; this.decide(r, 'wait', 'wait', `${v.reason}: waiting another ${spec.step_duration_s} s (${r.waits} of ${spec.analysis.max_waits})`, 'coordinator', figures); }
        else { r.state = 'paused'; this.decide(r, 'pause', 'wait', `${v.reason} after ${r.waits + 1} step durations: paused for a human (fleetml rollout resume|promote|abort ${r.id})`, 'coordinator', figures); }
      } else {
        this.decide(r, 'analysis', 'pass', v.reason, 'coordinator', figures);
        if (r.step + 1 >= r.plan.length && r.strategy === 'shadow') {
          // The shadow test passed: stop the copies; traffic never moved (a canary or a promote moves it).
          await this.restore(r, 'coordinator', `rollout ${r.id}: shadow test passed, copies stopped`);
          r.state = 'completed';
          for (const n of r.nodes) n.state = 'done';
          this.decide(r, 'done', 'ok', `shadow test passed: ${r.to} answered like ${[...new Set(r.nodes.map((n) => n.stable))].join(', ')} within the thresholds; routing unchanged (start a canary to move traffic)`, 'coordinator');
        } else if (r.step + 1 >= r.plan.length) {
          r.state = 'promoted';
          for (const n of r.nodes) n.state = 'done';
          this.decide(r, 'done', 'ok', `promoted: ${r.to} serves all traffic of ${r.name} on ${r.nodes.map((n) => n.name).join(', ')}`, 'coordinator');
        } else { r.step++; r.step_started_at = null; r.waits = 0; this.save(r); }
      }
    } catch (e) {
      const msg = (e as Error).message;
      const node = (e as { node?: string }).node;
      if (node) { const n = r.nodes.find((x) => x.name === node); if (n) { n.state = 'unreachable'; n.error = msg; } }
      r.state = 'paused';
      this.decide(r, 'pause', 'fail', `${node ? `node ${node} unreachable or failing` : 'error'}: ${msg}; paused (fleetml rollout resume ${r.id} once it is back, or abort)`, 'coordinator');
    }
  }

  /** Calls a node, tagging failures with its name (an unreachable node pauses the rollout). */
  private async callNode<M extends MethodName>(_r: Rollout, node: string, by: string, method: M, params: unknown): Promise<ResultOf<M>> {
    try { return await this.node(node, by).call(method, params); } catch (e) {
      if (e instanceof RpcError && e.data.code !== 'UNAVAILABLE' && e.data.code !== 'TIMEOUT') throw Object.assign(e, { node });
      throw Object.assign(new Error(`${method} on ${node}: ${(e as Error).message}`), { node });
    }
  }

  private async gate(r: Rollout, spec: Spec): Promise<void> {
    const g = (spec as unknown as StoredSpec).gate!;
    const testSet = this.deps.store.testSet(r.id);
    if (!testSet) { r.state = 'failed'; this.decide(r, 'gate', 'fail', 'the test set of this rollout is missing from the store', 'coordinator'); return; }
    const target = r.nodes[0];
    const cand = await this.callNode(r, target.name, r.created_by, 'model.evaluate', { name: r.name, version: r.to, test_set: testSet });
    const cur = target.stable ? await this.callNode(r, target.name, r.created_by, 'model.evaluate', { name: r.name, version: target.stable, test_set: testSet }) : null;
    const cv = cand[g.metric]; const sv = cur ? cur[g.metric] : null;
    if (cv !== null && !Number.isFinite(cv)) { r.state = 'failed'; this.decide(r, 'gate', 'fail', `test gate on ${target.name}: ${g.metric} of ${r.to} is not a number (its predictions hold NaN or the test set has missing values); the candidate never served traffic`, 'coordinator', { candidate: cand, current: cur }); return; }
    if (cv === null) { r.state = 'failed'; this.decide(r, 'gate', 'fail', `${g.metric} does not apply to ${r.name} ${r.to} (task ${cand.task}): choose ${cand.task === 'classification' ? 'accuracy or f1' : 'mae or rmse'}`, 'coordinator', { candidate: cand, current: cur }); return; }
    const v = judgeGate(g.metric, g.bound, g.max_regression, cv, sv);
    const figures = { node: target.name, rows: cand.rows, metric: g.metric, candidate: cv, current: sv, bound: g.bound, max_regression: g.max_regression, candidate_all: cand, current_all: cur };
    if (v.outcome === 'pass') { r.state = 'running'; this.decide(r, 'gate', 'pass', `test gate on ${target.name}: ${v.reason}`, 'coordinator', figures); }
    else { r.state = 'failed'; this.decide(r, 'gate', 'fail', `test gate on ${target.name}: ${v.reason}; the candidate never served traffic`, 'coordinator', figures); }
  }

  /** Sets each node's routing for the candidate weights (targets are loaded and warmed by model.alias before the switch). */
  private async applyWeights(r: Rollout, weights: Record<string, number>, by: string, reason: string): Promise<void> {
    for (const n of r.nodes) {
      const w = weights[n.name] ?? n.weight;
      if (n.state === 'skipped' || (n.touched && w === n.weight && n.state !== 'pending')) continue;
      // touched is saved before the change: a crash during the call still leaves the node on the restore list
      n.state = 'warming'; n.touched = true;
      this.save(r);
      const shadow = r.strategy === 'shadow' ? (w > 0 || r.state !== 'running' ? null : r.to) : undefined;
      // a shadow step moves no traffic: the node keeps its routing (a split included) and gets the copy
      const targets = shadow && n.previous_targets?.length ? n.previous_targets : targetsFor(r.to, n.stable, w);
      await this.callNode(r, n.name, by, 'model.alias', { name: r.name, targets, reason, ...(shadow !== undefined ? { shadow } : {}) });
      n.weight = w; n.touched = true; n.state = 'serving'; n.error = null;
    }
  }

  /** Restores the routing of every node the rollout changed; returns the errors (a node that could not be restored). */
  private async restore(r: Rollout, by: string, reason: string): Promise<string[]> {
    const errors: string[] = [];
    for (const n of r.nodes.filter((x) => x.touched)) {
      const targets = n.previous_targets && n.previous_targets.length ? n.previous_targets : n.stable ? [{ version: n.stable, weight: 100 }] : null;
      if (!targets) { errors.push(`${n.name}: no previous version to restore`); continue; }
      try {
        await this.callNode(r, n.name, by, 'model.alias', { name: r.name, targets, reason, ...(r.strategy === 'shadow' ? { shadow: null } : {}) });
        n.weight = targets.find((t) => t.version === r.to)?.weight ?? 0; n.state = 'rolled_back'; n.error = null;
      } catch (e) { n.error = (e as Error).message; errors.push(`${n.name}: ${(e as Error).message}`); }
    }
    return errors;
  }

  /** Counters and latency per node at a step's start. */
  private async snapshot(r: Rollout): Promise<Record<string, Baseline>> {
    const out: Record<string, Baseline> = {};
    for (const n of r.nodes) {
      const st = (await this.callNode(r, n.name, r.created_by, 'model.stats', { name: r.name })).models;
      const c = st.find((m) => m.version === r.to); const s = st.find((m) => m.version === n.stable);
      out[n.name] = { cand: { requests: c?.requests ?? 0, errors: c?.errors ?? 0 }, stable: { requests: s?.requests ?? 0, errors: s?.errors ?? 0, p95: s?.latency_us.p95 ?? null }, shadow: c?.shadow ?? null };
    }
    return out;
  }

  /** Figures of the current step on every node that serves the candidate, against the stable version of the same node. */
  private async analyse(r: Rollout, spec: Spec): Promise<AnalysisFigures[]> {
    const base = (r as Rollout & { baseline?: Record<string, Baseline> }).baseline ?? {};
    const since = r.step_started_at!;
    const out: AnalysisFigures[] = [];
    for (const n of r.nodes.filter((x) => x.weight > 0 || r.strategy === 'shadow')) {
      // latency percentiles over this step's window only (counters are cumulative: deltas from the baseline below)
      const st = (await this.callNode(r, n.name, 'coordinator', 'model.stats', { name: r.name, since: Math.floor(since) })).models;
      const c = st.find((m) => m.version === r.to); const s = st.find((m) => m.version === n.stable);
      const b: Baseline = base[n.name] ?? { cand: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0, p95: null }, shadow: null };
      // A counter below its baseline means the node restarted: count from zero.
      const delta = (now: number, then: number) => (now >= then ? now - then : now);
      const cReq = delta(c?.requests ?? 0, b.cand.requests); const cErr = delta(c?.errors ?? 0, b.cand.errors);
      const sReq = delta(s?.requests ?? 0, b.stable.requests); const sErr = delta(s?.errors ?? 0, b.stable.errors);
      const cP95 = cReq > 0 ? c?.latency_us.p95 ?? null : null;
      // The stable p95 of the same window when it still served, else the one from before the switch.
      const sP95 = sReq > 0 ? s?.latency_us.p95 ?? null : b.stable.p95;
      let input: number | null = null; let output: number | null = null;
      if (n.stable) {
        const cmp = await this.callNode(r, n.name, 'coordinator', 'drift.compare', sReq > 0
          ? { name: r.name, a: r.to, b: n.stable, since }
          : { name: r.name, a: r.to, b: n.stable, since, b_since: since - spec.step_duration_s * 1000 * 2, b_until: since }).catch(() => null);
        input = cmp?.input_drift ?? null; output = cmp?.output_drift ?? null;
      }
      out.push({ node: n.name, candidate_requests: cReq, stable_requests: sReq,
        candidate_error_rate: cReq > 0 ? cErr / cReq : null, stable_error_rate: sReq > 0 ? sErr / sReq : null,
        candidate_p95_us: cP95, stable_p95_us: sP95, p95_ratio: cP95 !== null && sP95 ? cP95 / sP95 : null, input_drift: input, output_drift: output,
        ...(r.strategy === 'shadow' ? { disagreement: shadowShare(c?.shadow ?? null, b.shadow ?? null) } : {}) });
    }
    return out;
  }

  // ------------------------------------------------------------ records

  /** Appends a decision, writes its audit row (who, why, the figures) and saves the rollout. */
  private decide(r: Rollout, kind: RolloutDecision['kind'], outcome: RolloutDecision['outcome'], reason: string, by: string, figures?: unknown, role?: string): void {
    const d: RolloutDecision = { ts: this.now(), step: r.step, kind, outcome, reason, by, ...(figures !== undefined ? { figures } : {}) };
    r.decisions.push(d);
    try {
      this.deps.audit.record({ token_name: by, role: by === 'coordinator' ? 'system' : role ?? r.created_by_role ?? 'operate', method: `rollout.${kind}`, params: { id: r.id, model: r.name, to: r.to, step: r.step }, outcome, remote: null, detail: { rollout: r.id, model: r.name, to: r.to, step: r.step, reason, figures } });
    } catch (e) { this.deps.log.error({ err: (e as Error).message }, 'audit write failed'); }
    this.deps.log.info({ rollout: r.id, model: r.name, to: r.to, step: r.step, kind, outcome }, reason);
    this.save(r);
  }

  private save(r: Rollout): void {
    r.updated_at = this.now();
    this.deps.store.save(r);
    this.emit('rollout', r);
  }
}
