import { z } from 'zod';
import type { JobSpec } from '../../../shared/protocol/jobs.js';
import { logDetach, type Driver, type DriverCapabilities, type LogDetach, type LogSink, type TaskConfig, type TaskExit, type TaskHandle } from '../driver.js';
import { parseFakeScript, splitSteps, type FakeTimeline } from './fake-script.js';

// The documented fake driver for tests, demos and benchmarks: no process, no files — spec.command is a tiny
// script (fake-script.ts) whose timeline is computed from the command alone. The handle stores the start time
// and the command, so everything is derived from (startedAt, command):
//
//   start    handle.state = { startedAt, command }            (failStart may refuse, to test start failures)
//   wait     resolves at startedAt + endMs (at once if that is past) with the script's exit
//   stop     ends it now: exit 143 / SIGTERM (grace > 0) or 137 / SIGKILL (grace 0); no-op once ended.
//            Recorded in handle.state (stoppedAt, stopCode) and in this instance.
//   recover  true for any well-formed handle: a new instance (an "agent restart") computes the same exit
//   logs     echo lines at startedAt + atMs; lines at or before sinceTs are skipped on a re-attach
//   destroy  stops a task that still runs (137); idempotent
// Lines that share a time are delivered together, so sinceTs = the last delivered ts never splits a group.

/** Options of FakeDriver (all optional). */
export interface FakeDriverOptions {
  /** Return a reason to make start() fail (simulates a refused start); default: never fails. */
  failStart?: (cfg: TaskConfig) => string | null;
}

/** handle.state of a fake task. */
export const FakeHandleState = z.object({
  startedAt: z.number(),
  command: z.array(z.string()),
  stoppedAt: z.number().optional(),
  stopCode: z.number().int().optional(),
});
export type FakeHandleState = z.infer<typeof FakeHandleState>;

interface Waiter { promise: Promise<TaskExit>; resolve: (e: TaskExit) => void; timer: NodeJS.Timeout | null }

/** setTimeout's largest delay (about 24.8 days). */
const MAX_DELAY_MS = 2 ** 31 - 1;
const taskKey = (h: TaskHandle) => `${h.jobId}:${h.attempt}`;

/** A driver that does no real work: sleeps, prints and exits as its script says, deterministically. */
export class FakeDriver implements Driver {
  readonly name = 'fake' as const;
  readonly capabilities: DriverCapabilities = { gpus: true, mounts: true, network: true, oomDetection: true, survivesAgentRestart: true, externalQueue: false };

