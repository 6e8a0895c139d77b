// 9. slurm — submit-to-running (and to finished) latency of a job through the slurm driver, against `sbatch` of
// the same command measured in the same run on the same Slurm cluster (the one-node test cluster of
// scripts/slurm-cluster.sh, or whatever cluster the commands on PATH reach).
//
// Rows, interleaved (one of each per round, the order rotated every round, one unreported warm-up round):
//   baseline   `sbatch --parsable` of a script running the same command with the driver's own options
//              (--export=NONE --nodes=1 --ntasks=1, --output/--error to files), then `squeue -h -t all -j ID -o %T`
//              every SQUEUE_EVERY_MS (after each answer, never overlapping) until RUNNING, then until COMPLETED.
//   agent      job.submit {driver: slurm} over the WebSocket client to a real agent process; "running" and
//              "finished" are the arrivals of the job's running and terminal events on job.events (push, no polling).
//              One agent with the default jobs.slurm.poll_ms (1000) and one with a lower one (200), so the table
//              shows what the knob costs. For agent jobs a side observer polls squeue as the baseline does, so the
//              agent's time splits into Slurm's part (until squeue says RUNNING) and the agent's detection lag.
// t0 is just before sbatch / job.submit. Every Slurm job this bench submitted is cancelled at the end (no-op for
// the finished ones). Without a running cluster the section is skipped with the reason.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../scripts/lib/agent-process.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { TERMINAL_STATES, type Job } from '../shared/protocol/index.js';
import { packageRoot } from '../shared/util/package-root.js';
import { fmt, freePort, percentile, sleep, table } from './util.js';

/** The job every row runs: long enough that a 1 s poll always sees it running. */
const COMMAND = ['sleep', '2'];
/** Interval of the baseline's (and the side observer's) squeue loop. */
const SQUEUE_EVERY_MS = 50;
/** Longest wait for one job to run and finish. */
const WAIT_MS = 60_000;

/** Wall clock with sub-ms resolution, comparable across processes on the same machine. */
const wallNow = () => performance.timeOrigin + performance.now();

/** Run a command to its exit; stdout, or a rejection with its stderr. */
function cmd(file: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => execFile(file, args, { timeout: timeoutMs }, (e, stdout, stderr) =>
    (e ? reject(new Error(`${file} ${args.join(' ')}: ${String(stderr).trim() || e.message}`)) : resolve(String(stdout)))));
}

/** Null when a Slurm cluster answers (scripts/slurm-cluster.sh status, then squeue); else why the section is skipped. */
export async function slurmProblem(): Promise<string | null> {
  const status = await cmd('bash', [join(packageRoot(), 'scripts', 'slurm-cluster.sh'), 'status']).then((s) => ({ ok: true, s }), (e: Error) => ({ ok: false, s: e.message }));
  if (!status.ok) return `no Slurm cluster running (${status.s.trim().split('\n').pop()}); start the test cluster: bash scripts/slurm-cluster.sh start`;
  const q = await cmd('squeue', ['-h', '-o', '%i']).then(() => null, (e: Error) => e.message);
  return q ? `squeue does not answer (${q}); check slurmctld: bash scripts/slurm-cluster.sh status` : null;
}

/** Slurm's state of a job (squeue, all states), '' when it does not list it. */
const squeueState = async (id: string) => (await cmd('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T']).catch(() => '')).trim();

/** Poll squeue until the job's state is `want` (or one after it); the wall time it was first seen. */
async function untilSlurm(id: string, want: 'RUNNING' | 'COMPLETED', deadline: number): Promise<number> {
  const before = want === 'RUNNING' ? ['', 'PENDING', 'CONFIGURING'] : ['', 'PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING'];
  for (;;) {
    const s = await squeueState(id);
    const at = wallNow();
    if (s && !before.includes(s)) {
      if (s !== want && !(want === 'RUNNING' && ['COMPLETING', 'COMPLETED'].includes(s))) throw new Error(`Slurm job ${id} is ${s}, waiting for ${want}`);
      return at;
    }
    if (Date.now() > deadline) throw new Error(`Slurm job ${id} still ${s || 'unlisted'} after ${WAIT_MS} ms, waiting for ${want}`);
    await sleep(SQUEUE_EVERY_MS);
  }
}

