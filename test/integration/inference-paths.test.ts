import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient, RpcCallError } from '../../shared/client/agent-client.js';
import { ErrorCodes } from '../../shared/protocol/index.js';
import { freePort, rawSocket, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// The three ways to infer — JSON-RPC text frames, binary WebSocket frames, KServe v2 HTTP — are one path through the
// RpcDispatcher: the same role check, params bounds, metrics and stable error codes. A real agent process, so its RSS
// is its own.

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let readToken: string;
let admin: AgentClient;
let reader: AgentClient;
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

beforeAll(async () => {
  tmp = tempDir();
  agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name: 'paths', args: ['--gpu-source', 'none', '--job-driver', 'fake'] });
  admin = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 });
  await admin.connect();
  readToken = (await admin.call('token.create', { name: 'reader', role: 'read' })).token;
  await pushModel(admin, 'lin', modelBytes('linear.onnx'));
  reader = new AgentClient({ url: agent.url, token: readToken, reconnect: false, callTimeoutMs: 30_000 });
  await reader.connect();
}, 60_000);
afterAll(async () => { await reader?.close(); await admin?.close(); await agent?.stop(); tmp?.cleanup(); });

/** A binary frame built by hand ([u32 LE header length][header JSON][payload]): the wire, not the codec under test. */
function frame(header: unknown, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  return Buffer.concat([len, h, payload]);
}
const f32 = (n: number) => Buffer.from(new Float32Array(n).fill(0.5).buffer);

/** One inference over each transport with the read token: the error's stable name (or 'ok') and the message. */
type Outcome = { code: string; message: string; status?: number };
const viaJson = (name: string, shape: number[]): Promise<Outcome> =>
  reader.call('model.infer', { name, inputs: [{ name: 'input', datatype: 'FP32', shape, data: Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) }] })
    .then(() => ({ code: 'ok', message: '' }), (e: RpcCallError) => ({ code: e.codeName, message: e.message }));
const viaBinary = (name: string, shape: number[]): Promise<Outcome> =>
  reader.inferBinary(name, [{ name: 'input', datatype: 'FP32', shape, data: f32(shape.reduce((a, b) => a * b, 1)) }])
    .then(() => ({ code: 'ok', message: '' }), (e: RpcCallError) => ({ code: e.codeName, message: e.message }));
