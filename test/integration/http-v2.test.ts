import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import * as ort from 'onnxruntime-node';
import { AgentClient } from '../../shared/client/agent-client.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';

// The Open Inference Protocol (KServe v2) HTTP endpoints on a real agent, checked against onnxruntime-node called
// directly; JSON and Triton's binary tensor data extension.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
const auth = () => ({ authorization: `Bearer ${a.token}` });
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
});
afterAll(async () => { await c.close(); await a.close(); });

const X = new Float32Array([0.5, -1, 2, 3, 0.25, -0.75]);

async function direct(file: string, input: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(modelFile(file));
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', input, dims) });
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
}

const get = (path: string, headers: Record<string, string> = auth()) => fetch(a.http + path, { headers });
const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(a.http + path, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(), ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });

/** A binary request body: JSON header then the raw bytes. */
function binaryBody(header: unknown, ...tensors: Buffer[]): { body: Buffer; headers: Record<string, string> } {
  const h = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([h, ...tensors]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) } };
}

/** Split a binary response into its JSON header and each output's bytes (by binary_data_size, in order). */
async function parseBinary(r: Response): Promise<{ json: any; bins: Record<string, Buffer> }> {
  const n = Number(r.headers.get('inference-header-content-length'));
  const buf = Buffer.from(await r.arrayBuffer());
  const json = JSON.parse(buf.subarray(0, n).toString('utf8'));
  const bins: Record<string, Buffer> = {};
  let o = n;
  for (const out of json.outputs) {
    const size = out.parameters?.binary_data_size;
    if (size === undefined) continue;
    bins[out.name] = buf.subarray(o, o + size);
    o += size;
  }
  expect(o).toBe(buf.length);
  return { json, bins };
}

