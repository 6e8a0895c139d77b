// Benchmark 3: one FleetClient subscribed to N simulated agents (served by a forked child, see sim-agents.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FleetClient } from '../shared/client/fleet-client.js';
import type { Target } from '../shared/client/inventory.js';
import type { SimToParent } from './sim-agents.js';
import { fmt, openFileLimit, procCpuMs, procFdCount, procRssBytes, sleep, summary, table } from './util.js';

/** Options of one fan-out run, ms. */
export interface FanoutOptions { warmupMs: number; windowMs: number; connectTimeoutMs: number; ticks: number }

/** Result of one fan-out run. */
export interface FanoutRow {
  n: number;
  /** Agents up and subscribed when the window started. */
  up: number;
  /** What went wrong (not all up, simulator failed), or null. */
  error: string | null;
  connectMs: number | null;
  windowMs: number;
  samples: number;
  clientCpuPct: number;
  clientRssMiB: number | null;
  clientFds: number | null;
  delays: number[];
  loopP99Ms: number;
  simCpuPct: number | null;
  frameBytes: number;
}

/** Start the simulator child and wait for its ports. */
function startSim(n: number, token: string, timeoutMs: number): Promise<{ child: ChildProcess; ports: number[]; frameBytes: number; stderr: () => string }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'sim-agents.js');
  const child = fork(script, [String(n), '1000'], { env: { ...process.env, FLEETML_BENCH_TOKEN: token }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-4000); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`simulator did not start ${n} agents in ${timeoutMs} ms; stderr: ${err.trim()}`)); }, timeoutMs);
    child.on('message', (m: SimToParent) => {
      clearTimeout(timer);
      if (m.type === 'ready') resolve({ child, ports: m.ports, frameBytes: m.frameBytes, stderr: () => err });
      else { child.kill('SIGKILL'); reject(new Error(`simulator failed: ${m.message.split('\n')[0]}`)); }
    });
    child.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`simulator exited (${code ?? sig}) before it was ready; stderr: ${err.trim().slice(-500)}`)); });
  });
}

async function stopSim(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); }, 5000);
    child.once('exit', () => { clearTimeout(t); r(); });
    try { child.send({ type: 'stop' }); } catch { child.kill('SIGKILL'); }
  });
}

