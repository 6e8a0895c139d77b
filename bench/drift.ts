// Benchmark: drift monitoring (issue 5) — what capture adds to each inference, and the time of a report over a day.
//
// Model: a 50-feature logistic regression (input "input" float32 [batch, 50] → output float32 [batch, 1], sigmoid),
// generated here with the fixture generator's dense() and buildDenseModel (seed 50; not a committed fixture). Its
// drift profile has 51 features: 50 numeric inputs and the numeric prediction.
//
// (1) Capture cost. Two real agent processes (`fleetml agent --gpu-source none --job-driver fake`), the same model
//     loaded in both: one with drift.enabled false (capture OFF: no sample listener, the hot-path hook returns at
//     once), one with drift on, drift.bucket_s 5 and a 5000-row reference dataset (capture ON: every window closes
//     and is judged, Wasserstein path, during the run). Batch-1 model.infer, JSON over WebSocket (sequential and 64
//     outstanding over 4 connections) and binary over WebSocket (sequential). Rows are measured in ABBA order
//     (off, on, on, off, …) so a trend in machine load cancels; latency is send → answer at the client; the agent's
//     CPU time per inference comes from /proc/<pid>/stat over each window. Ratios: ON / OFF of the same run.
//     In process: the hot-path hook alone (ServingManager's sample append) and DriftMonitor.ingest per row.
// (2) Report time. A DriftMonitor built directly (SQLite store in a temp dir, a real ModelRegistry and
//     ServingManager for the reference predictions, injected clock), drift.bucket_s 300: 100,000 rows × 51 features
//     captured over 24 h of simulated time (288 buckets), then drift.report over 24 h and 1 h, first call (cold:
//     reads and merges the stored hour blocks, written at the closes that completed each hour, plus the loose
//     buckets of the partial hours) and repeated calls (warm: the merged closed part is cached), then after the next
//     bucket closes (the hour blocks are cached, the window is not), then cold on a fresh monitor without the stored
//     hours (every bucket read and merged, as before drift_hours).
//     Two references: 5000 rows (Wasserstein) and 1000 rows (KS). A breakdown of the cold 24 h report follows.
import { createHash } from 'node:crypto';
import { pushModelBytes } from '../shared/client/model-push.js';
import { chunkLines, uploadReference } from '../shared/client/drift-upload.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../scripts/lib/agent-process.js';
import { dense } from '../scripts/gen-onnx-models.js';
import { buildDenseModel } from '../agent/serving/onnx-pb.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { gaussian, mulberry32 } from '../shared/util/prng.js';
import { loadConfig } from '../agent/config.js';
import { createLogger } from '../agent/log.js';
import { openStore } from '../agent/store/db.js';
import { ModelRuntime } from '../agent/serving/runtime.js';
import { ModelRegistry } from '../agent/serving/registry.js';
import { ServingManager, type InferSample } from '../agent/serving/serving.js';
import type { RawTensor } from '../agent/serving/tensors.js';
import { DriftMonitor } from '../agent/drift/monitor.js';
import { DriftStore } from '../agent/drift/store.js';
import { accFromJson, accToJson, cloneAcc, mergeAccsJson, newAcc, type AccJson, type FeatureAcc } from '../agent/drift/profile.js';
import { datasetFigures, judgeFeature, type EffectiveSettings, type RefFeature } from '../agent/drift/compare.js';
import { featuresOf } from '../agent/serving/tabular.js';
import { clockTicks, fmt, freePort, machine, percentile, procCpuMs, table } from './util.js';

const MODEL = 'wide';
const FEATURES = 50;
const CONCURRENCY = 64;
const WS_CONNECTIONS = 4;
const MAX_REQUESTS = 500_000;
const DAY_MS = 86_400_000;
/** Simulated clock origin of the report part: a bucket-aligned fixed instant (2025-01-01T00:00:00Z). */
const T0 = Date.UTC(2025, 0, 1);

// ---------------------------------------------------------------- model and data

/** The 50 → 1 logistic regression: ONNX bytes and its weights (to compute predictions of synthetic traffic). */
function wideModel(): { bytes: Buffer; sha256: string; w: Float32Array; b: number } {
  const layer = dense(mulberry32(50), FEATURES, 1, 'sigmoid');
  const bytes = Buffer.from(buildDenseModel({ graphName: 'wide50', layers: [layer], docString: 'logistic regression 50 -> 1 (sigmoid), drift benchmark',
    metadata: { generator: 'bench/drift.ts', seed: '50' } }));
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), w: layer.weights as Float32Array, b: (layer.bias as Float32Array)[0] };
}

