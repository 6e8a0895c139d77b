// Automations of one agent: their CRUD, the triggers that start runs (drift alerts, ground-truth metrics, cron,
// auto.run), the storm guards (triggers.ts) and the tick that drives the runs (runner.ts).
//
// Invariants (concurrency):
// - a trigger is judged and its run row written in one synchronous block (guards read the store, then write): two
//   triggers can never both pass the in-flight guard of a model;
// - at most one step of a run is in flight (`busy`); the tick never overlaps itself for a run;
// - a run's new state is persisted (and audited) before the runner goes on to the effect it leads to;
// - after a restart every run not over is resumed where its last persisted state says (start()).
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { RpcError, AutomationSpec, isTerminalRun } from '../../shared/protocol/index.js';
import type { Automation, AutomationRun, AutomationSpecInput, DriftAlertEvent, RunTrigger } from '../../shared/protocol/index.js';
import type { AuditLog } from '../store/audit.js';
import type { Logger } from '../log.js';
import type { AutomationStore } from './store.js';
import { compare, cronMatches, foldInto, guard, parseCron, type Cron } from './triggers.js';
import type { ModelFiles, PerformanceSource, RunRunner } from './runner.js';

/** An alert about a run that ended badly (Alertmanager-style labels and annotations; the webhook sender maps it). */
/** Where run outcomes go (the Alertmanager webhook of alerts.webhook_url, agent/automation/webhook.ts; main.ts wires it). */
import type { AlertSink } from './webhook.js';
export type { AlertSink };
/** Drift alert events (the drift monitor). */
export interface DriftAlerts { on(e: 'alert', f: (x: DriftAlertEvent) => void): unknown; off(e: 'alert', f: (x: DriftAlertEvent) => void): unknown }

/** What the manager is built from (main.ts wires it). */
export interface AutomationManagerOptions {
  store: AutomationStore;
  runner: RunRunner;
  models: ModelFiles;
  audit: AuditLog;
  log: Logger;
  /** Node names the rollout may target (validation of `nodes`). */
  nodeNames: () => string[];
  drift?: DriftAlerts | null;
  performance?: PerformanceSource | null;
  alerts?: AlertSink | null;
  /** Run tick, ms (default 1000). */
  tickMs?: number;
  now?: () => number;
}

const newRunId = () => `r${randomBytes(5).toString('hex')}`;
const PERF_CHECK_MS = 5000;

