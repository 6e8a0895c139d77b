// Benchmark 2: cost of one telemetry sample, in process (host, GPU sim, full Collector tick, JSON encoding).
import { join } from 'node:path';
import si from 'systeminformation';
import { HostSource } from '../agent/telemetry/host.js';
import { Collector } from '../agent/telemetry/collector.js';
import { createGpuSource } from '../agent/telemetry/gpu/index.js';
import { NodeStats } from '../shared/protocol/index.js';
import { packageRoot } from '../shared/util/package-root.js';
import { IDLE_FIXTURE } from './agent-idle.js';
import { clockTicks, fmt, procChildrenCpuMs, quietLogger, sleep, summary, table } from './util.js';

const TICKS = clockTicks();
/** Spacing of the paced runs: just above systeminformation's 200 ms currentLoad cache. */
const PACE_MS = 250;

/** One timed operation: wall times of each run, ms. */
export interface CostRow { name: string; times: number[]; note: string; cpuMsPerRun: number; childMsPerRun: number; paceMs: number }

/** Encoding facts of one sample. */
export interface EncodeRow { name: string; bytes: number; us: number }

/** Result of the sample-cost benchmark. */
export interface SampleCostResult { rows: CostRow[]; encode: EncodeRow[]; gpus: number }

/** Wall time of each of n runs (ms) and the CPU time per run (ms): this process (user + system, all threads)
 * plus its reaped children (sh/cat/grep that si.currentLoad execSyncs, df of si.fsSize), which are also given apart.
 * paceMs > 0 starts a run at most every paceMs (the agent ticks once a second). */
async function timeN(n: number, paceMs: number, f: () => Promise<unknown>): Promise<{ times: number[]; cpuMsPerRun: number; childMsPerRun: number }> {
  const times: number[] = [];
  const c0 = process.cpuUsage();
  const k0 = procChildrenCpuMs('self', TICKS) ?? 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    const dt = performance.now() - t0;
    times.push(dt);
    if (paceMs > 0 && dt < paceMs) await sleep(paceMs - dt);
  }
  const c = process.cpuUsage(c0);
  const kids = (procChildrenCpuMs('self', TICKS) ?? 0) - k0;
  return { times, cpuMsPerRun: ((c.user + c.system) / 1000 + kids) / n, childMsPerRun: kids / n };
}

function timeSync(iterations: number, f: () => unknown): number {
  for (let i = 0; i < Math.min(200, iterations); i++) f(); // warm the JIT
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) f();
  return ((performance.now() - t0) * 1000) / iterations;
}

/**
 * Run each operation n times back to back (after 5 warm-up runs), and the host and full samples also paced,
 * nPaced runs PACE_MS apart: systeminformation's currentLoad() recomputes (and execSyncs `cat /proc/stat | grep cpu`)
 * only when its last call is 200 ms old, so back-to-back runs hit its cache and miss the cost the agent pays each second.
 */