/** Per-feature means and standard deviations of the synthetic data (varied so the features differ). */
const MEANS = Array.from({ length: FEATURES }, (_, j) => ((j % 7) - 3) * 0.5);
const STDS = Array.from({ length: FEATURES }, (_, j) => 0.5 + (j % 5) * 0.3);

/** n rows × 50 features, row-major float32, all features normal(MEANS, STDS). */
function rowsOf(seed: number, n: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  const x = new Float32Array(n * FEATURES);
  for (let i = 0; i < n; i++) for (let j = 0; j < FEATURES; j++) x[i * FEATURES + j] = MEANS[j] + STDS[j] * g();
  return x;
}

/** CSV with a header f00..f49 (matched by position: the header names the features). */
function csvOf(x: Float32Array): string {
  const n = x.length / FEATURES;
  const lines = [Array.from({ length: FEATURES }, (_, j) => `f${String(j).padStart(2, '0')}`).join(',')];
  for (let i = 0; i < n; i++) lines.push(Array.from(x.subarray(i * FEATURES, (i + 1) * FEATURES), (v) => v.toPrecision(6)).join(','));
  return lines.join('\n') + '\n';
}

const fmtMs = (v: number) => fmt(v, v < 1 ? 3 : 2);
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b, 2)}×` : '-');
const median = (xs: number[]) => percentile(xs, 50);

// ---------------------------------------------------------------- (1) capture cost

interface Win { n: number; errors: number; seconds: number; lat: number[]; cpuMs: number }

/** Warm-up, then a timed window of `issue` with `concurrency` loops in flight; agent CPU time over the window. */
async function measure(label: string, pid: number, ticks: number, concurrency: number, issue: () => Promise<void>, o: { warmupMs: number; windowMs: number }): Promise<Win> {
  {
    const end = performance.now() + o.warmupMs;
    await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < end) await issue(); }));
  }
  const lat: number[] = [];
  let errors = 0; let firstError: string | undefined; let started = 0;
  const c0 = procCpuMs(pid, ticks);
  const t0 = performance.now();
  const end = t0 + o.windowMs;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end && started < MAX_REQUESTS) {
      started++;
      const s = performance.now();
      try { await issue(); lat.push(performance.now() - s); } catch (e) {
        errors++; firstError ??= (e as Error).message;
        if (errors > 100) throw new Error(`${label}: too many errors, first: ${firstError}`);
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const c1 = procCpuMs(pid, ticks);
  process.stderr.write(`  drift ${label}: ${lat.length} ok, ${errors} errors in ${fmt(seconds, 2)} s${firstError ? ` (first: ${firstError})` : ''}\n`);
  return { n: lat.length, errors, seconds, lat, cpuMs: c0 !== null && c1 !== null ? c1 - c0 : Number.NaN };
}

/** drift.setReference with a CSV, chunked by the client library as the CLI does. */
async function setReference(c: AgentClient, name: string, csv: string): Promise<{ rows: number; features: number }> {
  const r = await uploadReference(c, chunkLines([Buffer.from(csv)], 'bench-reference.csv'), { name, format: 'csv', datasetName: 'bench-reference.csv' });
  return { rows: r.reference?.rows ?? 0, features: r.features.length };
}

interface Mode { label: string; concurrency: number; issue: (agent: 0 | 1) => () => Promise<void> }

async function captureCost(o: { quick: boolean }): Promise<{ text: string; hook: string[][] }> {
  // many short alternations (ABBA: off,on then on,off) rather than a few long ones: load from elsewhere on the machine
  // then falls on both sides alike
  const w = o.quick ? { warmupMs: 100, windowMs: 300 } : { warmupMs: 200, windowMs: 800 };
  const rounds = o.quick ? 4 : 6;
  const ticks = clockTicks();
  const model = wideModel();
  const dir = mkdtempSync(join(tmpdir(), 'fleetml-bench-drift-'));
  const cfgOff = join(dir, 'off.yaml'); const cfgOn = join(dir, 'on.yaml');
  writeFileSync(cfgOff, 'drift:\n  enabled: false\n');
  writeFileSync(cfgOn, 'drift:\n  enabled: true\n  bucket_s: 5\n');
  const agents: AgentProcess[] = [];
  const clients: AgentClient[][] = [[], []];
  const lines: string[] = [];
  try {
    const [offA, onA] = await Promise.all([
      spawnAgent({ dataDir: join(dir, 'off'), port: await freePort(), args: ['--config', cfgOff, '--gpu-source', 'none', '--job-driver', 'fake'] }),
      spawnAgent({ dataDir: join(dir, 'on'), port: await freePort(), args: ['--config', cfgOn, '--gpu-source', 'none', '--job-driver', 'fake'] }),
    ]);
    agents.push(offA, onA);
    for (let k = 0; k < 2; k++) {
      for (let i = 0; i < WS_CONNECTIONS; i++) {
        const c = new AgentClient({ url: agents[k].url, token: agents[k].token, reconnect: false, callTimeoutMs: 30_000, pingIntervalMs: 60_000 });
        await c.connect();
        clients[k].push(c);
      }
      await pushModelBytes(clients[k][0], MODEL, model.bytes);
      await clients[k][0].call('model.load', { name: MODEL }, { timeoutMs: 60_000 });
    }
    const tRef = performance.now();
    const ref = await setReference(clients[1][0], MODEL, csvOf(rowsOf(1, 5000)));
    process.stderr.write(`  drift: reference of ${ref.rows} rows × ${ref.features} features set in ${fmt(performance.now() - tRef, 0)} ms\n`);

    // traffic: 1000 distinct rows from the reference's distribution, cycled
    const pool = rowsOf(2, 1000);
    const jsonInputs = Array.from({ length: 1000 }, (_, i) => [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: Array.from(pool.subarray(i * FEATURES, (i + 1) * FEATURES)) }]);
    const binInputs = Array.from({ length: 1000 }, (_, i) => Buffer.from(pool.buffer, i * FEATURES * 4, FEATURES * 4));
    let next = 0; let rr = 0;
    const jsonIssue = (c: AgentClient) => async () => {
      const r = await c.call('model.infer', { name: MODEL, inputs: jsonInputs[next++ % 1000] });
      const out = (r.outputs as Array<{ shape: number[]; data: unknown[] }>)[0];
      if (!out || out.shape.join(',') !== '1,1' || out.data.length !== 1) throw new Error(`unexpected output ${JSON.stringify(r.outputs).slice(0, 200)}`);
    };
    const binIssue = (c: AgentClient) => async () => {
      const r = await c.inferBinary(MODEL, [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: binInputs[next++ % 1000] }]);
      if (r.outputs[0]?.data.length !== 4) throw new Error('binary: unexpected output');
    };
    const modes: Mode[] = [
      { label: 'model.infer JSON over WebSocket', concurrency: 1, issue: (k) => jsonIssue(clients[k][0]) },
      { label: 'model.infer JSON over WebSocket', concurrency: CONCURRENCY, issue: (k) => () => jsonIssue(clients[k][rr++ % WS_CONNECTIONS])() },
      { label: 'model.infer binary over WebSocket', concurrency: 1, issue: (k) => binIssue(clients[k][0]) },
    ];
    const acc = modes.map(() => [[], []] as [Win[], Win[]]);
    for (let r = 0; r < rounds; r++) {
      for (let m = 0; m < modes.length; m++) {
        const order: Array<0 | 1> = r % 2 === 0 ? [0, 1] : [1, 0];
        for (const k of order) {
          acc[m][k].push(await measure(`${modes[m].label}, conc ${modes[m].concurrency}, capture ${k ? 'ON ' : 'OFF'} (round ${r + 1})`, agents[k].child.pid!, ticks, modes[m].concurrency, modes[m].issue(k), w));
        }
      }
    }
    // what the ON agent did meanwhile
    const hist = await clients[1][0].call('drift.history', { name: MODEL, limit: 1000 });
    const rep = await clients[1][0].call('drift.report', { name: MODEL, window: '5s' });
    const judged = hist.points.filter((p) => p.judged);
    const rowsPerWin = judged.map((p) => p.rows);

    const body = modes.map((mo, m) => {
      const pairs = acc[m][1].map((x, i) => (x.n / x.seconds) / (acc[m][0][i].n / acc[m][0][i].seconds)).sort((a, b) => a - b);
      const [off, on] = acc[m].map((ws) => ({ lat: ws.flatMap((x) => x.lat), n: ws.reduce((a, x) => a + x.n, 0), s: ws.reduce((a, x) => a + x.seconds, 0), cpu: ws.reduce((a, x) => a + x.cpuMs, 0), err: ws.reduce((a, x) => a + x.errors, 0) }));
      const p = (x: typeof off, q: number) => percentile(x.lat, q);
      const tp = (x: typeof off) => x.n / x.s;
      const cpuUs = (x: typeof off) => (x.cpu * 1000) / Math.max(1, x.n);
      return [`${mo.label}, conc ${mo.concurrency}`, `${off.n}/${on.n}`, fmtMs(p(off, 50)), fmtMs(p(on, 50)), ratio(p(on, 50), p(off, 50)), fmtMs(p(off, 95)), fmtMs(p(on, 95)), ratio(p(on, 95), p(off, 95)),
        fmt(tp(off), 0), fmt(tp(on), 0), ratio(tp(on), tp(off)), `${fmt(median(pairs), 2)} (${fmt(pairs[0], 2)}–${fmt(pairs[pairs.length - 1], 2)})`,
        fmt(cpuUs(off), 0), fmt(cpuUs(on), 0), ratio(cpuUs(on), cpuUs(off))];
    });
    lines.push(table(['batch-1 inference (50 features)', 'n off/on', 'p50 off ms', 'p50 on ms', 'p50 on/off', 'p95 off ms', 'p95 on ms', 'p95 on/off',
      'inf/s off', 'inf/s on', 'inf/s on/off', 'per round: median (min–max)', 'agent CPU µs/inf off', 'on', 'on/off'], body));
    lines.push(`(${rounds} rounds per row, ABBA order, warm-up ${w.warmupMs} ms + window ${w.windowMs} ms each; latency send → answer at the client; 64 outstanding over ${WS_CONNECTIONS} connections;`,
      ` per round: inf/s ON ÷ inf/s OFF of each round, the spread shows the machine's noise; agent CPU: user + system of the agent process over the windows ÷ inferences.)`,
      `capture ON agent meanwhile: ${judged.length} windows of 5 s closed and judged (${rowsPerWin.length ? `${Math.min(...rowsPerWin)}–${Math.max(...rowsPerWin)} rows each` : 'none'}; ` +
      `${judged.filter((p) => p.dataset_drift).length} with dataset drift), sample rate at the end ${fmt(rep.capture.sample_rate, 3)} (drift.max_samples_per_s 2000), samples dropped ${rep.capture.dropped}.`);
  } finally {
    for (const cs of clients) for (const c of cs) await c.close().catch(() => undefined);
    for (const a of agents) await a.stop().catch(() => null);
    rmSync(dir, { recursive: true, force: true });
  }
  return { text: lines.join('\n'), hook: await hookCost() };
}