async function viaHttp(name: string, shape: number[]): Promise<Outcome> {
  const r = await fetch(`${agent.httpUrl}/v2/models/${encodeURIComponent(name)}/infer`, {
    method: 'POST', headers: { authorization: `Bearer ${readToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape, data: Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) }] }),
  });
  const body = await r.json() as { error?: string; code?: string };
  return { code: r.ok ? 'ok' : body.code ?? `(no code, HTTP ${r.status})`, message: body.error ?? '', status: r.status };
}

/** fleetml_rpc_calls_total for one method and outcome, read from /metrics. */
async function rpcCalls(method: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${agent.httpUrl}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } })).text();
  const m = new RegExp(`^fleetml_rpc_calls_total\\{method="${method.replace('.', '\\.')}",outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('one error vocabulary for every inference transport', () => {
  const faults: Array<{ fault: string; name: string; shape: number[]; code: string; status: number; message: RegExp }> = [
    { fault: 'unknown model', name: 'ghost', shape: [1, 3], code: 'NOT_FOUND', status: 404, message: /ghost/ },
    { fault: 'wrong shape', name: 'lin', shape: [1, 4], code: 'INVALID_PARAMS', status: 400, message: /shape/ },
    { fault: 'over-long model name', name: 'a'.repeat(300), shape: [1, 3], code: 'INVALID_PARAMS', status: 400, message: /name: Too big/ },
    { fault: 'malformed model name', name: 'Not A Name', shape: [1, 3], code: 'INVALID_PARAMS', status: 400, message: /model names are/ },
  ];
  it.each(faults)('$fault: $code over JSON-RPC, binary frames and HTTP v2', async ({ name, shape, code, status, message }) => {
    const [j, b, h] = await Promise.all([viaJson(name, shape), viaBinary(name, shape), viaHttp(name, shape)]);
    expect(j).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(b).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(h).toMatchObject({ code, status, message: expect.stringMatching(message) });
  });

  it('forbidden role: a read token gets FORBIDDEN from the dispatcher over JSON-RPC and binary frames alike', async () => {
    // HTTP v2 has no endpoint above the read role, so FORBIDDEN cannot arise there for a valid token.
    const params = { name: 'lin', targets: [{ version: 'v1', weight: 100 }] };
    const j = await reader.call('model.alias', params).catch((e: RpcCallError) => e);
    const s = await rawSocket(agent.url, readToken);
    await s.next((f) => f.method === 'hello');
    s.ws.send(frame({ jsonrpc: '2.0', id: 'alias', method: 'model.alias', params }));
    const b = await s.next((f) => f.id === 'alias');
    s.ws.close();
    expect(j).toBeInstanceOf(RpcCallError);
    expect((j as RpcCallError).codeName).toBe('FORBIDDEN');
    expect(b.error).toMatchObject({ code: ErrorCodes.FORBIDDEN, message: (j as RpcCallError).message, data: { code: 'FORBIDDEN' } });
    expect(b.error.message).toBe('model.alias needs role operate; token "reader" has read'); // the dispatcher's words
  });
});

describe('binary frames through the dispatcher', () => {
  it('lets a read token infer, and names an over-long field while the connection stays usable', async () => {
    const ok = await reader.inferBinary('lin', [{ name: 'input', datatype: 'FP32', shape: [2, 3], data: f32(6) }]);
    expect(ok.model_name).toBe('lin');
    expect(ok.outputs[0].data.length).toBeGreaterThan(0);
    const s = await rawSocket(agent.url, readToken);
    await s.next((f) => f.method === 'hello');
    const long = 'x'.repeat(512 * 1024);
    s.ws.send(frame({ jsonrpc: '2.0', id: 1, method: 'model.infer', params: { name: 'lin', version: long, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], binary_data_size: 12 }] } }, f32(3)));
    const e = await s.next((f) => f.id === 1);
    expect(e.error).toMatchObject({ code: ErrorCodes.INVALID_PARAMS, data: { code: 'INVALID_PARAMS' } });
    expect(e.error.message).toMatch(/^invalid params for model\.infer: version: Too big/);
    expect(e.error.message.length).toBeLessThan(1000); // the message does not echo the value
    s.ws.send(frame({ jsonrpc: '2.0', id: 2, method: 'model.infer', params: { name: 'lin', inputs: [{ name: 'x'.repeat(300), datatype: 'FP32', shape: [1, 3], binary_data_size: 12 }] } }, f32(3)));
    expect((await s.next((f) => f.id === 2)).error.message).toMatch(/inputs\.0\.name: Too big/);
    const answer = new Promise<Buffer>((r) => s.ws.once('message', (d, isBinary) => { if (isBinary) r(d as Buffer); }));
    s.ws.send(frame({ jsonrpc: '2.0', id: 3, method: 'model.infer', params: { name: 'lin', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], binary_data_size: 12 }] } }, f32(3)));
    const a = await answer;
    expect(JSON.parse(a.toString('utf8', 4, 4 + a.readUInt32LE(0)))).toMatchObject({ id: 3, result: { model_name: 'lin' } });
    s.ws.close();
  });

  it('counts binary and HTTP v2 inferences in fleetml_rpc_calls_total under model.infer', async () => {
    const okBefore = await rpcCalls('model.infer', 'ok');
    const nfBefore = await rpcCalls('model.infer', 'NOT_FOUND');
    for (let i = 0; i < 3; i++) expect((await viaBinary('lin', [1, 3])).code).toBe('ok');
    for (let i = 0; i < 2; i++) expect((await viaHttp('lin', [1, 3])).code).toBe('ok');
    expect((await viaBinary('ghost', [1, 3])).code).toBe('NOT_FOUND');
    expect((await viaHttp('ghost', [1, 3])).code).toBe('NOT_FOUND');
    expect(await rpcCalls('model.infer', 'ok')).toBe(okBefore + 5);
    expect(await rpcCalls('model.infer', 'NOT_FOUND')).toBe(nfBefore + 2);
  });
});

describe('binary frames with thousands of distinct long model names (read token)', () => {
  it('do not grow the agent: each is refused by the schema before any lookup', async () => {
    const s = await rawSocket(agent.url, readToken);
    await s.next((f) => f.method === 'hello');
    const payload = f32(3);
    const NAME_BYTES = 256 * 1024;
    const send = (i: number) => {
      const name = `m${i}-`.padEnd(NAME_BYTES, String.fromCharCode(97 + (i % 26)));
      s.ws.send(frame({ jsonrpc: '2.0', id: i, method: 'model.infer', params: { name, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], binary_data_size: 12 }] } }, payload));
      return s.next((f) => f.id === i, 30_000);
    };
    const run = async (from: number, to: number, window = 16) => {
      let last: any;
      for (let i = from; i < to; i += window) {
        const batch = [];
        for (let k = i; k < Math.min(to, i + window); k++) batch.push(send(k));
        last = (await Promise.all(batch)).at(-1);
      }
      return last;
    };
    await run(0, 64); // warm-up: buffers and code paths
    const before = rssKb(agent.child.pid!);
    const last = await run(64, 4064); // 4000 distinct 256 KiB names: ~1 GiB a per-name cache would hold
    const grownMb = (rssKb(agent.child.pid!) - before) / 1024;
    expect(grownMb).toBeLessThan(64);
    expect(last.error).toMatchObject({ code: ErrorCodes.INVALID_PARAMS, data: { code: 'INVALID_PARAMS' } });
    expect(last.error.message).toMatch(/^invalid params for model\.infer: name: Too big/);
    console.log(`agent RSS before ${Math.round(before / 1024)} MiB, after 4000 frames ${Math.round(before / 1024 + grownMb)} MiB (grew ${grownMb.toFixed(1)} MiB)`);
    s.ws.close();
  }, 180_000);
});
