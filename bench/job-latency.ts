// Benchmark: submit-to-running latency of jobs on a real agent (process and docker drivers), against baselines
// measured in the same run: `docker run` by the CLI, the engine API called directly (create + start + wait, what
// the docker driver does), and a plain child_process.spawn('true').
//
// t0 = just before the job.submit call; "running" = arrival of the job.events event that reports the job running
// (no polling); "finished" = arrival of its terminal event. Runs are sequential and interleaved round-robin
// (one of each kind per round), so drift of the machine hits every row alike.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../scripts/lib/agent-process.js';
import { AgentClient, type TopicMessage } from '../shared/client/agent-client.js';
import type { Job, JobSpecInput } from '../shared/protocol/jobs.js';
import { fmt, freePort, percentile, table } from './util.js';

/** The image the docker rows run (imported by `bash scripts/container-engine.sh busybox-image`). */
export const JOB_BENCH_IMAGE = 'fleetml/busybox:latest';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'lost']);
const WAIT_MS = 30_000;

/** Wall clock with sub-ms resolution, comparable with the agent's Date.now() (same machine). */
const wallNow = () => performance.timeOrigin + performance.now();

/** The engine socket: DOCKER_HOST when it is unix://…, else /var/run/docker.sock. */
function engineSocket(): string {
  const h = process.env.DOCKER_HOST;
  return h && h.startsWith('unix://') ? h.slice('unix://'.length) : '/var/run/docker.sock';
}

/** One HTTP request to the engine socket (a copy of the probe in test/helpers/docker.ts, plus POST/DELETE). */
function engine(socketPath: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath, path, method, timeout: timeoutMs, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Null when an engine answers _ping and has the image; else why the docker rows are skipped. */
async function dockerProblem(socketPath: string): Promise<string | null> {
  try {
    const p = await engine(socketPath, 'GET', '/_ping', undefined, 2_000);
    if (p.status !== 200 || p.body.trim() !== 'OK') return `the engine at ${socketPath} answered _ping with ${p.status} ${p.body.trim().slice(0, 80)}`;
  } catch (e) {
    return `no container engine answers at ${socketPath} (${(e as Error).message}); start one: bash scripts/container-engine.sh start`;
  }
  const img = await engine(socketPath, 'GET', `/images/${encodeURIComponent(JOB_BENCH_IMAGE)}/json`, undefined, 5_000).catch(() => ({ status: 0, body: '' }));
  if (img.status !== 200) return `the engine at ${socketPath} has no ${JOB_BENCH_IMAGE} (bash scripts/container-engine.sh busybox-image)`;
  return null;
}

/** The docker CLI of the baseline: the Debian 20.10 CLI when present, else `docker` on PATH. */
function dockerCli(): string {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/** Run a command to its exit; resolves with ms to the 'spawn' event and to exit. */
function timedSpawn(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ spawnedMs: number; exitMs: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let spawnedMs = Number.NaN;
    let stderr = '';
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    c.stderr!.on('data', (d: Buffer) => { if (stderr.length < 2000) stderr += d.toString(); });
    c.once('spawn', () => { spawnedMs = performance.now() - t0; });
    c.once('error', reject);
    c.once('close', (code) => resolve({ spawnedMs, exitMs: performance.now() - t0, code, stderr }));
  });
}

/** One measured run: ms from t0 to running (NaN when the kind has no such signal) and to finished. */
interface Sample { runningMs: number; finishedMs: number; parts?: Parts }
/** Where one agent run's time went, ms (agent timestamps are whole ms). */
interface Parts { ack: number; toInsert: number; queuedToStarting: number; startingToRunning: number; runningToEvent: number; runningToFinished: number }

/** What the job.events subscription saw of one job: first arrival of each state (client wall clock) and the job. */
interface Seen { at: Map<string, number>; job: Job | null; waiters: Array<() => void> }