/** Summarise why not every node is up: "count × state: error". */
function whyNotUp(fleet: FleetClient): string {
  const groups = new Map<string, number>();
  for (const n of fleet.snapshot()) {
    if (n.conn === 'up' && n.stats) continue;
    const k = `${n.conn}${n.error ? `: ${n.error.replace(/ws:\/\/127\.0\.0\.1:\d+\/rpc/g, 'URL')}` : n.stats ? '' : ' (no sample yet)'}`;
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  return [...groups].map(([k, c]) => `${c} × ${k}`).join('; ');
}

/** Baseline (N = 0): this process over the same window with the same instrumentation, no client. */
export async function runClientIdle(o: FanoutOptions): Promise<FanoutRow> {
  await sleep(1000); // let the previous benchmark's leftovers (GC, closing sockets) settle
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(o.windowMs);
  const c = process.cpuUsage(c0);
  const windowMs = performance.now() - w0;
  loop.disable();
  return { n: 0, up: 0, error: null, connectMs: null, windowMs, samples: 0, clientCpuPct: ((c.user + c.system) / 1000 / windowMs) * 100,
    clientRssMiB: (procRssBytes(process.pid) ?? Number.NaN) / 2 ** 20, clientFds: procFdCount(process.pid), delays: [],
    loopP99Ms: loop.percentile(99) / 1e6, simCpuPct: null, frameBytes: 0 };
}

/** One fan-out run with n agents. Never throws: a failure is reported in the row. */
export async function runFanout(n: number, o: FanoutOptions): Promise<FanoutRow> {
  const row: FanoutRow = { n, up: 0, error: null, connectMs: null, windowMs: 0, samples: 0, clientCpuPct: Number.NaN, clientRssMiB: null,
    clientFds: null, delays: [], loopP99Ms: Number.NaN, simCpuPct: null, frameBytes: 0 };
  const token = randomBytes(24).toString('base64url');
  let sim: Awaited<ReturnType<typeof startSim>> | null = null;
  let fleet: FleetClient | null = null;
  try {
    sim = await startSim(n, token, 60_000);
    row.frameBytes = sim.frameBytes;
    const targets: Target[] = sim.ports.map((p, i) => ({ name: `sim-${String(i).padStart(4, '0')}`, url: `ws://127.0.0.1:${p}/rpc`, token }));
    fleet = new FleetClient(targets, { backoffMaxMs: 2000 });
    const f = fleet;
    const t0 = performance.now();
    f.start();
    const allUp = () => f.snapshot().every((x) => x.conn === 'up' && x.stats !== null);
    while (!allUp() && performance.now() - t0 < o.connectTimeoutMs) await sleep(50);
    row.up = f.snapshot().filter((x) => x.conn === 'up' && x.stats !== null).length;
    if (row.up === n) row.connectMs = performance.now() - t0;
    else row.error = `only ${row.up}/${n} agents up after ${o.connectTimeoutMs} ms (open-file limit ${openFileLimit() ?? '?'}): ${whyNotUp(f)}`;
    if (row.up === 0) return row;

    await sleep(o.warmupMs);
    const delays: number[] = [];
    f.onSample = (_node, s) => { delays.push(Date.now() - s.ts); };
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const simPid = sim.child.pid!;
    const s0 = procCpuMs(simPid, o.ticks);
    const samples0 = f.samples;
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(o.windowMs);
    const c = process.cpuUsage(c0);
    row.windowMs = performance.now() - w0;
    row.samples = f.samples - samples0;
    const s1 = procCpuMs(simPid, o.ticks);
    loop.disable();
    f.onSample = null;
    row.delays = delays;
    row.clientCpuPct = ((c.user + c.system) / 1000 / row.windowMs) * 100;
    row.loopP99Ms = loop.percentile(99) / 1e6;
    row.clientRssMiB = (procRssBytes(process.pid) ?? Number.NaN) / 2 ** 20;
    row.clientFds = procFdCount(process.pid);
    row.simCpuPct = s0 !== null && s1 !== null ? ((s1 - s0) / row.windowMs) * 100 : null;
    const stillUp = f.snapshot().filter((x) => x.conn === 'up').length;
    if (stillUp < row.up) row.error = `${row.error ? `${row.error}; ` : ''}${row.up - stillUp} agents dropped during the window: ${whyNotUp(f)}`;
    const e = sim.stderr().trim();
    if (e) row.error = `${row.error ? `${row.error}; ` : ''}simulator stderr: ${e.split('\n').slice(-3).join(' | ')}`;
  } catch (e) {
    row.error = (e as Error).message;
  } finally {
    await fleet?.stop().catch(() => undefined);
    if (sim) await stopSim(sim.child);
  }
  return row;
}

/** Plain-text table of the fan-out runs: the N = 0 row is the baseline subtracted from the client CPU ("net"),
 * and the smallest N with samples is the reference of the scaling column. */
export function fanoutTable(rows: FanoutRow[]): string {
  const idle = rows.find((r) => r.n === 0);
  const idlePct = idle?.clientCpuPct ?? 0;
  const netUs = (r: FanoutRow) => (Math.max(0, r.clientCpuPct - idlePct) * r.windowMs * 10) / r.samples; // % / 100 · ms · 1000
  const ref = rows.find((r) => r.n > 0 && r.samples > 0);
  const refUs = ref ? netUs(ref) : Number.NaN;
  const body = table(
    ['agents', 'up', 'connect s', 'samples/s', 'client % core', 'net %/agent', 'µs/sample', 'net µs/sample', `x N=${ref?.n ?? '?'}`,
      'delay p50 ms', 'p95 ms', 'max ms', 'loop p99 ms', 'RSS MiB', 'fds', 'sim % core'],
    rows.map((r) => {
      if (r.n === 0) {
        return ['0 (idle)', '-', '-', '-', fmt(r.clientCpuPct, 2), '-', '-', '-', '-', '-', '-', '-', fmt(r.loopP99Ms, 1), fmt(r.clientRssMiB, 1), String(r.clientFds ?? '-'), '-'];
      }
      if (r.samples === 0) return [String(r.n), `${r.up}/${r.n}`, 'FAILED', '', '', '', '', '', '', '', '', '', '', '', '', ''];
      const d = summary(r.delays);
      const net = Math.max(0, r.clientCpuPct - idlePct);
      return [String(r.n), `${r.up}/${r.n}`, fmt(r.connectMs === null ? null : r.connectMs / 1000, 2), fmt((r.samples / r.windowMs) * 1000, 1),
        fmt(r.clientCpuPct, 2), fmt(net / r.up, 4), fmt((r.clientCpuPct * r.windowMs * 10) / r.samples, 1), fmt(netUs(r), 1),
        refUs > 0 ? fmt(netUs(r) / refUs, 2) : '-',
        fmt(d.p50, 0), fmt(d.p95, 0), fmt(d.max, 0), fmt(r.loopP99Ms, 1), fmt(r.clientRssMiB, 1), String(r.clientFds ?? '-'), fmt(r.simCpuPct, 2)];
    }),
  );
  const errors = rows.filter((r) => r.error).map((r) => `N=${r.n}: ${r.error}`);
  return errors.length ? `${body}\n\nproblems:\n${errors.map((e) => `  ${e}`).join('\n')}` : body;
}