  private readonly waiters = new Map<string, Waiter>();
  /** Stops seen by this instance (a caller may hold a copy of the handle without stoppedAt). */
  private readonly stopped = new Map<string, { at: number; code: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private disposed = false;

  constructor(private readonly options: FakeDriverOptions = {}) {}

  /** Always available. */
  async fingerprint(): Promise<{ available: boolean; reason: string | null }> {
    return { available: true, reason: null };
  }

  /** Only an empty script is refused; unknown words run and exit 127, as a missing program would. */
  async validate(spec: JobSpec): Promise<string | null> {
    return splitSteps(spec.command).length === 0 ? 'the fake driver needs a script, e.g. ["sleep", "1", "&&", "exit", "0"]' : null;
  }

  /** Record the start time; nothing runs. */
  async findStarted(): Promise<TaskHandle | null | 'unknown'> {
    return null; // the fake has no side effects: an attempt without a saved handle can safely run again
  }

  async start(cfg: TaskConfig): Promise<TaskHandle> {
    if (this.disposed) throw new Error('fake driver disposed');
    const reason = this.options.failStart?.(cfg) ?? null;
    if (reason) throw new Error(reason);
    const state: FakeHandleState = { startedAt: Date.now(), command: [...cfg.spec.command] };
    return { driver: 'fake', jobId: cfg.jobId, attempt: cfg.attempt, state };
  }

  /** Resolves when the script ends (or is stopped). Pending waits stay pending after dispose(). */
  wait(handle: TaskHandle): Promise<TaskExit> {
    const st = this.decode(handle);
    if (!st) return Promise.resolve(invalidExit(handle));
    const k = taskKey(handle);
    const existing = this.waiters.get(k);
    if (existing) return existing.promise;
    let resolve!: (e: TaskExit) => void;
    const w: Waiter = { promise: new Promise((r) => { resolve = r; }), resolve: (e) => resolve(e), timer: null };
    this.waiters.set(k, w);
    const check = () => {
      w.timer = null;
      const { end, exit } = this.outcome(handle, st);
      const left = end - Date.now();
      if (left <= 0) this.settle(k, exit);
      else if (!this.disposed) w.timer = this.later(check, left);
    };
    check();
    return w.promise;
  }

  /** End a running task now: 143 (SIGTERM) when grace > 0, else 137 (SIGKILL). Idempotent. */
  async stop(handle: TaskHandle, graceS: number): Promise<void> {
    const st = this.decode(handle);
    if (!st) return;
    const now = Date.now();
    if (this.outcome(handle, st).end <= now) return; // already ended (naturally or by an earlier stop)
    const code = graceS > 0 ? 143 : 137;
    this.stopped.set(taskKey(handle), { at: now, code });
    handle.state.stoppedAt = now;
    handle.state.stopCode = code;
    this.settle(taskKey(handle), this.outcome(handle, st).exit);
    for (const kick of this.logPumps.get(taskKey(handle)) ?? []) kick(); // attachments see the end now
  }

  /** Pumps of the live log attachments per task, run by stop() so that an early end drains them at once. */
  private readonly logPumps = new Map<string, Set<() => void>>();

  /** Running, or the exit it has (had). */
  async inspect(handle: TaskHandle): Promise<{ running: boolean; exit: TaskExit | null }> {
    const st = this.decode(handle);
    if (!st) return { running: false, exit: invalidExit(handle) };
    const { end, exit } = this.outcome(handle, st);
    return end > Date.now() ? { running: true, exit: null } : { running: false, exit };
  }

  /** Any well-formed handle can be recovered: its fate is computed, not observed. */
  async recover(handle: TaskHandle): Promise<boolean> {
    return this.decode(handle) !== null;
  }

  /** Emit the script's output lines at their times (past ones at once), skipping ts ≤ sinceTs and lines after a stop. */
  attachLogs(handle: TaskHandle, sink: LogSink, sinceTs?: number): LogDetach {
    const st = this.decode(handle);
    if (!st || this.disposed) return logDetach(() => {}, Promise.resolve());
    const byTime = new Map<number, FakeTimeline['lines']>();
    for (const l of parseFakeScript(st.command).lines) {
      const ts = st.startedAt + l.atMs;
      if (sinceTs !== undefined && ts <= sinceTs) continue;
      byTime.set(ts, [...(byTime.get(ts) ?? []), l]);
    }
    const times = [...byTime.keys()].sort((x, y) => x - y);
    let next = 0;
    let timer: NodeJS.Timeout | null = null;
    // One timer per attachment, chained from one due time to the next.
    const pump = () => {
      timer = null;
      const end = this.outcome(handle, st).end;
      while (next < times.length && times[next] <= Date.now()) {
        const ts = times[next++];
        if (ts > end) continue; // a stop came first: the "process" never printed these
        for (const l of byTime.get(ts) ?? []) {
          try { sink(l.stream, l.line, ts); } catch { /* the sink's failure must not stop the other lines */ }
        }
      }
      // Ended (naturally or stopped): the lines due after the end are never printed, so all is delivered.
      if (end <= Date.now() || next >= times.length || this.disposed) { next = times.length; drained(); return; }
      timer = this.later(pump, Math.min(times[next], end) - Date.now());
    };
    const tk = taskKey(handle);
    let pumps = this.logPumps.get(tk);
    if (!pumps) this.logPumps.set(tk, (pumps = new Set()));
    const kick = () => { if (timer) { clearTimeout(timer); this.timers.delete(timer); } pump(); };
    pumps.add(kick);
    let drained!: () => void;
    const done = new Promise<void>((r) => { drained = r; });
    void done.then(() => { pumps!.delete(kick); if (pumps!.size === 0) this.logPumps.delete(tk); });
    timer = this.later(pump, 0);
    return logDetach(() => {
      if (timer) { clearTimeout(timer); this.timers.delete(timer); }
      timer = null;
      next = times.length;
      drained();
    }, done);
  }

  /** Stop (SIGKILL) if still running; nothing else to free. */
  async destroy(handle: TaskHandle): Promise<void> {
    await this.stop(handle, 0);
  }

  /** Clear every timer. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiters.clear();
    for (const set of [...this.logPumps.values()]) for (const kick of [...set]) kick(); // each drains (disposed)
  }

  /** When the task ends (ms epoch) and how, from the script and any stop. */
  private outcome(handle: TaskHandle, st: FakeHandleState): { end: number; exit: TaskExit } {
    const tl = parseFakeScript(st.command);
    const natural = st.startedAt + tl.endMs;
    const stop = this.stopped.get(taskKey(handle)) ?? (st.stoppedAt !== undefined && st.stopCode !== undefined ? { at: st.stoppedAt, code: st.stopCode } : null);
    if (stop && stop.at < natural) {
      return { end: stop.at, exit: { exitCode: stop.code, signal: stop.code === 137 ? 'SIGKILL' : 'SIGTERM', oomKilled: false, error: null } };
    }
    return { end: natural, exit: { exitCode: tl.exitCode, signal: tl.oomKilled ? 'SIGKILL' : null, oomKilled: tl.oomKilled, error: null } };
  }

  private settle(k: string, exit: TaskExit): void {
    const w = this.waiters.get(k);
    if (!w) return;
    if (w.timer) { clearTimeout(w.timer); this.timers.delete(w.timer); }
    this.waiters.delete(k);
    w.resolve(exit);
  }

  /** A tracked timer (cleared by dispose); delays are capped at setTimeout's limit, callers re-check the time. */
  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, Math.min(Math.max(0, ms), MAX_DELAY_MS));
    this.timers.add(t);
    return t;
  }

  private decode(handle: TaskHandle): FakeHandleState | null {
    const r = FakeHandleState.safeParse(handle.state);
    return r.success ? r.data : null;
  }
}

function invalidExit(handle: TaskHandle): TaskExit {
  return { exitCode: null, signal: null, oomKilled: false, error: `malformed fake handle for job ${handle.jobId}` };
}