/** The hot-path hook alone: ServingManager's private sample() with no listener (OFF) and with one (ON). */
async function hookCost(): Promise<string[][]> {
  const sm = new ServingManager(null as never, null as never, { providers: ['cpu'], intraOpThreads: 1, workers: 1 }, { warn() {} } as never);
  const sample = (s: InferSample) => (sm as unknown as { sample(s: InferSample): void }).sample(s);
  const x = rowsOf(3, 1);
  const s: InferSample = { name: MODEL, version: '1', ts: 0, inputs: { input: { dtype: 'float32', dims: [1, FEATURES], data: x } }, outputs: { output: { dtype: 'float32', dims: [1, 1], data: new Float32Array(1) } } };
  const turn = () => new Promise<void>((r) => setImmediate(r));
  const timer = (() => { const t: number[] = []; for (let i = 0; i < 100_000; i++) { const a = performance.now(); t.push((performance.now() - a) * 1000); } return median(t); })();
  // OFF: no listener
  const off: number[] = [];
  for (let i = 0; i < 120_000; i++) { const a = performance.now(); sample(s); off.push((performance.now() - a) * 1000); }
  off.splice(0, 20_000);
  // ON: one listener; the hook delivers on the next event-loop turn (setImmediate), as in the agent
  let got = 0;
  sm.onSamples((b) => { got += b.length; });
  const one: number[] = [];
  for (let i = 0; i < 6000; i++) { const a = performance.now(); sample(s); one.push((performance.now() - a) * 1000); await turn(); }
  one.splice(0, 1000);
  const bursts: number[] = [];
  for (let k = 0; k < 350; k++) { const a = performance.now(); for (let i = 0; i < 1000; i++) sample(s); bursts.push(((performance.now() - a) * 1000) / 1000); await turn(); }
  bursts.splice(0, 50);
  if (got !== 6000 + 350_000) process.stderr.write(`  drift hook: ${got} samples delivered, expected ${6000 + 350_000} (dropped ${sm.samplesDropped})\n`);
  return [
    ['hook, capture OFF (no listener): one call (p50, timer pair included)', fmt(median(off), 3)],
    ['hook, capture ON: one call then an event-loop turn (p50, timer pair included; schedules the delivery)', fmt(median(one), 3)],
    ['hook, capture ON: per call in bursts of 1000 (median of 300 bursts)', fmt(median(bursts), 3)],
    ['  (performance.now() pair alone, p50)', fmt(timer, 3)],
  ];
}