class JobWatcher {
  private seen = new Map<string, Seen>();
  private get(id: string): Seen {
    let s = this.seen.get(id);
    if (!s) { s = { at: new Map(), job: null, waiters: [] }; this.seen.set(id, s); }
    return s;
  }
  /** Handler of job.events: events may arrive before job.submit answers, so everything is buffered by id. */
  onEvent(m: TopicMessage<'job.events'>): void {
    if (m.snapshot || !('job' in m.data)) return;
    const job = m.data.job;
    const now = wallNow();
    const s = this.get(job.id);
    if (!s.at.has(job.state)) s.at.set(job.state, now);
    s.job = job;
    for (const w of s.waiters.splice(0)) w();
  }
  /** Wall time at which `state` (or, with 'terminal', any terminal state) first arrived for the job. */
  async until(id: string, state: string, timeoutMs = WAIT_MS): Promise<{ at: number; job: Job }> {
    const s = this.get(id);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = state === 'terminal' ? [...s.at.entries()].find(([k]) => TERMINAL.has(k)) : s.at.has(state) ? [state, s.at.get(state)!] as const : undefined;
      if (hit) return { at: hit[1], job: s.job! };
      if (state !== 'terminal' && s.job && TERMINAL.has(s.job.state)) throw new Error(`job ${id} ended ${s.job.state} (${s.job.reason ?? ''}) without reaching ${state}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`job ${id}: no ${state} event within ${timeoutMs} ms (last state ${s.job?.state ?? 'none'})`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); s.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
  forget(id: string): void { this.seen.delete(id); }
}

/** Submit one job and time it through the event stream; removes the job afterwards. */
async function agentRun(client: AgentClient, w: JobWatcher, spec: JobSpecInput): Promise<Sample> {
  const wall0 = wallNow();
  const t0 = performance.now();
  const r = await client.call('job.submit', { spec: spec as never });
  const ack = performance.now() - t0;
  const id = r.job.id;
  try {
    const running = await w.until(id, 'running');
    const done = await w.until(id, 'terminal');
    if (done.job.state !== 'succeeded') throw new Error(`job ${id} ended ${done.job.state}: ${done.job.reason ?? ''}`);
    const h = (st: string) => done.job.history.find((e) => e.state === st)?.ts ?? Number.NaN;
    const parts: Parts = {
      ack,
      toInsert: done.job.submitted_at - wall0,
      queuedToStarting: h('starting') - done.job.submitted_at,
      startingToRunning: h('running') - h('starting'),
      runningToEvent: running.at - h('running'),
      runningToFinished: h('succeeded') - h('running'),
    };
    return { runningMs: running.at - wall0, finishedMs: done.at - wall0, parts };
  } finally {
    await client.call('job.remove', { id }).catch(() => undefined);
    w.forget(id);
  }
}

/** Engine API, as the docker driver calls it: create + start (= running), wait (= finished), then delete. */
async function engineApiRun(socketPath: string, seq: number): Promise<Sample> {
  const t0 = performance.now();
  const c = await engine(socketPath, 'POST', `/containers/create?name=fleetml-bench-${process.pid}-${seq}`, { Image: JOB_BENCH_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  if (c.status !== 201) throw new Error(`create: ${c.status} ${c.body.slice(0, 200)}`);
  const id = (JSON.parse(c.body) as { Id: string }).Id;
  try {
    const s = await engine(socketPath, 'POST', `/containers/${id}/start`);
    if (s.status !== 204) throw new Error(`start: ${s.status} ${s.body.slice(0, 200)}`);
    const runningMs = performance.now() - t0;
    const wt = await engine(socketPath, 'POST', `/containers/${id}/wait`, undefined, WAIT_MS);
    if (wt.status !== 200) throw new Error(`wait: ${wt.status} ${wt.body.slice(0, 200)}`);
    return { runningMs, finishedMs: performance.now() - t0 };
  } finally {
    await engine(socketPath, 'DELETE', `/containers/${id}?force=true`).catch(() => undefined);
  }
}

interface Kind { name: string; docker: boolean; run: (seq: number) => Promise<Sample> }
interface Result { name: string; samples: Sample[]; errors: string[] }

function stats(v: number[]): { p50: number; p95: number; max: number } {
  const x = v.filter(Number.isFinite);
  return { p50: percentile(x, 50), p95: percentile(x, 95), max: x.length ? Math.max(...x) : Number.NaN };
}

/**
 * Spawn an agent (process + docker drivers, gpu none), run every kind `runs` times (default 20, 1..200) after
 * 2 unreported warm-up runs each, and return the printed tables.
 */
export async function runJobLatencyBench(opts: { runs?: number } = {}): Promise<string> {
  const runs = Math.max(1, Math.min(200, Math.floor(opts.runs ?? 20)));
  const warmup = 2;
  const socketPath = engineSocket();
  const dockerWhyNot = await dockerProblem(socketPath);
  const cli = dockerCli();
  const dataRoot = mkdtempSync(join(tmpdir(), 'fleetml-bench-jobs-'));
  let agent: AgentProcess | null = null;
  let client: AgentClient | null = null;
  const out: string[] = [];
  try {
    agent = await spawnAgent({
      dataDir: join(dataRoot, 'agent'), port: await freePort(), name: 'bench-jobs',
      // the docker driver only when an engine answers, so the process rows still run without one
      args: ['--gpu-source', 'none', '--job-driver', 'process', ...(dockerWhyNot ? [] : ['--job-driver', 'docker']), '--telemetry-interval', '1000'],
      env: { DOCKER_HOST: `unix://${socketPath}` },
    });
    client = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await client.connect();
    const watcher = new JobWatcher();
    const sub = await client.subscribe('job.events', {}, (m) => watcher.onEvent(m));
    const c = client;

