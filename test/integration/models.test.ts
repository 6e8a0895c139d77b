import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AgentClient } from '../../shared/client/agent-client.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';

// The registry and JSON inference on a real agent, checked against onnxruntime-node called directly.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
});
afterAll(async () => { await c.close(); await a.close(); });

async function direct(file: string, input: Float32Array, dims: number[]) {
  const s = await ort.InferenceSession.create(modelFile(file));
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', input, dims) });
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
}

describe('model registry', () => {
  it('commits a chunked push as an immutable, content-addressed version with its signature', async () => {
    const bytes = modelBytes('mlp.onnx');
    const r = await pushModel(c, 'mlp', bytes, { chunk: 100_000 });
    expect(r.model).toMatchObject({ name: 'mlp', version: 'v1', size_bytes: bytes.length, loaded: false });
    expect(r.model!.inputs[0]).toMatchObject({ dtype: 'float32' });
    expect(r.model!.inputs[0].shape[1]).toBe(64);
    const again = await pushModel(c, 'mlp', bytes);
    expect(again.model!.version).toBe('v2'); // same bytes, a new version name, one artifact
    expect(readdirSync(join(a.dir, 'models', 'artifacts'))).toHaveLength(1);
    const e = await pushModel(c, 'mlp', modelBytes('linear.onnx'), { version: 'v1' }).catch((x) => x);
    expect(e.codeName).toBe('CONFLICT');
  });
  it('refuses a corrupt upload and a non-ONNX file, leaving nothing behind', async () => {
    const bytes = modelBytes('linear.onnx');
    const bad = await pushModel(c, 'lin', bytes, { sha256: 'f'.repeat(64) }).catch((x) => x);
    expect(bad.codeName).toBe('INVALID_PARAMS');
    expect(bad.message).toMatch(/digest mismatch/);
    const junk = await pushModel(c, 'junk', Buffer.from('this is not an onnx model at all, just text')).catch((x) => x);
    expect(junk.message).toMatch(/not a loadable ONNX model/);
    expect(readdirSync(join(a.dir, 'models', 'uploads'))).toEqual([]);
    expect((await c.call('model.list', { name: 'junk' })).models).toEqual([]);
    const gap = await c.call('model.push', { name: 'lin', offset: 10, data_b64: '', final: false }).catch((x) => x);
    expect(gap.message).toMatch(/offset 0/);
  });
});

describe('JSON inference', () => {
  beforeAll(async () => { await pushModel(c, 'linear', modelBytes('linear.onnx')); });
  it('answers with the same outputs as onnxruntime-node called directly, and says which version served', async () => {
    const x = new Float32Array([0.5, -1, 2, 3, 0.25, -0.75]);
    const want = await direct('linear.onnx', x, [2, 3]);
    const r = await c.call('model.infer', { name: 'linear', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: Array.from(x) }] });
    expect(r.model_version).toBe('v1');
    for (const o of r.outputs) {
      expect(o.shape).toEqual([2, 2]);
      (o.data as number[]).forEach((v, i) => expect(v).toBeCloseTo(want[o.name][i], 6));
    }
    const loaded = (await c.call('model.get', { name: 'linear' })).versions[0];
    expect(loaded).toMatchObject({ loaded: true, provider: 'cpu' });
  });
  it('refuses bad inputs with messages naming the tensor, and keeps serving', async () => {
    const call = (inputs: any) => c.call('model.infer', { name: 'linear', inputs }).catch((x) => x);
    expect((await call([{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }])).message).toMatch(/input.*shape/);
    expect((await call([{ name: 'nope', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }])).message).toMatch(/nope/);
    expect((await call([{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2] }])).message).toMatch(/input.*shape \[1, 3\].*2/);
    expect((await call([{ name: 'input', datatype: 'INT64', shape: [1, 3], data: [1, 2, 3] }])).codeName).toBe('INVALID_PARAMS');
    const ok = await c.call('model.infer', { name: 'linear', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    expect(ok.outputs.length).toBeGreaterThan(0);
    expect((await c.call('model.infer', { name: 'ghost', inputs: ok.outputs }).catch((x) => x)).codeName).toBe('NOT_FOUND');
  });
  it('unloads and removes a version', async () => {
    expect((await c.call('model.unload', { name: 'linear' })).model.loaded).toBe(false);
    expect((await c.call('model.remove', { name: 'linear', version: 'v1' })).removed).toBe(true);
    expect((await c.call('model.list', { name: 'linear' })).models).toEqual([]);
  });
});

