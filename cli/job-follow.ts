// The long-running job commands: `job logs -f` and `job wait`. Push first (job.logs / job.events subscriptions);
// `wait` also polls job.get as a safety net, with backoff and never overlapping.
import type { AgentClient, Subscription } from '../shared/client/agent-client.js';
import type { Job, LogLine } from '../shared/protocol/jobs.js';
import { isTerminal } from './format/job.js';
import type { NodeConn } from './node-conn.js';

/** A job a command follows, with the connection of its node. */
export interface Followed { conn: NodeConn & { client: AgentClient }; job: Job }

/** Ctrl-C as an AbortSignal; dispose() removes the handler so the process can exit. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.once('SIGINT', onInt);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', onInt) };
}

/** Resolve when every followed job is terminal (or removed), the signal aborts, or a connection is lost. */
function untilAllTerminal(items: Followed[], signal: AbortSignal, onChange: (f: Followed) => void, pollMaxMs: number): { done: Promise<'done' | 'aborted' | 'lost'>; dispose(): Promise<void> } {
  const subs: Array<Subscription<'job.events'>> = [];
  let timer: NodeJS.Timeout | null = null;
  let finish: (r: 'done' | 'aborted' | 'lost') => void = () => undefined;
  let settled = false;
  const gone = new Set<Followed>();
  const allDone = () => items.every((f) => gone.has(f) || isTerminal(f.job));
  const done = new Promise<'done' | 'aborted' | 'lost'>((resolve) => {
    finish = (r) => { if (!settled) { settled = true; resolve(r); } };
  });
  const update = (f: Followed, job: Job) => {
    if (isTerminal(f.job) || (job.state === f.job.state && job.reason === f.job.reason)) { f.job = job; return; }
    f.job = job; onChange(f);
    if (allDone()) finish('done');
  };
  if (allDone()) finish('done');
  signal.addEventListener('abort', () => finish('aborted'), { once: true });

  const conns = [...new Set(items.map((f) => f.conn))];
  for (const c of conns) {
    c.client.on('state', (s: string) => { if (s === 'unreachable' || s === 'closed') if (!settled) finish('lost'); });
    // a change between finding the job and subscribing (or while reconnecting) is in a snapshot ({jobs}: the newest 500)
    const fromSnapshot = (jobs: readonly Job[]) => { for (const j of jobs) for (const f of items) if (f.conn === c && f.job.id === j.id) update(f, j); };
    c.client.subscribe('job.events', {}, (m) => {
      if (m.snapshot) { fromSnapshot(m.data.jobs); return; }
      const d = m.data;
      if ('job' in d) for (const f of items) { if (f.conn === c && f.job.id === d.job.id) update(f, d.job); }
      else for (const f of items) if (f.conn === c && f.job.id === d.removed && !isTerminal(f.job)) { gone.add(f); onChange(f); if (allDone()) finish('done'); }
    }).then((s) => {
      if (settled) { void s.close(); return; }
      subs.push(s);
      fromSnapshot(s.snapshot.jobs);
    }, () => { /* older agent: polling only */ });
  }

  // safety net: job.get with backoff (1 s doubling to pollMaxMs); one round at a time
  let delay = 1000;
  const poll = async () => {
    timer = null;
    for (const f of items) {
      if (settled || gone.has(f) || isTerminal(f.job)) continue;
      try { update(f, (await f.conn.client.call('job.get', { id: f.job.id })).job); } catch { /* the state handler reports a lost connection */ }
    }
    if (!settled) { delay = Math.min(pollMaxMs, delay * 2); timer = setTimeout(() => void poll(), delay); }
  };
  timer = setTimeout(() => void poll(), delay);

  return {
    done,
    dispose: async () => {
      finish('aborted');
      if (timer) clearTimeout(timer);
      await Promise.all(subs.map((s) => s.close().catch(() => undefined)));
    },
  };
}

/** Wait for jobs to finish. Returns how it ended; the jobs in `items` hold their last known state. */
export async function waitForJobs(items: Followed[], o: { timeoutMs: number | null; signal: AbortSignal; onChange?: (f: Followed) => void }): Promise<'done' | 'aborted' | 'lost' | 'timeout'> {
  const w = untilAllTerminal(items, o.signal, o.onChange ?? (() => undefined), 10_000);
  let t: NodeJS.Timeout | null = null;
  const timeout = new Promise<'timeout'>((r) => { if (o.timeoutMs !== null) t = setTimeout(() => r('timeout'), o.timeoutMs); });
  try {
    return await Promise.race([w.done, timeout]);
  } finally {
    if (t) clearTimeout(t);
    await w.dispose();
  }
}

/**
 * Follow the output of jobs until all are terminal (or Ctrl-C / a lost connection). Each line is handed to
 * `emit` with its job; the snapshot lines first (filtered by `sinceTs`), then live lines as they come.
 */
export async function followLogs(items: Followed[], o: { tail: number; sinceTs: number | null; signal: AbortSignal; emit: (f: Followed, l: LogLine) => void }): Promise<'done' | 'aborted' | 'lost'> {
  const subs: Array<Subscription<'job.logs'>> = [];
  try {
    for (const f of items) {
      const s = await f.conn.client.subscribe('job.logs', { id: f.job.id, tail: o.tail }, (m) => {
        if (m.snapshot) return; // a resubscribe snapshot would repeat lines already shown
        o.emit(f, m.data);
      });
      subs.push(s);
      for (const l of s.snapshot.lines) if (o.sinceTs === null || l.ts >= o.sinceTs) o.emit(f, l);
    }
    const w = untilAllTerminal(items, o.signal, () => undefined, 10_000);
    const r = await w.done;
    await w.dispose();
    // the final lines of a job may trail its last state change by a moment
    if (r === 'done') await new Promise((res) => setTimeout(res, 300));
    return r;
  } finally {
    await Promise.all(subs.map((s) => s.close().catch(() => undefined)));
  }
}