// ---------------------------------------------------------------- (2) report time

interface ReportCase { label: string; refRows: number; rows: number; buckets: number; bytes: number; ingestUsPerRow: number; closeMs: number; closes: number;
  hourCloseMs: number; hourCloses: number; hours: number; hourBytes: number;
  cold24: number; cold24b: number; cold24c: number; warm24: number; next24: number; cold1: number; warm1: number; method: string; breakdown: string[][] }

async function reportCost(o: { quick: boolean }): Promise<{ cases: ReportCase[]; ingestRows: string[][] }> {
  const N = 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'fleetml-bench-drift-report-'));
  const log = createLogger('silent');
  const cfg = loadConfig({ dataDir: dir, listen: '127.0.0.1:0' }, {});
  cfg.drift.bucket_s = 300;
  const bucketMs = cfg.drift.bucket_s * 1000;
  const db = openStore(dir);
  const runtime = new ModelRuntime();
  const registry = new ModelRegistry(db, join(dir, 'models'), cfg.models.max_bytes, async (file) => {
    const m = await runtime.load(file, { providers: ['cpu'], intraOpThreads: 1, workers: 1 });
    const sig = { inputs: m.inputs, outputs: m.outputs };
    await m.close();
    return sig;
  });
  registry.init();
  const serving = new ServingManager(registry, runtime, { providers: ['cpu'], intraOpThreads: 1, workers: 1 }, log);
  let now = T0;
  const store = new DriftStore(db);
  const newMonitor = () => new DriftMonitor({ store, registry, serving, config: cfg.drift, log, now: () => now, rnd: mulberry32(7) });
  const model = wideModel();
  const cases: ReportCase[] = [];
  const ingestRows: string[][] = [];
  try {
    const x = rowsOf(4, N);
    const pred = new Float32Array(N);
    for (let i = 0; i < N; i++) { let z = model.b; for (let j = 0; j < FEATURES; j++) z += x[i * FEATURES + j] * model.w[j]; pred[i] = 1 / (1 + Math.exp(-z)); }
    const specs = o.quick ? [{ name: 'wide', refRows: 5000 }] : [{ name: 'wide', refRows: 5000 }, { name: 'wide-ks', refRows: 1000 }];
    for (const spec of specs) {
      now = T0;
      const monitor = newMonitor();
      const pushed = await registry.push({ name: spec.name, offset: 0, data: model.bytes, final: true, sha256: model.sha256 }, 'bench');
      const version = pushed.version!.version;
      const ref = await monitor.setReference({ name: spec.name, format: 'csv', data: csvOf(rowsOf(1, spec.refRows)), final: true, dataset_name: 'bench-reference.csv' }, 'bench');
      // 100,000 batch-1 samples over 24 h of simulated time; the clock follows the samples, tick() at each bucket boundary
      let closeMs = 0; let closes = 0; let otherMs = 0; let hourCloseMs = 0; let hourCloses = 0;
      let bucket = -1;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        const ts = T0 + Math.floor((i * DAY_MS) / N);
        now = ts;
        const s: InferSample = { name: spec.name, version, ts, inputs: { input: { dtype: 'float32', dims: [1, FEATURES], data: x.subarray(i * FEATURES, (i + 1) * FEATURES) } as RawTensor },
          outputs: { output: { dtype: 'float32', dims: [1, 1], data: pred.subarray(i, i + 1) } as RawTensor } };
        const b = Math.floor(ts / bucketMs);
        const a = performance.now();
        if (b !== bucket) {
          if (bucket >= 0) { monitor.tick(); closes++; }
          bucket = b; monitor.ingest([s]);
          const ms = performance.now() - a;
          // the close of an hour's last bucket also merges the hour and stores it (drift_hours)
          if ((b * bucketMs) % 3_600_000 === 0 && closes > 0) { hourCloseMs += ms; hourCloses++; } else closeMs += ms;
        }
        else { monitor.ingest([s]); otherMs += performance.now() - a; }
      }
      const ingestMs = performance.now() - t0;
      now = T0 + DAY_MS - 1; // the last bucket is still open
      const st = db.prepare('SELECT COUNT(*) AS n, SUM(LENGTH(profile)) AS bytes FROM drift_buckets WHERE name = ?').get(spec.name) as { n: number; bytes: number };
      const hr = db.prepare('SELECT COUNT(*) AS n, SUM(LENGTH(profile)) AS bytes FROM drift_hours WHERE name = ?').get(spec.name) as { n: number; bytes: number | null };
      process.stderr.write(`  drift report ${spec.name}: ${N} rows ingested in ${fmt(ingestMs / 1000, 2)} s (${closes} bucket closes, ${fmt(closeMs, 0)} ms), ${st.n} buckets stored, ${st.bytes} B\n`);
      const time = (window: string) => { const a = performance.now(); const r = monitor.report({ name: spec.name, window, histograms: false }); return { ms: performance.now() - a, r }; };
      const c24 = time('24h');
      const w24 = Array.from({ length: o.quick ? 3 : 5 }, () => time('24h').ms);
      const c1 = time('1h');
      const w1 = Array.from({ length: o.quick ? 3 : 5 }, () => time('1h').ms);
      if (c24.r.rows !== N) process.stderr.write(`  drift report ${spec.name}: 24h report counts ${c24.r.rows} rows, expected ${N}\n`);
      // cold again, code already compiled: a second monitor over the same store (empty cache; it resumes the open
      // bucket that dispose() flushed, as after an agent restart)
      monitor.dispose();
      const again = newMonitor();
      again.start();
      const a0 = performance.now();
      const r2 = again.report({ name: spec.name, window: '24h', histograms: false });
      const cold24b = performance.now() - a0;
      // the next bucket closes (the clock moves one bucket on): the window moves, its cache is dropped, and the
      // report merges the cached closed hours plus the loose buckets of the partial hours at both ends
      now += bucketMs;
      again.tick();
      const a1 = performance.now();
      const rNext = again.report({ name: spec.name, window: '24h', histograms: false });
      const next24 = performance.now() - a1;
      again.dispose();
      // cold without hour rows (as before drift_hours): a third monitor after deleting the stored hours, so it reads
      // and merges every bucket (and stores the hours again)
      db.prepare('DELETE FROM drift_hours WHERE name = ?').run(spec.name);
      const third = newMonitor();
      third.start();
      const a2 = performance.now();
      const r3 = third.report({ name: spec.name, window: '24h', histograms: false });
      const cold24c = performance.now() - a2;
      third.dispose();
      // (same clock as the report after the next close: the window starts one bucket later than the cold ones)
      if (r3.rows !== rNext.rows) process.stderr.write(`  drift report ${spec.name}: 24h report without hour rows counts ${r3.rows} rows, with them ${rNext.rows}\n`);
      if (r2.rows !== N) process.stderr.write(`  drift report ${spec.name}: second monitor's 24h report counts ${r2.rows} rows, expected ${N}\n`);
      cases.push({ label: `${spec.name}: reference ${ref.reference?.rows} rows`, refRows: spec.refRows, rows: c24.r.rows, buckets: st.n, bytes: st.bytes,
        ingestUsPerRow: (otherMs * 1000) / (N - closes - 1), closeMs: closeMs / Math.max(1, closes - hourCloses), closes,
        hourCloseMs: hourCloseMs / Math.max(1, hourCloses), hourCloses, hours: hr.n, hourBytes: hr.bytes ?? 0,
        cold24: c24.ms, cold24b, cold24c, warm24: median(w24), next24, cold1: c1.ms, warm1: median(w1), method: c24.r.features[0]?.method ?? '?',
        breakdown: breakdown(db, store, registry, cfg.drift, spec.name, version, T0 + DAY_MS - 1 - DAY_MS, bucketMs) });
      ingestRows.push([`DriftMonitor.ingest, batch-1 sample, 51 features (${spec.name}, no bucket close)`, fmt((otherMs * 1000) / (N - closes - 1), 1)],
        [`  a sample that closes a bucket (judge 51 features + SQLite write), ms`, fmt(closeMs / Math.max(1, closes - hourCloses), 2)],
        [`  a sample that closes an hour's last bucket (the same + merge and store the hour block, ${hourCloses} of them), ms`, fmt(hourCloseMs / Math.max(1, hourCloses), 2)],
        [`  amortised over ${N} rows with ${closes} closes`, fmt((ingestMs * 1000) / N, 1)]);
    }
  } finally {
    await serving.dispose().catch(() => undefined);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { cases, ingestRows };
}