/** One measured run, ms from t0. slurm*: when squeue first said RUNNING / COMPLETED (the side observer for agent rows). */
interface Sample { acceptedMs: number; runningMs: number; finishedMs: number; slurmRunningMs: number; slurmFinishedMs: number }

/** First arrival (client wall clock) of each state of each job on job.events, and the Slurm id once it is known. */
class JobWatcher {
  private seen = new Map<string, { at: Map<string, number>; job: Job | null }>();
  onEvent(job: Job): void {
    let s = this.seen.get(job.id);
    if (!s) this.seen.set(job.id, (s = { at: new Map(), job: null }));
    if (!s.at.has(job.state)) s.at.set(job.state, wallNow());
    s.job = job;
  }
  /** Polls the buffer (2 ms): events may arrive before job.submit answers. */
  async until(id: string, pred: (at: Map<string, number>, job: Job) => number | undefined, deadline: number): Promise<number> {
    for (;;) {
      const s = this.seen.get(id);
      const hit = s?.job ? pred(s.at, s.job) : undefined;
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`job ${id}: still ${s?.job?.state ?? 'unseen'} after ${WAIT_MS} ms (${s?.job?.reason ?? ''})`);
      await sleep(2);
    }
  }
  job(id: string): Job | null { return this.seen.get(id)?.job ?? null; }
  forget(id: string): void { this.seen.delete(id); }
}

const terminalAt = (at: Map<string, number>) => [...at.entries()].find(([k]) => (TERMINAL_STATES as readonly string[]).includes(k))?.[1];

/** Every Slurm job id the bench submitted, cancelled at the end. */
const submitted = new Set<string>();