/** Events: 'automation' (Automation), 'removed' (name), 'run' (AutomationRun) after each persisted change. */
export class AutomationManager extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  private readonly busy = new Map<string, Promise<unknown>>();
  private readonly crons = new Map<string, Cron>();
  private readonly perfChecked = new Map<string, number>();
  private lastMinute = -1;
  private disposed = false;
  private readonly now: () => number;
  private readonly onAlert = (e: DriftAlertEvent) => { if (e.type === 'raised') this.onDrift(e); };
  private readonly onLabels = (e: { name: string; version: string }) => this.onPerformance(e);

  constructor(private readonly o: AutomationManagerOptions) {
    super();
    this.setMaxListeners(0);
    this.now = o.now ?? Date.now;
  }

  /** Resume the runs in flight and listen to the triggers. */
  start(): void {
    for (const a of this.o.store.list()) this.cacheCron(a);
    this.o.drift?.on('alert', this.onAlert);
    this.o.performance?.on('labels', this.onLabels);
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000);
    this.timer.unref();
    this.tick();
  }

  /** Stop the triggers and the tick; resolves once the steps in flight have ended (the Lifecycle bounds the wait). */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.o.drift?.off('alert', this.onAlert);
    this.o.performance?.off('labels', this.onLabels);
    await Promise.allSettled([...this.busy.values()]);
  }

  // ---- API --------------------------------------------------------------------------------------------------

  create(raw: AutomationSpecInput, by: string): Automation {
    const spec = AutomationSpec.parse(raw);
    if (spec.trigger.kind === 'schedule') {
      try { parseCron(spec.trigger.cron); } catch (e) { throw new RpcError('INVALID_PARAMS', `trigger: ${(e as Error).message}`); }
    }
    if (spec.trigger.kind === 'drift' && !this.o.drift) throw new RpcError('INVALID_PARAMS', 'a drift trigger needs drift monitoring, which is off on this agent (drift.enabled)');
    if (spec.trigger.kind === 'performance' && !this.o.performance) throw new RpcError('INVALID_PARAMS', 'a performance trigger needs ground truth (model.feedback), which this agent does not have');
    for (const f of [spec.data?.file, spec.gate && spec.gate.test_set !== 'feedback' ? spec.gate.test_set.file : undefined]) {
      if (f && !existsSync(f)) throw new RpcError('INVALID_PARAMS', `no file ${f} on this agent's node (data and test-set files are read there)`);
    }
    const known = this.o.nodeNames();
    const unknown = (spec.nodes ?? []).filter((n) => !known.includes(n));
    if (unknown.length) throw new RpcError('INVALID_PARAMS', `unknown node ${unknown.join(', ')}: this agent knows ${known.join(', ')} (agent config peers)`);
    const now = this.now();
    const a: Automation = { name: spec.name, model: spec.model, state: 'active', spec, created_at: now, created_by: by, updated_at: now };
    if (!this.o.store.insert(a)) throw new RpcError('CONFLICT', `automation ${spec.name} exists (fleetml auto rm ${spec.name} first, or pick another name)`);
    this.cacheCron(a);
    this.emit('automation', a);
    return a;
  }

  get(name: string): Automation {
    const a = this.o.store.get(name);
    if (!a) throw new RpcError('NOT_FOUND', `no automation ${name} (see: fleetml auto list)`);
    return a;
  }

  list(model?: string): Automation[] { return this.o.store.list(model); }

  setState(name: string, state: Automation['state']): Automation {
    const a = { ...this.get(name), state, updated_at: this.now() };
    this.o.store.update(a);
    this.emit('automation', a);
    return a;
  }

  remove(name: string): boolean {
    const a = this.o.store.get(name);
    if (!a) return false;
    const busy = this.o.store.inFlight(a.model).find((r) => r.automation === name);
    if (busy) throw new RpcError('CONFLICT', `run ${busy.id} of ${name} is in flight (${busy.state}): wait for it to end, or abort its rollout`);
    const removed = this.o.store.remove(name);
    this.crons.delete(name);
    if (removed) this.emit('removed', name);
    return removed;
  }

  history(p: { name?: string; run?: string; limit: number }): AutomationRun[] {
    if (p.run) { const r = this.o.store.getRun(p.run); return r && (!p.name || r.automation === p.name) ? [r] : []; }
    if (p.name) this.get(p.name);
    return this.o.store.runs(p.name, p.limit);
  }

  /** auto.run: a manual trigger. */
  runNow(name: string, by: string, reason?: string): AutomationRun {
    const a = this.get(name);
    const ts = this.now();
    return this.fire(a, { kind: 'manual', detail: `by ${by}${reason ? `: ${reason}` : ''}`.slice(0, 1024), key: `manual:${ts}` });
  }

  // ---- triggers ---------------------------------------------------------------------------------------------

  private onDrift(e: DriftAlertEvent): void {
    for (const a of this.o.store.list(e.alert.name)) {
      if (a.spec.trigger.kind !== 'drift') continue;
      this.safeFire(a, { kind: 'drift', key: `drift:${e.alert.version}:${e.alert.id}`,
        detail: `drift alert ${e.alert.id}: ${e.alert.message}`.slice(0, 1024) });
    }
  }

  private onPerformance(e: { name: string; version: string }): void {
    const now = this.now();
    for (const a of this.o.store.list(e.name)) {
      const t = a.spec.trigger;
      if (t.kind !== 'performance' || a.state !== 'active') continue;
      if (this.o.models.serving(a.model) !== e.version) continue; // only the version that serves is judged
      if ((this.perfChecked.get(a.name) ?? 0) + PERF_CHECK_MS > now) continue; // a burst of labels is judged once
      this.perfChecked.set(a.name, now);
      let p;
      try { p = this.o.performance?.performance(e.name, e.version, now - t.window_s * 1000) ?? null; } catch (err) { this.o.log.warn({ automation: a.name, err: (err as Error).message }, 'performance read failed'); continue; }
      const v = p ? p[t.metric] : null;
      if (!p || v === null || p.labelled < t.min_labelled || !compare(v, t.op, t.bound)) continue;
      // the drop goes out as an alert too (Alertmanager webhook), whether or not a guard then suppresses the run
      void this.o.alerts?.send([{ kind: 'performance', model: a.model, version: e.version, metric: t.metric, value: v, bound: t.bound, direction: t.op.startsWith('<') ? 'below' : 'above', since: now - t.window_s * 1000, automation: a.name }]);
      this.safeFire(a, { kind: 'performance', key: `performance:${e.version}:${t.metric}${t.op}${t.bound}`,
        detail: `${t.metric} ${v.toFixed(4)} ${t.op} ${t.bound} over ${p.labelled} labelled rows of ${e.version} (last ${t.window_s}s)` });
    }
  }

  private checkCron(now: number): void {
    const minute = Math.floor(now / 60_000) * 60_000;
    if (minute === this.lastMinute) return;
    this.lastMinute = minute;
    for (const [name, c] of this.crons) {
      if (!cronMatches(c, minute)) continue;
      const a = this.o.store.get(name);
      if (a) this.safeFire(a, { kind: 'schedule', key: `schedule:${new Date(minute).toISOString()}`, detail: `cron "${c.text}" at ${new Date(minute).toISOString()}` });
    }
  }

  private cacheCron(a: Automation): void {
    if (a.spec.trigger.kind !== 'schedule') return;
    try { this.crons.set(a.name, parseCron(a.spec.trigger.cron)); } catch (e) { this.o.log.warn({ automation: a.name, err: (e as Error).message }, 'stored cron expression does not parse'); }
  }

  private safeFire(a: Automation, t: RunTrigger): void {
    try { this.fire(a, t); } catch (e) { this.o.log.error({ automation: a.name, err: e }, 'a trigger could not be recorded'); }
  }

  /**
   * Judge a trigger and record it: a queued run, or a suppressed one with the guard's reason (folded into the previous
   * suppressed row when it is the same trigger stopped by the same guard). Synchronous: see the invariants above.
   */
  private fire(a: Automation, trigger: RunTrigger): AutomationRun {
    const now = this.now();
    const s = a.spec;
    const recent = this.o.store.runsSince(a.name, now - Math.max(s.cooldown_s, s.max_runs.window_s) * 1000);
    const v = guard({ trigger, paused: a.state === 'paused', inFlight: this.o.store.inFlight(a.model), recent, cooldownS: s.cooldown_s, maxRuns: s.max_runs, now });
    if (!v.run) {
      const fold = foldInto(recent, trigger, v);
      const run: AutomationRun = fold
        ? { ...fold, repeats: fold.repeats + 1, updated_at: now }
        : this.newRun(a, trigger, 'suppressed', v.reason, now);
      this.save(a, run, !fold);
      this.o.log.info({ automation: a.name, trigger: trigger.key, reason: v.reason }, 'trigger suppressed');
      return run;
    }
    const run = this.newRun(a, trigger, 'queued', trigger.detail, now);
    this.save(a, run, true);
    this.o.log.info({ automation: a.name, run: run.id, trigger: trigger.key }, 'automation run queued');
    queueMicrotask(() => this.drive(run.id));
    return run;
  }

  private newRun(a: Automation, trigger: RunTrigger, state: 'queued' | 'suppressed', reason: string, now: number): AutomationRun {
    return {
      id: newRunId(), automation: a.name, model: a.model, trigger, state, reason: reason.slice(0, 4096),
      parent_version: state === 'queued' ? this.o.models.serving(a.model) : null,
      job_id: null, version: null, rollout_id: null, data_digest: null, data_source: null, metrics: null, repeats: 0,
      created_at: now, updated_at: now, finished_at: state === 'suppressed' ? now : null,
      history: [{ ts: now, state, reason: reason.slice(0, 4096) }],
    };
  }

  /** Persist a run (before anything it leads to), audit the step, publish it; a run that ended badly is alerted on. */
  private save(a: Automation, run: AutomationRun, audit = true): void {
    this.o.store.putRun(run);
    if (audit) {
      try {
        this.o.audit.record({ token_name: `automation:${a.name}`, role: 'admin', method: 'auto.step', params: { run: run.id, state: run.state }, outcome: 'ok', remote: null,
          detail: { run: run.id, automation: a.name, state: run.state, reason: run.reason, trigger: run.trigger.key, job: run.job_id, version: run.version, rollout: run.rollout_id } });
      } catch (e) { this.o.log.error({ err: e, run: run.id }, 'audit write failed'); }
    }
    this.emit('run', run);
    // a run that ended badly fires an alert; a later success on the same parent version resolves it (webhook.ts)
    if ((run.state === 'failed' || run.state === 'rolled_back' || run.state === 'succeeded') && this.o.alerts && run.parent_version) {
      void this.o.alerts.send([{
        kind: 'automation_run', run_id: run.id, automation: a.name, model: a.model, version: run.parent_version, state: run.state,
        reason: run.reason ?? run.state, started_at: run.created_at, ended_at: run.finished_at ?? run.updated_at, new_version: run.version,
      }]);
    }
  }

  // ---- the tick ---------------------------------------------------------------------------------------------

  private tick(): void {
    if (this.disposed) return;
    try {
      this.checkCron(this.now());
      for (const r of this.o.store.inFlight()) this.drive(r.id);
    } catch (e) { this.o.log.error({ err: e }, 'automation tick failed'); }
  }

  /** Advance one run unless a step of it is in flight already. */
  private drive(id: string): void {
    if (this.disposed || this.busy.has(id)) return;
    const run = this.o.store.getRun(id);
    if (!run || isTerminalRun(run)) return;
    const a = this.o.store.get(run.automation);
    if (!a) return;
    const p = this.o.runner.advance(a, run, (r) => this.save(a, r))
      .catch((e) => this.o.log.error({ run: id, err: e }, 'automation run step failed'))
      .finally(() => this.busy.delete(id));
    this.busy.set(id, p);
  }
}
