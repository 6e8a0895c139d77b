// Benchmark 2: cost of one telemetry sample, in process (host, GPU sim, full Collector tick, JSON encoding).
import { join } from 'node:path';
import si from 'systeminformation';
import { HostSource } from '../agent/telemetry/host.js';
import { Collector } from '../agent/telemetry/collector.js';
import { createGpuSource } from '../agent/telemetry/gpu/index.js';
import { NodeStats } from '../shared/protocol/index.js';
import { packageRoot } from '../shared/util/package-root.js';
import { IDLE_FIXTURE } from './agent-idle.js';
import { clockTicks, fmt, procChildrenCpuMs, quietLogger, summary, table } from './util.js';

const TICKS = clockTicks();

/** One timed operation: wall times of each run, ms. */
export interface CostRow { name: string; times: number[]; note: string; cpuMsPerRun: number }

/** Encoding facts of one sample. */
export interface EncodeRow { name: string; bytes: number; us: number }

/** Result of the sample-cost benchmark. */
export interface SampleCostResult { rows: CostRow[]; encode: EncodeRow[]; gpus: number }

/** Wall time of each of n runs (ms) and the CPU time per run (ms): this process (user + system, all threads)
 * plus its reaped children (the df that si.fsSize spawns). */
async function timeN(n: number, f: () => Promise<unknown>): Promise<{ times: number[]; cpuMsPerRun: number }> {
  const times: number[] = [];
  const c0 = process.cpuUsage();
  const k0 = procChildrenCpuMs('self', TICKS) ?? 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  const kids = (procChildrenCpuMs('self', TICKS) ?? 0) - k0;
  return { times, cpuMsPerRun: ((c.user + c.system) / 1000 + kids) / n };
}

function timeSync(iterations: number, f: () => unknown): number {
  for (let i = 0; i < Math.min(200, iterations); i++) f(); // warm the JIT
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) f();
  return ((performance.now() - t0) * 1000) / iterations;
}

/** Run each operation n times back to back (after 5 warm-up runs). */
export async function runSampleCost(n: number): Promise<SampleCostResult> {
  const intervalMs = 1000;
  const host = new HostSource();
  await host.ready(); // first filesystem listing (df) now, so that no refresh falls inside the timed loops
  const sim = createGpuSource({ choice: 'sim', fixtures: [join(packageRoot(), IDLE_FIXTURE)], intervalMs, logger: quietLogger });
  await sim.start();
  const none = createGpuSource({ choice: 'none', fixtures: [], intervalMs, logger: quietLogger });
  await none.start();
  const full = new Collector('bench', host, sim, intervalMs, 900);
  const hostOnly = new Collector('bench', host, none, intervalMs, 900);

  const warm = async (f: () => Promise<unknown>) => { for (let i = 0; i < 5; i++) await f(); };
  const rows: CostRow[] = [];
  const add = async (name: string, note: string, f: () => Promise<unknown>, runs = n) => {
    await warm(f);
    rows.push({ name, note, ...(await timeN(runs, f)) });
  };
  await add('host only: HostSource.sample()', 'systeminformation currentLoad + mem, /proc/net/dev, /proc/diskstats', () => host.sample());
  await add('GPU sim only: SimGpuSource.refresh()', '2 GPUs, fixture values animated', () => sim.refresh());
  await add('full sample: Collector.tick() (host + GPU sim)', 'what the agent does each second, incl. history push', () => full.tick());
  await add('full sample: Collector.tick() (host + gpu none)', 'the --gpu-source none agent', () => hostOnly.tick());
  // The filesystem list is refreshed every 30 s off the tick (spawns df): amortised cost = this / 30.
  await add('disk list refresh: si.fsSize() (every 30 s)', 'spawns df; not part of the tick', () => si.fsSize(), Math.min(n, 20));

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

/** Plain-text tables of the sample cost; the full tick is the reference row. */
export function sampleCostTables(r: SampleCostResult): string {
  const ref = summary(r.rows.find((x) => x.name.startsWith('full sample'))?.times ?? []).mean;
  const t1 = table(
    ['operation (wall time)', 'runs', 'p50 ms', 'p95 ms', 'mean ms', 'max ms', 'x full tick', 'CPU ms/run', '% core at 1 Hz'],
    r.rows.map((x) => {
      const s = summary(x.times);
      const disk = x.name.startsWith('disk list');
      return [x.name, String(s.n), fmt(s.p50, 3), fmt(s.p95, 3), fmt(s.mean, 3), fmt(s.max, 3),
        disk ? '-' : fmt(s.mean / ref, 2), fmt(x.cpuMsPerRun, 3), fmt((disk ? x.cpuMsPerRun / 30 : x.cpuMsPerRun) / 10, 3)];
    }),
  );
  const t2 = table(['encoding of one sample', 'bytes', 'µs each'], r.encode.map((e) => [e.name, String(e.bytes), fmt(e.us, 1)]));
  return `${t1}\n(CPU ms/run: user+system time per run of this process (all threads) and its children (df), at clock-tick resolution for children.
 % core at 1 Hz = CPU ms/run / 10; the disk refresh is amortised over its 30 s period.)\n\n${t2}`;
}