export async function runSampleCost(n: number, nPaced: number): Promise<SampleCostResult> {
  const intervalMs = 1000;
  const host = new HostSource();
  await host.ready(); // first filesystem listing (df) now, so that no refresh falls inside the timed loops
  const sim = createGpuSource({ choice: 'sim', fixtures: [join(packageRoot(), IDLE_FIXTURE)], intervalMs, logger: quietLogger });
  await sim.start();
  const none = createGpuSource({ choice: 'none', fixtures: [], intervalMs, logger: quietLogger });
  await none.start();
  const full = new Collector('bench', host, sim, intervalMs, 900);
  const hostOnly = new Collector('bench', host, none, intervalMs, 900);

  const rows: CostRow[] = [];
  const add = async (name: string, note: string, f: () => Promise<unknown>, runs: number, paceMs = 0) => {
    for (let i = 0; i < (paceMs ? 2 : 5); i++) { await f(); if (paceMs) await sleep(paceMs); } // warm-up
    rows.push({ name, note, paceMs, ...(await timeN(runs, paceMs, f)) });
  };
  await add('host: HostSource.sample(), paced', 'currentLoad recomputes: execSync sh+cat+grep', () => host.sample(), nPaced, PACE_MS);
  await add('host: HostSource.sample(), back to back', 'currentLoad served from its 200 ms cache', () => host.sample(), n);
  await add('GPU sim: SimGpuSource.refresh(), back to back', '2 GPUs, fixture values animated', () => sim.refresh(), n);
  await add('full: Collector.tick() host + GPU sim, paced', 'what the agent does each second', () => full.tick(), nPaced, PACE_MS);
  await add('full: Collector.tick() host + GPU sim, back to back', 'incl. flattenStats + history push', () => full.tick(), n);
  await add('full: Collector.tick() host + gpu none, paced', 'the --gpu-source none agent', () => hostOnly.tick(), nPaced, PACE_MS);
  // The filesystem list is refreshed every 30 s off the tick (spawns df): amortised cost = this / 30.
  await add('disk list: si.fsSize(), every 30 s', 'spawns df; off the tick', () => si.fsSize(), Math.min(n, 20));

  const s = full.latest!;
  NodeStats.parse(s); // the sample the fan-out simulator sends is of this shape
  const frame = { jsonrpc: '2.0', method: 'subscription', params: { subscriptionId: 's_bench', seq: s.seq, data: s } };
  const text = JSON.stringify(frame);
  const iterations = 5000;
  const encode: EncodeRow[] = [
    { name: 'JSON.stringify(NodeStats)', bytes: Buffer.byteLength(JSON.stringify(s)), us: timeSync(iterations, () => JSON.stringify(s)) },
    { name: 'JSON.stringify(subscription frame)', bytes: Buffer.byteLength(text), us: timeSync(iterations, () => JSON.stringify(frame)) },
    { name: 'JSON.parse(subscription frame) (client side)', bytes: Buffer.byteLength(text), us: timeSync(iterations, () => JSON.parse(text)) },
    { name: 'NodeStats.parse (zod validation, for scale)', bytes: Buffer.byteLength(JSON.stringify(s)), us: timeSync(1000, () => NodeStats.parse(s)) },
  ];
  await full.stop(); await hostOnly.stop();
  await sim.dispose(); await none.dispose();
  return { rows, encode, gpus: s.gpu.gpus.length };
}

/** Plain-text tables of the sample cost; the paced full tick (what the agent pays each second) is the reference. */
export function sampleCostTables(r: SampleCostResult): string {
  const refRow = r.rows.find((x) => x.name.startsWith('full') && x.paceMs > 0);
  const ref = refRow?.cpuMsPerRun ?? Number.NaN;
  const t1 = table(
    ['operation', 'runs', 'p50 ms', 'p95 ms', 'mean ms', 'max ms', 'CPU ms/run', 'of it children', 'x paced full', '% core at 1 Hz'],
    r.rows.map((x) => {
      const s = summary(x.times);
      const disk = x.name.startsWith('disk list');
      return [x.name, String(s.n), fmt(s.p50, 3), fmt(s.p95, 3), fmt(s.mean, 3), fmt(s.max, 3), fmt(x.cpuMsPerRun, 3), fmt(x.childMsPerRun, 2),
        disk ? '-' : fmt(x.cpuMsPerRun / ref, 2), fmt((disk ? x.cpuMsPerRun / 30 : x.cpuMsPerRun) / 10, 3)];
    }),
  );
  const t2 = table(['encoding of one sample', 'bytes', 'µs each'], r.encode.map((e) => [e.name, String(e.bytes), fmt(e.us, 1)]));
  return `${t1}
(p50…max: wall time of one call. CPU ms/run: user+system of this process (all threads) plus its reaped children,
 per call; children are counted in clock ticks (${1000 / TICKS} ms), so a per-call figure is an average. paced = one call
 every ${PACE_MS} ms, as the agent's 1 Hz tick sees it. % core at 1 Hz = CPU ms/run / 10; the disk list over its 30 s period.)

${t2}`;
}