/** Where the cold 24 h report's time goes: the steps of WindowCache.window (drift/window-cache.ts) and DriftMonitor.report, repeated here one by one. */
function breakdown(db: ReturnType<typeof openStore>, store: DriftStore, registry: ModelRegistry, dc: ReturnType<typeof loadConfig>['drift'], name: string, version: string, windowStart: number, bucketMs: number): string[][] {
  const from = Math.floor(windowStart / bucketMs) * bucketMs;
  const HOUR = 3_600_000;
  const t = () => performance.now();
  let a = t();
  const texts = db.prepare('SELECT start_ms, profile FROM drift_buckets WHERE name = ? AND version = ? AND start_ms >= ? ORDER BY start_ms').all(name, version, from) as Array<{ start_ms: number; profile: string }>;
  const sqlMs = t() - a;
  a = t();
  const parsed = texts.map((r) => JSON.parse(r.profile) as AccJson[]);
  const parseMs = t() - a;
  const r = store.reference(name, version)!;
  const v = registry.resolve(name, version);
  const defs = featuresOf(v.inputs, v.outputs, dc.max_features).features.map((d, i) => ({ ...d, name: r.features[i].name, type: r.features[i].type }));
  const ref: RefFeature[] = r.features.map((f, i) => ({ name: f.name, role: f.role, type: f.type, edges: r.profile[i].edges, acc: accFromJson(r.profile[i].acc) }));
  // hour blocks, as windowAccs builds them on a cold call: each bucket merged (from its JSON) into its hour's block
  a = t();
  const blocks = new Map<number, AccJson[][]>();
  texts.forEach((x, k) => {
    const h = Math.floor(x.start_ms / HOUR) * HOUR;
    if (!blocks.has(h)) blocks.set(h, []);
    blocks.get(h)!.push(parsed[k]);
  });
  const blockJson = [...blocks.values()].map((bs) => defs.map((d, i) => accToJson(mergeAccsJson(newAcc(d.type, ref[i].edges), bs.map((b) => b[i])))));
  const blockMs = t() - a;
  a = t();
  const merged: FeatureAcc[] = defs.map((d, i) => mergeAccsJson(newAcc(d.type, ref[i].edges), blockJson.map((b) => b[i])));
  const mergeMs = t() - a;
  a = t();
  const copy = merged.map(cloneAcc);
  const cloneMs = t() - a;
  const eff: EffectiveSettings = { numeric_method: null, categorical_method: null, thresholds: { ...dc.thresholds }, drift_share: dc.drift_share, alert_after: dc.alert_after,
    small_reference_rows: dc.small_reference_rows, min_rows: dc.min_rows, features: {} };
  a = t();
  const features = defs.map((d, i) => judgeFeature(d.name, d.role, d.type, ref[i], copy[i], eff));
  datasetFigures(features, eff);
  const judgeMs = t() - a;
  // the path of a cold report since drift_hours: the complete hours' stored rows (SELECT + JSON.parse)
  a = t();
  const hourTexts = db.prepare('SELECT profile FROM drift_hours WHERE name = ? AND version = ? AND start_ms >= ? ORDER BY start_ms').all(name, version, Math.ceil(from / HOUR) * HOUR) as Array<{ profile: string }>;
  const hourSqlMs = t() - a;
  a = t();
  for (const h of hourTexts) JSON.parse(h.profile);
  const hourParseMs = t() - a;
  const hourBytes = hourTexts.reduce((s, x) => s + x.profile.length, 0);
  const bytes = texts.reduce((s, x) => s + x.profile.length, 0);
  const blockBytes = blockJson.reduce((s, b) => s + JSON.stringify(b).length, 0);
  let keys = 0; let cells = 0;
  for (const b of parsed) for (const f of b) if (f.t === 'n') { const sk = f.sketch as { pk: number[]; nk: number[] }; keys += sk.pk.length + sk.nk.length; cells++; }
  let blockKeys = 0;
  for (const b of blockJson) for (const f of b) if (f.t === 'n') { const sk = f.sketch as { pk: number[]; nk: number[] }; blockKeys += sk.pk.length + sk.nk.length; }
  return [
    [`(profiles: ${cells} numeric bucket × feature cells, ${keys} DDSketch keys in all = ${fmt(keys / Math.max(1, cells), 0)} per cell for ~${fmt(100_000 / Math.max(1, texts.length), 0)} rows per bucket;`
      + ` ${blocks.size} hour blocks: ${fmt(blockKeys / Math.max(1, blocks.size * defs.length), 0)} keys per feature, ${fmt(blockBytes / Math.max(1, blocks.size) / 1024, 0)} KiB of JSON per block)`, ''],
    [`SQLite SELECT of ${texts.length} profiles (${fmt(bytes / 2 ** 20, 1)} MiB of JSON text, compact sketches)`, fmt(sqlMs, 1)],
    ['JSON.parse of those profiles', fmt(parseMs, 1)],
    [`mergeAccsJson of every bucket × feature into its hour block (${blocks.size} blocks) + accToJson of the blocks (the cached form)`, fmt(blockMs, 1)],
    [`since drift_hours, instead of the three steps above: SQLite SELECT of the ${hourTexts.length} stored hour rows (${fmt(hourBytes / 2 ** 20, 1)} MiB of JSON)`, fmt(hourSqlMs, 1)],
    ['  JSON.parse of those hour rows', fmt(hourParseMs, 1)],
    ['mergeAccsJson of the blocks into one profile per feature', fmt(mergeMs, 1)],
    ['cloneAcc of the merged profiles (structural copy; also on warm calls)', fmt(cloneMs, 1)],
    [`judgeFeature × ${defs.length} + datasetFigures (${features[0]?.method})`, fmt(judgeMs, 1)],
  ];
}

