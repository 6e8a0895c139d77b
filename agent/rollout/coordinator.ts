/**
 * The rollout coordinator: runs the rollouts this agent was asked to start, driving every target node (itself
 * included) through the public API — model.alias, model.stats, model.evaluate, drift.compare — by a NodeCaller
 * (agent/cluster/peers.ts, built by agent/main.ts: its own node through the same dispatcher, audited the same way).
 * This file holds the state machine, the tick and the per-rollout lock; planning is start.ts, measuring analysis.ts,
 * routing changes effects.ts, judging plan.ts.
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
import { RpcError, TestSet, isTerminalRollout, rolloutAllows, rolloutGatePassed } from '../../shared/protocol/index.js';
import type { Rollout, RolloutDecision } from '../../shared/protocol/index.js';
import type { AuditLog } from '../store/audit.js';
import type { Logger } from '../log.js';
import type { NodeCaller } from '../cluster/peers.js';
import { analyse, runGate, snapshot } from './analysis.js';
import { applyWeights, restoreRouting, taggedCall } from './effects.js';
import { judgeStep } from './plan.js';
import { planRollout } from './start.js';
import type { RolloutStore } from './store.js';
import type { TestSetUploads } from './test-set-uploads.js';
import type { DecisionKind, FiguresOf, NodeCall } from './types.js';

/** Dependencies of the coordinator (built by agent/main.ts). */
export interface RolloutCoordinatorDeps {
  store: RolloutStore; audit: AuditLog; log: Logger;
  /** The nodes it drives: its own and its peers. */
  nodes: NodeCaller;
  /** Test sets staged by rollout.uploadTestSet (gate.test_set_id); without it only inline test sets are taken. */
  testSets?: TestSetUploads;
  /** models.gpu_load_min_bytes: the least GPU memory the pre-flight expects one CUDA load to need. */
  gpuLoadMinBytes?: number;
  gpuPreflightSimulated?: boolean;
  /** Tick period (ms). Default 500. */
  tickMs?: number;
  now?: () => number;
}