const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const f32bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('v2 server endpoints', () => {
  it('serves health without a token and server metadata with one', async () => {
    expect((await get('/v2/health/live', {})).status).toBe(200);
    let ready = await get('/v2/health/ready', {});
    for (let i = 0; i < 50 && ready.status !== 200; i++) { await new Promise((r) => setTimeout(r, 100)); ready = await get('/v2/health/ready', {}); }
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const m = await get('/v2');
    expect(m.status).toBe(200);
    expect(await m.json()).toMatchObject({ name: 'fleetml', version: expect.any(String), extensions: ['binary_tensor_data'] });
  });
  it('refuses a missing or wrong token with 401, and leaves other paths alone', async () => {
    for (const [path, headers] of [['/v2', {}], ['/v2/models/linear', {}], ['/v2/models/linear', { authorization: 'Bearer nope' }]] as const) {
      const r = await get(path, headers);
      expect(r.status).toBe(401);
      expect((await r.json()).error).toMatch(/token/);
    }
    const r = await fetch(`${a.http}/v2/models/linear/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(401);
    expect((await fetch(`${a.http}/healthz`)).status).toBe(200); // the built-in routes still answer
  });
  it('answers 404 for an unknown model and 405 for a wrong method', async () => {
    const r = await get('/v2/models/ghost');
    expect(r.status).toBe(404);
    expect((await r.json()).error).toMatch(/ghost/);
    expect((await get('/v2/models/ghost/ready')).status).toBe(404);
    const i = await post('/v2/models/ghost/infer', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }));
    expect(i.status).toBe(404);
    expect((await get('/v2/nowhere')).status).toBe(404);
    const m = await get('/v2/models/ghost/infer');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST');
  });
});

describe('v2 models', () => {
  beforeAll(async () => { await pushModel(c, 'linear', modelBytes('linear.onnx')); });

  it('gives model metadata with KServe datatypes and dynamic dims as -1', async () => {
    const r = await get('/v2/models/linear');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      name: 'linear', versions: ['v1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 2] }],
    });
    expect((await (await get('/v2/models/linear/versions/v1')).json()).versions).toEqual(['v1']);
    expect((await get('/v2/models/linear/versions/v9')).status).toBe(404);
  });

  it('is not ready before loading, ready after the first inference; JSON inference equals onnxruntime', async () => {
    const before = await get('/v2/models/linear/ready');
    expect(before.status).toBe(400);
    expect(await before.json()).toMatchObject({ ready: false, version: 'v1' });
    const want = await direct('linear.onnx', X, [2, 3]);
    const r = await post('/v2/models/linear/infer', JSON.stringify({ id: 'req-1', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: Array.from(X) }] }));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const j = await r.json();
    expect(j).toMatchObject({ model_name: 'linear', model_version: 'v1', id: 'req-1' });
    expect(j.outputs).toHaveLength(1);
    expect(j.outputs[0]).toMatchObject({ name: 'output', datatype: 'FP32', shape: [2, 2] });
    expect(j.outputs[0].data).toEqual(Array.from(want.output));
    expect((await get('/v2/models/linear/ready')).status).toBe(200);
    expect((await get('/v2/models/linear/versions/v1/ready')).status).toBe(200);
  });

  it('flattens nested JSON data', async () => {
    const want = await direct('linear.onnx', X, [2, 3]);
    const r = await post('/v2/models/linear/infer', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: [[0.5, -1, 2], [3, 0.25, -0.75]] }] }));
    expect(r.status).toBe(200);
    expect((await r.json()).outputs[0].data).toEqual(Array.from(want.output));
  });

  it('takes binary tensor data and answers with binary outputs equal to onnxruntime', async () => {
    const want = await direct('linear.onnx', X, [2, 3]);
    const { body, headers } = binaryBody({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: X.byteLength } }],
      parameters: { binary_data_output: true },
    }, f32bytes(X));
    const r = await post('/v2/models/linear/infer', body, headers);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    const { json, bins } = await parseBinary(r);
    expect(json).toMatchObject({ model_name: 'linear', model_version: 'v1' });
    expect(json.outputs[0]).toEqual({ name: 'output', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } });
    expect(Array.from(f32(bins.output))).toEqual(Array.from(want.output));
  });

  it('answers JSON for a binary request unless an output asks for binary_data', async () => {
    const want = await direct('linear.onnx', X, [2, 3]);
    const header = { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] };
    const j = await post('/v2/models/linear/infer', binaryBody(header, f32bytes(X)).body, binaryBody(header, f32bytes(X)).headers);
    expect(j.status).toBe(200);
    expect(j.headers.get('content-type')).toBe('application/json');
    expect((await j.json()).outputs[0].data).toEqual(Array.from(want.output));
    const h2 = { ...header, outputs: [{ name: 'output', parameters: { binary_data: true } }] };
    const b = binaryBody(h2, f32bytes(X));
    const r = await post('/v2/models/linear/infer', b.body, b.headers);
    const { bins } = await parseBinary(r);
    expect(Array.from(f32(bins.output))).toEqual(Array.from(want.output));
    // a JSON request may ask for a binary answer too
    const k = await post('/v2/models/linear/infer', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: Array.from(X) }], outputs: [{ name: 'output', parameters: { binary_data: true } }] }));
    expect(Array.from(f32((await parseBinary(k)).bins.output))).toEqual(Array.from(want.output));
  });

  it('says which version served, and serves a named version', async () => {
    await pushModel(c, 'linear', modelBytes('linear.onnx'), { version: 'v2' });
    const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    expect((await (await post('/v2/models/linear/infer', body)).json()).model_version).toBe('v2');
    expect((await (await post('/v2/models/linear/versions/v1/infer', body)).json()).model_version).toBe('v1');
    expect((await (await get('/v2/models/linear')).json()).versions).toEqual(['v2', 'v1']);
  });

  it('refuses bad requests with 400 and a message, and keeps serving', async () => {
    const bad = async (body: string | Buffer, headers: Record<string, string> = {}) => {
      const r = await post('/v2/models/linear/versions/v1/infer', body, headers);
      expect(r.status).toBe(400);
      return (await r.json()).error as string;
    };
    expect(await bad(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }))).toMatch(/input.*expected shape/);
    expect(await bad(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2] }] }))).toMatch(/shape \[1, 3\] needs 3 values, got 2/);
    expect(await bad('{"inputs": [')).toMatch(/malformed/);
    expect(await bad(JSON.stringify({ inputs: [] }))).toMatch(/inputs/);
    expect(await bad(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3] }] }))).toMatch(/no data/);
    expect(await bad(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }], outputs: [{ name: 'nope' }] }))).toMatch(/unknown output "nope"/);
    // binary: a size that does not match the shape, a size past the body, extra bytes, no header
    const short = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 20 } }] }, f32bytes(X).subarray(0, 20));
    expect(await bad(short.body, short.headers)).toMatch(/binary_data_size is 20 bytes.*needs 6 x 4 = 24/);
    const past = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] }, f32bytes(X).subarray(0, 12));
    expect(await bad(past.body, past.headers)).toMatch(/runs past/);
    const extra = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] }, f32bytes(X), Buffer.alloc(4));
    expect(await bad(extra.body, extra.headers)).toMatch(/28 bytes of binary data.*24/);
    const noHeader = binaryBody({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] }, f32bytes(X));
    expect(await bad(noHeader.body, { 'content-type': 'application/octet-stream' })).toMatch(/malformed.*inference-header-content-length/);
    expect(await bad(Buffer.from('{}'), { 'inference-header-content-length': '99' })).toMatch(/only 2 bytes/);
    const ok = await post('/v2/models/linear/infer', JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }));
    expect(ok.status).toBe(200);
  });

  it('answers 413 for a body over the limit', async () => {
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const q = http.request(`${a.http}/v2/models/linear/infer`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json', 'content-length': String(65 * 1024 * 1024) } }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => { resolve({ status: res.statusCode!, body: b }); q.destroy(); });
      });
      q.on('error', (e) => setTimeout(() => reject(e), 300)); // a late EPIPE after the answer is harmless
      q.write('{"inputs": [');
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/larger than the limit/);
    // and a chunked body (no content-length) that grows past it
    const s = await new Promise<number>((resolve, reject) => {
      let status = 0;
      const q = http.request(`${a.http}/v2/models/linear/infer`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' } }, (res) => { status = res.statusCode!; res.resume(); resolve(status); q.destroy(); });
      // the agent closes the connection after its 413: our writes may then fail (EPIPE) before or after we read it
      q.on('error', (e) => setTimeout(() => (status ? resolve(status) : reject(e)), 300));
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = () => { while (sent < 70 && q.write(chunk)) sent++; if (sent < 70) q.once('drain', () => { sent++; pump(); }); };
      pump();
    });
    expect(s).toBe(413);
    expect((await get('/v2/models/linear/ready')).status).toBe(200); // still serving
  });
});