// ---------------------------------------------------------------- entry

/** The drift benchmark; resolves with the printed tables. */
export async function runDriftBench(opts: { quick?: boolean } = {}): Promise<string> {
  const quick = opts.quick ?? false;
  const m = machine();
  const head = [
    `machine  ${m.cpu} × ${m.cores} cores, ${fmt(m.memGiB, 1)} GiB RAM; ${m.kernel}, node ${m.node}`,
    `date     ${new Date().toISOString()}${quick ? '  (--quick: short windows, one report case; rough numbers)' : ''}`,
    `load     1-min load average ${fmt(loadavg()[0], 2)} at the start (other work on the machine makes the capture ratios noisy)`,
    `model    logistic regression 50 → 1 (generated, seed 50): 51 profiled features (50 numeric inputs + the prediction)`,
  ];
  const t0 = performance.now();
  const cap = await captureCost({ quick });
  process.stderr.write(`  drift: capture part ${fmt((performance.now() - t0) / 1000, 1)} s\n`);
  const t1 = performance.now();
  const rep = await reportCost({ quick });
  process.stderr.write(`  drift: report part ${fmt((performance.now() - t1) / 1000, 1)} s\n`);
  const out = [...head, '', '(1) Latency added per inference by capture: two agents, capture OFF (drift.enabled false) vs ON (bucket_s 5, 5000-row reference)', '', cap.text,
    '', 'In process, µs per call or row:', table(['hot path / monitor', 'µs'], [...cap.hook, ...rep.ingestRows]),
    '', `(2) drift.report over 100,000 captured rows × 51 features, 24 h of simulated time in buckets of 300 s (DriftMonitor with an injected clock, SQLite in a temp dir)`, '',
    table(['reference', 'method', 'rows', 'features', 'buckets', 'stored profile bytes', 'hour rows', 'hour row bytes', '24h cold ms', '24h cold again ms', '24h cold, no hour rows ms', '24h warm ms', '24h after the next close ms', '1h cold ms', '1h warm ms'],
      rep.cases.map((c) => [c.label, c.method, String(c.rows), '51', String(c.buckets), String(c.bytes), String(c.hours), String(c.hourBytes), fmt(c.cold24, 1), fmt(c.cold24b, 1), fmt(c.cold24c, 1), fmt(c.warm24, 1), fmt(c.next24, 1), fmt(c.cold1, 1), fmt(c.warm1, 1)])),
    '(cold: the first report call, reads the stored hour rows (drift_hours, written at the closes that completed each hour) + the loose buckets of',
    ' the partial hours and merges them; cold again: the same on a second DriftMonitor over the same store (empty cache, code already compiled, as',
    ' after an agent restart); cold, no hour rows: a third one after deleting drift_hours, so it reads and merges every bucket (the cold path before',
    ' hour rows); warm: median of repeated calls (the merged closed buckets come from the cache);',
    ' after the next close: the clock moves one bucket on and the open bucket closes (window cache dropped; closed hours come from the hour-block cache);',
    ' 1h cold: the first 1h call. Ingest drives bucket closes by the sample clock; the 5-second flushes of the open bucket are not simulated.)'];
  for (const c of rep.cases) out.push('', `Where the time of a cold 24 h report goes (${c.label}; the steps repeated one by one, ms):`, table(['step', 'ms'], c.breakdown));
  return out.join('\n');
}