async function sbatchRun(script: string, dir: string): Promise<Sample> {
  const t0 = wallNow();
  const deadline = Date.now() + WAIT_MS;
  const out = await cmd('sbatch', ['--parsable', '--export=NONE', '--nodes=1', '--ntasks=1', '--job-name=fleetml-bench',
    `--output=${dir}/%j.out`, `--error=${dir}/%j.err`, `--chdir=${dir}`, script]);
  const acceptedMs = wallNow() - t0;
  const id = out.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${out.slice(0, 200)}`);
  submitted.add(id);
  const running = await untilSlurm(id, 'RUNNING', deadline);
  const finished = await untilSlurm(id, 'COMPLETED', deadline);
  return { acceptedMs, runningMs: running - t0, finishedMs: finished - t0, slurmRunningMs: running - t0, slurmFinishedMs: finished - t0 };
}

async function agentRun(c: AgentClient, w: JobWatcher): Promise<Sample> {
  const t0 = wallNow();
  const deadline = Date.now() + WAIT_MS;
  const { job } = await c.call('job.submit', { spec: { driver: 'slurm', command: COMMAND, name: 'fleetml-bench' } });
  const acceptedMs = wallNow() - t0;
  try {
    // the side observer: Slurm's own view of the same job, polled as the baseline polls it
    const slurmId = String(await w.until(job.id, (_, j) => (j.slurm?.job_id ? Number(j.slurm.job_id) : undefined), deadline));
    submitted.add(slurmId);
    const [[slurmRunning, slurmFinished], running] = await Promise.all([
      untilSlurm(slurmId, 'RUNNING', deadline).then(async (r) => [r, await untilSlurm(slurmId, 'COMPLETED', deadline)]),
      w.until(job.id, (at, j) => { if (terminalAt(at) !== undefined && !at.has('running')) throw new Error(`job ${j.id} ended ${j.state} without running: ${j.reason ?? ''}`); return at.get('running'); }, deadline),
    ]);
    const finished = await w.until(job.id, terminalAt, deadline);
    const end = w.job(job.id);
    if (end?.state !== 'succeeded') throw new Error(`job ${job.id} ended ${end?.state}: ${end?.reason ?? ''}`);
    return { acceptedMs, runningMs: running - t0, finishedMs: finished - t0, slurmRunningMs: slurmRunning - t0, slurmFinishedMs: slurmFinished - t0 };
  } finally {
    await c.call('job.remove', { id: job.id }).catch(() => undefined);
    w.forget(job.id);
  }
}

/** A real agent with only the slurm driver; pollMs null = the default jobs.slurm.poll_ms. */
async function slurmAgent(dir: string, name: string, pollMs: number | null): Promise<{ agent: AgentProcess; client: AgentClient; watcher: JobWatcher }> {
  const config = join(dir, `${name}.yaml`);
  // YAML is JSON
  writeFileSync(config, JSON.stringify({ jobs: { drivers: ['slurm'], slurm: { work_dir: join(dir, `${name}-work`), ...(pollMs === null ? {} : { poll_ms: pollMs }) } } }));
  const agent = await spawnAgent({ dataDir: join(dir, name), port: await freePort(), name, args: ['--config', config, '--gpu-source', 'none'] });
  const client = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 60_000 });
  await client.connect();
  const watcher = new JobWatcher();
  await client.subscribe('job.events', {}, (m) => { if (!m.snapshot && 'job' in m.data) watcher.onEvent(m.data.job); });
  return { agent, client, watcher };
}

/** Runs per row: FLEETML_BENCH_SLURM_RUNS, else the caller's (10 by default, 1..100). */
export function slurmRuns(fallback = 10): number {
  const n = Number(process.env.FLEETML_BENCH_SLURM_RUNS ?? fallback);
  return Math.max(1, Math.min(100, Number.isFinite(n) ? Math.floor(n) : fallback));
}

/**
 * Baseline sbatch + squeue vs job.submit through two agents (poll_ms default 1000 and `fastPollMs`, default
 * FLEETML_BENCH_SLURM_POLL_MS or 200), `runs` rounds (default slurmRuns()) after one warm-up round; the printed table, or why it skipped.
 */
export async function runSlurmBench(o: { runs?: number; fastPollMs?: number } = {}): Promise<string> {
  const why = await slurmProblem();
  if (why) return `skipped: ${why}`;
  const runs = o.runs === undefined ? slurmRuns() : Math.max(1, Math.min(100, Math.floor(o.runs)));
  const fastPoll = o.fastPollMs ?? Number(process.env.FLEETML_BENCH_SLURM_POLL_MS ?? 200);
  if (!Number.isInteger(fastPoll) || fastPoll < 100) throw new Error(`FLEETML_BENCH_SLURM_POLL_MS must be an integer ≥ 100 (jobs.slurm.poll_ms's minimum), got ${fastPoll}`);
  const dir = mkdtempSync(join(tmpdir(), 'fleetml-bench-slurm-'));
  const script = join(dir, 'job.sh');
  writeFileSync(script, `#!/bin/sh\n${COMMAND.join(' ')}\n`, { mode: 0o755 });
  const agents: Array<Awaited<ReturnType<typeof slurmAgent>>> = [];
  const others = async () => (await cmd('squeue', ['-h', '-o', '%i']).catch(() => '')).split('\n').filter((id) => id && !submitted.has(id)).length;
  const busy = await others();
  const sched = /SchedulerParameters\s*=\s*(\S+)/.exec(await cmd('scontrol', ['show', 'config']).catch(() => ''))?.[1] ?? '?';
  try {
    agents.push(await slurmAgent(dir, 'bench-slurm-default', null), await slurmAgent(dir, 'bench-slurm-fast', fastPoll));
    const kinds = [
      { name: `baseline: sbatch + squeue every ${SQUEUE_EVERY_MS} ms`, run: () => sbatchRun(script, dir) },
      { name: 'agent, slurm driver, poll_ms 1000 (default)', run: () => agentRun(agents[0].client, agents[0].watcher) },
      { name: `agent, slurm driver, poll_ms ${fastPoll}`, run: () => agentRun(agents[1].client, agents[1].watcher) },
    ];
    const samples = kinds.map(() => [] as Sample[]);
    for (let round = -1; round < runs; round++) {
      for (let k = 0; k < kinds.length; k++) {
        const i = (k + Math.max(0, round)) % kinds.length;
        const s = await kinds[i].run();
        if (round >= 0) samples[i].push(s);
      }
      process.stderr.write(`  slurm round ${round < 0 ? 'warm-up' : round + 1}/${runs}\n`);
    }
    // Slurm numbers jobs in order: ids between this bench's first and last that are not its own were other users'
    const ids = [...submitted].map(Number);
    const between = ids.length ? Math.max(...ids) - Math.min(...ids) + 1 - ids.length : 0;
    const p = (v: number[], q: number) => percentile(v, q);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const col = (f: (s: Sample) => number) => (i: number) => samples[i].map(f);
    const running = col((s) => s.runningMs);
    const finished = col((s) => s.finishedMs);
    const rows = kinds.map((k, i) => [k.name, String(samples[i].length), fmt(p(col((s) => s.acceptedMs)(i), 50), 1),
      fmt(p(running(i), 50), 0), fmt(p(running(i), 95), 0), fmt(Math.max(...running(i)), 0),
      fmt(p(finished(i), 50), 0), fmt(p(finished(i), 95), 0),
      i === 0 ? '-' : `${fmt(p(running(i), 50) / p(running(0), 50), 2)}x`, i === 0 ? '-' : `${fmt(p(finished(i), 50) / p(finished(0), 50), 2)}x`]);
    // where the time goes: Slurm's part (t0 → squeue says RUNNING) and what the agent adds after it
    const split = kinds.map((k, i) => [k.name, fmt(p(col((s) => s.slurmRunningMs)(i), 50), 0), fmt(p(col((s) => s.slurmRunningMs)(i), 95), 0), fmt(mean(col((s) => s.slurmRunningMs)(i)), 0),
      ...[(s: Sample) => s.runningMs - s.slurmRunningMs, (s: Sample) => s.slurmFinishedMs, (s: Sample) => s.finishedMs - s.slurmFinishedMs]
        .flatMap((f, j) => (i === 0 && j !== 1 ? ['-', '-'] : [fmt(p(col(f)(i), 50), 0), fmt(p(col(f)(i), 95), 0)]))]);
    return `(${COMMAND.join(' ')}; ms; SchedulerParameters=${sched}; other jobs: ${busy} in the queue at the start, ${between} submitted by others during the run; ratios divide p50 by the baseline's p50)\n` +
      `${table(['what', 'n', 'accepted p50', 'running p50', 'p95', 'max', 'finished p50', 'p95', 'running ÷ sbatch', 'finished ÷ sbatch'], rows)}\n\n` +
      `Slurm's part vs the agent's (squeue every ${SQUEUE_EVERY_MS} ms beside each agent job):\n` +
      `${table(['what', 't0 → squeue RUNNING p50', 'p95', 'mean', 'RUNNING → running event p50', 'p95', 't0 → squeue COMPLETED p50', 'p95', 'COMPLETED → terminal event p50', 'p95'], split)}\n` +
      'The first part is Slurm\'s (its scheduler starts pending jobs on its sched_interval / bf_interval tick, so it moves by up to that\n' +
      'interval with where each submit falls); what the agent adds is "RUNNING → running event" (about poll_ms / 2 plus one squeue call) and\n' +
      '"COMPLETED → terminal event" (the poll, reading the exit from scontrol, draining the output files).';
  } finally {
    for (const a of agents) {
      for (const j of (await a.client.call('job.list', {}).catch(() => ({ jobs: [] as Job[] }))).jobs) if (!(TERMINAL_STATES as readonly string[]).includes(j.state)) await a.client.call('job.cancel', { id: j.id }).catch(() => undefined);
      await a.client.close();
      await a.agent.stop();
    }
    // leave the cluster as found: whatever this bench submitted and is still queued or running
    if (submitted.size) await cmd('scancel', [...submitted]).catch(() => undefined);
    submitted.clear();
    rmSync(dir, { recursive: true, force: true });
  }
}