    const kinds: Kind[] = [
      { name: 'agent, process driver: true', docker: false, run: () => agentRun(c, watcher, { driver: 'process', command: ['true'] }) },
      { name: 'baseline: spawn(\'true\')', docker: false, run: async () => {
        const r = await timedSpawn('true', []);
        if (r.code !== 0) throw new Error(`true exited ${r.code}`);
        return { runningMs: r.spawnedMs, finishedMs: r.exitMs };
      } },
      { name: `agent, docker driver: ${JOB_BENCH_IMAGE} true`, docker: true, run: () => agentRun(c, watcher, { driver: 'docker', image: JOB_BENCH_IMAGE, command: ['true'] }) },
      { name: 'baseline: engine API create+start+wait', docker: true, run: (seq: number) => engineApiRun(socketPath, seq) },
      { name: `baseline: ${cli} run --rm --network none`, docker: true, run: async () => {
        const r = await timedSpawn(cli, ['run', '--rm', '--network', 'none', JOB_BENCH_IMAGE, 'true'], { DOCKER_HOST: `unix://${socketPath}` });
        if (r.code !== 0) throw new Error(`docker run exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
        return { runningMs: Number.NaN, finishedMs: r.exitMs };
      } },
    ].filter((k) => !k.docker || !dockerWhyNot);

    const results: Result[] = kinds.map((k) => ({ name: k.name, samples: [], errors: [] }));
    let seq = 0;
    for (let round = 0; round < warmup + runs; round++) {
      for (const [i, k] of kinds.entries()) {
        try {
          const s = await k.run(seq++);
          if (round >= warmup) results[i].samples.push(s);
        } catch (e) {
          results[i].errors.push((e as Error).message.split('\n')[0]);
        }
      }
    }
    await sub.close();

    const by = (name: string) => results.find((r) => r.name.startsWith(name));
    const base = (r: Result) => (r.name.includes('process driver') ? by('baseline: spawn') : r.name.includes('docker driver') ? by(`baseline: ${cli}`) : undefined);
    out.push(`Job latency: ${runs} runs per row (+${warmup} warm-up, not reported), sequential, interleaved; ms. ` +
      `"running" = job.events 'running' event received (agent) / 'spawn' event (spawn) / start answered (engine API); ` +
      `"finished" = terminal event received / exit.`);
    out.push(table(
      ['what', 'n', 'running p50', 'p95', 'max', 'finished p50', 'p95', 'max', 'running ÷ base p50', 'finished ÷ base p50'],
      results.map((r) => {
        const run = stats(r.samples.map((s) => s.runningMs));
        const fin = stats(r.samples.map((s) => s.finishedMs));
        const b = base(r);
        const bf = b ? stats(b.samples.map((s) => s.finishedMs)).p50 : Number.NaN;
        return [r.name, `${r.samples.length}${r.errors.length ? ` (${r.errors.length} failed)` : ''}`,
          fmt(run.p50, 1), fmt(run.p95, 1), fmt(run.max, 1), fmt(fin.p50, 1), fmt(fin.p95, 1), fmt(fin.max, 1),
          b ? `${fmt(run.p50 / bf, 1)}x` : '-', b ? `${fmt(fin.p50 / bf, 1)}x` : '-'];
      }),
    ));
    out.push('(ratios divide by the baseline\'s time to completion: spawn(\'true\') for the process driver, the docker CLI for the docker driver.)');
    if (dockerWhyNot) out.push(`docker rows skipped: ${dockerWhyNot}`);

    const agentRows = results.filter((r) => r.samples.some((s) => s.parts));
    if (agentRows.length) {
      out.push('\nWhere the agent\'s time goes (p50 / p95, ms; agent timestamps are whole ms, so ±1 ms per column):');
      const col = (r: Result, f: (p: Parts) => number) => { const s = stats(r.samples.map((x) => (x.parts ? f(x.parts) : Number.NaN))); return `${fmt(s.p50, 1)} / ${fmt(s.p95, 1)}`; };
      out.push(table(
        ['agent row', 'submit answered', 't0 → queued (stored)', 'queued → starting', 'starting → running', 'running → event', 'running → finished'],
        agentRows.map((r) => [r.name, col(r, (p) => p.ack), col(r, (p) => p.toInsert), col(r, (p) => p.queuedToStarting), col(r, (p) => p.startingToRunning), col(r, (p) => p.runningToEvent), col(r, (p) => p.runningToFinished)]),
      ));
    }
    for (const r of results) for (const e of [...new Set(r.errors)].slice(0, 3)) out.push(`error in "${r.name}": ${e}`);
  } finally {
    await client?.close().catch(() => undefined);
    await agent?.stop().catch(() => undefined);
    rmSync(dataRoot, { recursive: true, force: true });
  }
  return out.join('\n');
}