describe('dynamic batching through the agent', () => {
  it('answers concurrent requests from one batched run with the same outputs as unbatched ones', async () => {
    await pushModel(c, 'mlpb', modelBytes('mlp.onnx'));
    const input = (i: number) => ({ name: 'input', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, k) => Math.sin(i + k)) });
    const single = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await c.call('model.infer', { name: 'mlpb', inputs: [input(i)] })).outputs));
    await c.call('model.unload', { name: 'mlpb' });
    await c.call('model.load', { name: 'mlpb', batching: { max_batch_size: 16, max_queue_delay_us: 20_000 } });
    const batched = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await c.call('model.infer', { name: 'mlpb', inputs: [input(i)] })).outputs));
    batched.forEach((outs, i) => outs.forEach((o, j) => (o.data as number[]).forEach((v, k) => expect(v).toBeCloseTo((single[i][j].data as number[])[k], 5))));
    const st = (await c.call('model.stats', { name: 'mlpb' })).models[0];
    expect(st.batching).toEqual({ max_batch_size: 16, max_queue_delay_us: 20_000 });
    expect(st.avg_batch).toBeGreaterThan(1);
  });
});

describe('model.stats over a window', () => {
  it('computes the latency percentiles over the requests since `since` only (null if none); counters stay cumulative', async () => {
    await pushModel(c, 'statwin', modelBytes('linear.onnx'));
    const infer = () => c.call('model.infer', { name: 'statwin', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    for (let i = 0; i < 5; i++) await infer();
    await new Promise((r) => setTimeout(r, 5));
    const since = Date.now();
    const quiet = (await c.call('model.stats', { name: 'statwin', since })).models[0];
    expect(quiet.requests).toBe(5);
    expect(quiet.latency_us).toEqual({ p50: null, p95: null, queue_p50: null, compute_p50: null });
    const all = (await c.call('model.stats', { name: 'statwin' })).models[0];
    expect(all.latency_us.p50).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await infer();
    const recent = (await c.call('model.stats', { name: 'statwin', since })).models[0];
    expect(recent.requests).toBe(8);
    expect(recent.latency_us.p50).toBeGreaterThan(0);
    expect(recent.latency_us.compute_p50).not.toBeNull();
    expect((await c.call('model.stats', { name: 'statwin', since: Date.now() + 60_000 })).models[0].latency_us.p95).toBeNull();
    const bad = await c.call('model.stats', { name: 'statwin', since: -1 }).catch((e) => e);
    expect(bad.data?.code).toBe('INVALID_PARAMS');
  });
});

describe('binary inference over the WebSocket', () => {
  it('answers raw float32 tensors with the same outputs as JSON, and refuses malformed frames clearly', async () => {
    await pushModel(c, 'lin2', modelBytes('linear.onnx'));
    const x = new Float32Array([0.5, -1, 2, 3, 0.25, -0.75]);
    const json = await c.call('model.infer', { name: 'lin2', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: Array.from(x) }] });
    const bin = await c.inferBinary('lin2', [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: Buffer.from(x.buffer) }]);
    expect(bin.model_version).toBe(json.model_version);
    for (const o of bin.outputs) {
      const got = Array.from(new Float32Array(o.data.buffer.slice(o.data.byteOffset, o.data.byteOffset + o.data.byteLength)));
      const want = json.outputs.find((j) => j.name === o.name)!.data as number[];
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    }
    const short = await c.inferBinary('lin2', [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: Buffer.alloc(8) }]).catch((e) => e);
    expect(short.codeName).toBe('INVALID_PARAMS');
    expect(short.message).toMatch(/binary_data_size is 8 bytes/);
    const shape = await c.inferBinary('lin2', [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: Buffer.alloc(16) }]).catch((e) => e);
    expect(shape.message).toMatch(/shape/);
    expect((await c.call('auth.whoami')).role).toBe('admin'); // the connection is still fine
  });
});