export class RolloutCoordinator extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  private locks = new Map<string, Promise<void>>();
  private disposed = false;
  private readonly now: () => number;
  private readonly call: NodeCall;

  constructor(private readonly deps: RolloutCoordinatorDeps) {
    super();
    this.now = deps.now ?? Date.now;
    this.call = taggedCall(deps.nodes);
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

  /**
   * Stops ticking and resolves once every locked task in flight (a tick's step or an API call) has finished, so the
   * caller may close the store right after. New API calls are refused from here on.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // a task may chain another on the same rollout while we wait: wait until none is left
    while (this.locks.size) await Promise.all([...this.locks.values()].map((p) => p.catch(() => undefined)));
  }

  // ------------------------------------------------------------ API

  /** rollout.start: plan (dry run answers the plan), then persist and run. */
  async startRollout(raw: unknown, by: string, role = 'operate'): Promise<Rollout> {
    this.refuseIfDisposed();
    const { rollout: r, testSet, plan, names } = await planRollout(raw, by, role, { nodes: this.deps.nodes, active: () => this.deps.store.active(), now: this.now(), testSets: this.deps.testSets, gpuLoadMinBytes: this.deps.gpuLoadMinBytes, gpuPreflightSimulated: this.deps.gpuPreflightSimulated });
    const spec = r.spec;
    if (r.state === 'planned') { r.decisions.push({ ts: r.created_at, step: -1, kind: 'plan', outcome: 'info', reason: 'dry run: nothing changed', by }); return r; }
    // The test set is kept apart from the document (rewritten on every change); the document keeps its size.
    if (testSet) this.deps.store.saveWithTestSet(r, testSet);
    // a staged test set is now stored with the rollout: its memory is freed
    const staged = (raw as { gate?: { test_set_id?: string } } | null)?.gate?.test_set_id;
    if (staged) this.deps.testSets?.release(staged);
    this.decide(r, 'plan', 'info', `${spec.strategy} of ${spec.name} ${spec.to} on ${names.join(', ')}: ${plan.map((s) => s.note).join(' → ')}${spec.reason ? ` (${spec.reason})` : ''}`, by, { plan, warnings: r.warnings }, role);
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
      if (!rolloutAllows(r, 'pause')) throw new RpcError('CONFLICT', `rollout ${id} is ${r.state}: only a running rollout can be paused`);
      r.state = 'paused';
      this.decide(r, 'pause', 'info', reason ?? 'paused by hand', by, undefined, role);
    });
  }

  async resume(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (!rolloutAllows(r, 'resume')) throw new RpcError('CONFLICT', `rollout ${id} is ${r.state}: only a paused rollout can be resumed`);
      r.state = this.gatePassed(r) ? 'running' : 'gating';
      r.step_started_at = null; r.waits = 0;
      // re-apply every node's routing (a node that was away may have restarted without its shadow copy)
      for (const n of r.nodes) if (n.state !== 'skipped') { n.state = 'pending'; n.error = null; }
      this.decide(r, 'resume', 'info', reason ?? `resumed by hand at step ${r.step + 1}`, by, undefined, role);
    });
  }

  private gatePassed(r: Rollout): boolean { return rolloutGatePassed(r); }

  async promote(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (r.state !== 'running' && r.state !== 'paused') throw new RpcError('CONFLICT', `rollout ${id} is ${r.state}: only a running or paused rollout can be promoted`);
      if (!this.gatePassed(r)) throw new RpcError('CONFLICT', `rollout ${id} has not passed its test gate: the candidate cannot be promoted before it does`);
      await applyWeights(r, Object.fromEntries(r.nodes.map((n) => [n.name, 100])), by, `promoted by hand${reason ? `: ${reason}` : ''}`, this.call, (x) => this.save(x));
      r.state = 'promoted';
      for (const n of r.nodes) if (n.state !== 'skipped') n.state = 'done';
      this.decide(r, 'promote', 'ok', reason ?? 'promoted by hand: every node serves the candidate', by, undefined, role);
    });
  }

  async abort(id: string, by: string, reason?: string, role = 'operate'): Promise<Rollout> {
    return this.withRollout(id, async (r) => {
      if (isTerminalRollout(r)) throw new RpcError('CONFLICT', `rollout ${id} is already ${r.state}`);
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
    const errors = await restoreRouting(r, by, reason, this.call);
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
    this.refuseIfDisposed();
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

  private refuseIfDisposed(): void {
    if (this.disposed) throw new RpcError('UNAVAILABLE', 'the agent is shutting down: try again once it is back');
  }

  // ------------------------------------------------------------ the loop

  private tick(): void {
    if (this.disposed) return;
    let active: Rollout[];
    try { active = this.deps.store.active(); } catch (e) { this.deps.log.error({ err: (e as Error).message }, 'reading the active rollouts failed'); return; }
    for (const r0 of active) {
      if (r0.state === 'paused' || this.locks.has(r0.id)) continue;
      // the document is read again under the lock: an API call may have changed it since
      this.exclusive(r0.id, async () => { const r = this.get(r0.id); if (r.state !== 'paused' && !isTerminalRollout(r)) await this.advance(r); })
        .catch((e) => this.deps.log.error({ err: (e as Error).message, rollout: r0.id }, 'rollout step failed'));
    }
  }

  private async advance(r: Rollout): Promise<void> {
    const spec = r.spec;
    try {
      if (r.state === 'rolling_back') return await this.finishRestore(r, 'coordinator', `rollout ${r.id} rolled back`);
      if (r.state === 'aborting') return await this.finishRestore(r, 'coordinator', `rollout ${r.id} aborted`);
      if (r.state === 'gating') return await this.gate(r);
      if (r.state !== 'running') return;
      const step = r.plan[r.step];
      if (r.step_started_at === null) {
        await applyWeights(r, step.weights, r.created_by, `rollout ${r.id} step ${r.step + 1}/${r.plan.length}: ${step.note}`, this.call, (x) => this.save(x));
        r.step_started_at = this.now(); r.waits = 0;
        // bookkeeping of the coordinator (its own column): the counters the step's analysis subtracts
        this.deps.store.setBaseline(r.id, await snapshot(r, this.call));
        this.decide(r, 'step', 'ok', `step ${r.step + 1} of ${r.plan.length}: ${step.note}`, r.created_by, { weights: step.weights });
        return;
      }
      const due = r.step_started_at + spec.step_duration_s * 1000 * (1 + r.waits);
      if (this.now() < due) return;
      const figures = await analyse(r, spec, this.deps.store.baseline(r.id) ?? {}, this.call);
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
          await restoreRouting(r, 'coordinator', `rollout ${r.id}: shadow test passed, copies stopped`, this.call);
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
      if (node) { const n = r.nodes.find((x) => x.name === node); if (n) { n.state = 'unreachable'; n.error = msg.slice(0, 4096); } }
      r.state = 'paused';
      this.decide(r, 'pause', 'fail', `${node ? `node ${node} unreachable or failing` : 'error'}: ${msg}; paused (fleetml rollout resume ${r.id} once it is back, or abort)`, 'coordinator');
    }
  }

  /** The test gate: passed → running, else failed (the candidate never served). */
  private async gate(r: Rollout): Promise<void> {
    const g = r.spec.gate!;
    const stored = this.deps.store.testSet(r.id);
    const testSet = stored === null ? null : TestSet.safeParse(stored);
    if (!testSet?.success) { r.state = 'failed'; this.decide(r, 'gate', 'fail', `the test set of this rollout is ${testSet ? 'unreadable in' : 'missing from'} the store`, 'coordinator'); return; }
    const v = await runGate(r, g, testSet.data, this.call, this.deps.nodes.self);
    r.state = v.pass ? 'running' : 'failed';
    this.decide(r, 'gate', v.pass ? 'pass' : 'fail', v.reason, 'coordinator', v.figures);
  }

  // ------------------------------------------------------------ records

  /** Appends a decision, writes its audit row (who, why, the figures) and saves the rollout. */
  private decide<K extends DecisionKind>(r: Rollout, kind: K, outcome: RolloutDecision['outcome'], reason: string, by: string, figures?: FiguresOf<K>, role?: string): void {
    // what is written must read back: the reason (which may quote a peer's error) is cut to the schema's bound
    reason = reason.length > 65_536 ? `${reason.slice(0, 65_535)}…` : reason;
    const d = { ts: this.now(), step: r.step, kind, outcome, reason, by, ...(figures !== undefined ? { figures } : {}) } as RolloutDecision;
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
