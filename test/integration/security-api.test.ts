import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import WebSocket from 'ws';
import Database from 'better-sqlite3';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, rawSocket, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// Attacks on the API of a real agent process (its own heap, so its RSS is measurable), each as an outsider or a
// low-role token would try it.

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let readToken: string;
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const connect = async (token: string) => { const c = new AgentClient({ url: agent.url, token, reconnect: false, callTimeoutMs: 30_000 }); await c.connect(); return c; };
const auditRows = (where: string, ...args: unknown[]) => {
  const db = new Database(join(agent.dataDir, 'fleetml.db'), { readonly: true, fileMustExist: true });
  try { return db.prepare(`SELECT method, outcome, token_name, detail FROM audit WHERE ${where} ORDER BY id`).all(...args) as Array<{ method: string; outcome: string; token_name: string; detail: string | null }>; } finally { db.close(); }
};

beforeAll(async () => {
  tmp = tempDir();
  agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name: 'sec', args: ['--gpu-source', 'none', '--job-driver', 'fake'] });
  const c = await connect(agent.token);
  readToken = (await c.call('token.create', { name: 'reader', role: 'read' })).token;
  await pushModel(c, 'mlp', modelBytes('mlp.onnx'));
  await c.close();
}, 60_000);
afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

/** A binary model.infer frame: [u32 LE header length][header JSON][payload]. */
function binaryFrame(header: unknown, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  return Buffer.concat([len, h, payload]);
}

describe('binary frames with over-long model names (read token)', () => {
  it('answers each with a clear INVALID_PARAMS error, and the agent does not grow', async () => {
    const s = await rawSocket(agent.url, readToken);
    await s.next((f) => f.method === 'hello');
    const payload = Buffer.alloc(64 * 4);
    const send = (i: number) => {
      const name = `m${i}-`.padEnd(1_000_000, String.fromCharCode(97 + (i % 26)));
      s.ws.send(binaryFrame({ jsonrpc: '2.0', id: i, method: 'model.infer', params: { name, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], binary_data_size: payload.length }] } }, payload));
      return s.next((f) => f.id === i, 20_000);
    };
    // settle: the first frames warm up buffers and code paths
    for (let i = 0; i < 20; i++) await send(i);
    const before = rssKb(agent.child.pid!);
    let last: any;
    for (let i = 20; i < 320; i++) last = await send(i);
    const grownMb = (rssKb(agent.child.pid!) - before) / 1024;
    expect(last.error.data.code).toBe('INVALID_PARAMS');
    // the same message as JSON-RPC gives for the same params: the failing field, relative to params
    expect(last.error.message).toMatch(/^invalid params for model\.infer: name: /);
    // 300 distinct 1 MB names: a cache of them would hold >= 300 MB
    expect(grownMb).toBeLessThan(100);
    // and the agent still serves a proper binary request on the same socket
    const ok = new Promise<Buffer>((r) => s.ws.once('message', (d, isBinary) => { if (isBinary) r(d as Buffer); }));
    s.ws.send(binaryFrame({ jsonrpc: '2.0', id: 'ok', method: 'model.infer', params: { name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], binary_data_size: payload.length }] } }, payload));
    const answer = await ok;
    const header = JSON.parse(answer.toString('utf8', 4, 4 + answer.readUInt32LE(0)));
    expect(header.result.model_name).toBe('mlp');
    s.ws.close();
  }, 120_000);
});

describe('bad-token floods from the same address', () => {
  it('never lock out a valid token: WebSocket, /metrics and /v2 answer it while 40 bad attempts wait', async () => {
    const url = new URL(agent.httpUrl);
    const badAttempt = (i: number) => new Promise<number>((resolve) => {
      const ws = new WebSocket(agent.url, { headers: { authorization: `Bearer not-a-token-${i}` } });
      ws.on('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.on('error', () => resolve(-1));
      ws.on('open', () => { resolve(101); ws.close(); });
    });
    // past the free failures of this address (api.auth_fail_free = 5), one at a time
    for (let i = 0; i < 6; i++) expect(await badAttempt(i)).toBe(401);
    // then 40 bad-token upgrades at once: each one now waits out a penalty, so they pile up in flight
    const bad = Array.from({ length: 40 }, (_, i) => badAttempt(100 + i));
    await new Promise((r) => setTimeout(r, 50));
    const get = (path: string, token: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: url.hostname, port: url.port, path, headers: { authorization: `Bearer ${token}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    const [metrics, v2] = await Promise.all([get('/metrics', readToken), get('/v2/models/mlp', readToken)]);
    expect(metrics).toBe(200);
    expect(v2).toBe(200);
    const c = await connect(readToken);
    expect((await c.call('auth.whoami', {})).role).toBe('read');
    await c.close();
    const codes = await Promise.all(bad);
    expect(codes.every((x) => x === 401 || x === 429)).toBe(true);
    expect(codes).toContain(401);
  }, 60_000);

  it('a valid login does not reset the slow-down of bad tokens from the same address', async () => {
    const attempt = (token: string) => new Promise<{ status: number; ms: number }>((resolve) => {
      const t0 = Date.now();
      const ws = new WebSocket(agent.url, { headers: { authorization: `Bearer ${token}` } });
      ws.on('unexpected-response', (_q, res) => { resolve({ status: res.statusCode ?? 0, ms: Date.now() - t0 }); ws.terminate(); });
      ws.on('open', () => { resolve({ status: 101, ms: Date.now() - t0 }); ws.close(); });
      ws.on('error', () => resolve({ status: -1, ms: Date.now() - t0 }));
    });
    // the flood above left this address well past its free failures: a valid login, then the same bad token again
    expect((await attempt(readToken)).status).toBe(101);
    const again = await attempt('still-not-a-token');
    expect(again.status).toBe(401);
    // the agent's own count says it is slowed down: its log names no reset, and the metric counts every failure
    const c = await connect(agent.token);
    await c.close();
    const text = await (await fetch(`${agent.httpUrl}/metrics`, { headers: { authorization: `Bearer ${readToken}` } })).text();
    const failures = Number(/^fleetml_auth_failures_total\S*\s+(\d+)/m.exec(text)?.[1] ?? NaN);
    expect(failures).toBeGreaterThanOrEqual(47);
    // slowed: the answer waited for a penalty (>= 100 ms) although the last login from this address succeeded
    expect(again.ms).toBeGreaterThanOrEqual(100);
  }, 60_000);
});

/** POST a body of `size` bytes (sent in 1 MiB pieces, no content-length: the agent sees it grow), resolving with
 * the status and error; the agent may cut the connection after answering. */
function post(path: string, token: string, size: number, head: string, headers: Record<string, string> = {}, gate?: { sent: () => void; open: Promise<void> }): Promise<{ status: number; error: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let counted = false;
    const reached = () => { if (!counted) { counted = true; gate?.sent(); } }; // sent all it will send before the gate
    const q = http.request(`${agent.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      reached();
      res.on('end', () => { settled = true; resolve({ status: res.statusCode!, error: (() => { try { return JSON.parse(b).error as string; } catch { return b; } })() }); q.destroy(); });
    });
    q.on('error', (e) => { reached(); setTimeout(() => { if (!settled) reject(e); }, 500); });
    q.on('close', reached);
    const piece = Buffer.alloc(1024 * 1024, '0,');
    let sent = Buffer.byteLength(head);
    q.write(head);
    // with a gate: all but the last piece, then wait until every request of the test has sent as much
    const last = () => { if (q.destroyed) return; q.write(piece.subarray(0, Math.max(0, size - sent))); q.end(); };
    const pump = () => {
      const stopAt = gate ? size - piece.length : size;
      while (sent < stopAt && !q.destroyed) { const n = Math.min(piece.length, stopAt - sent); sent += n; if (!q.write(piece.subarray(0, n))) return void q.once('drain', pump); }
      if (!gate) { if (!q.destroyed) q.end(); return; }
      reached();
      void gate.open.then(last);
    };
    pump();
  });
}

describe('KServe v2 requests with huge JSON bodies (read token)', () => {
  it('are refused before they are parsed, six at once, and the agent neither stalls nor balloons', async () => {
    const before = rssKb(agent.child.pid!);
    const head = '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],"data":[';
    const six = await Promise.all(Array.from({ length: 6 }, () => post('/v2/models/mlp/infer', readToken, 60 * 1024 * 1024, head)));
    for (const r of six) {
      expect(r.status).toBe(413);
      expect(r.error).toMatch(/JSON request body is larger than the limit of 8388608 bytes .*binary data/);
    }
    expect((rssKb(agent.child.pid!) - before) / 1024).toBeLessThan(500);
    // /healthz answers right after
    expect((await fetch(`${agent.httpUrl}/healthz`)).status).toBe(200);
  }, 120_000);

  it('caps the tensor elements sent as JSON, from the shapes, before converting any data', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [40_000, 64], data: [1] }] });
    const r = await fetch(`${agent.httpUrl}/v2/models/mlp/infer`, { method: 'POST', headers: { authorization: `Bearer ${readToken}`, 'content-type': 'application/json' }, body });
    expect(r.status).toBe(413);
    expect((await r.json()).error).toMatch(/more than 1048576 tensor elements as JSON/);
  });

  it('bounds the bytes all requests buffer at once: past it, 503 with retry-after', async () => {
    // binary requests may be 64 MiB each; six at once would hold 384 MiB, the bound is 256 MiB
    const head = '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],"parameters":{"binary_data_size":62914560}}]}';
    let sent = 0;
    let open!: () => void;
    const gate = { open: new Promise<void>((r) => { open = r; }), sent: () => { if (++sent === 6) setTimeout(open, 300); } };
    const six = await Promise.all(Array.from({ length: 6 }, () => post('/v2/models/mlp/infer', readToken, Buffer.byteLength(head) + 60 * 1024 * 1024, head, { 'inference-header-content-length': String(Buffer.byteLength(head)) }, gate)));
    const statuses = six.map((r) => r.status);
    expect(statuses).toContain(503);
    expect(six.find((r) => r.status === 503)!.error).toMatch(/retry/);
    // the others got through reading and were judged on their content (the tensor does not fit the shape)
    expect(statuses.filter((x) => x === 400).length).toBeGreaterThan(0);
    expect((await fetch(`${agent.httpUrl}/healthz`)).status).toBe(200);
  }, 120_000);
});

describe('traffic of a read token', () => {
  it('that becomes a version\'s automatic drift reference is in the audit log', async () => {
    const c = await connect(readToken);
    const row = (i: number) => Array.from({ length: 64 }, (_, j) => ((i * 64 + j) % 97) / 97);
    // drift.auto_reference_rows (1000): the first 1000 captured rows of mlp v1 become its reference
    for (let b = 0; b < 12; b++) {
      const data = Array.from({ length: 100 }, (_, i) => row(b * 100 + i)).flat();
      await c.call('model.infer', { name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [100, 64], data }] });
    }
    await c.close();
    let rows: ReturnType<typeof auditRows> = [];
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      rows = auditRows("method = 'drift.setReference' AND token_name = 'agent'");
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0].detail!)).toMatchObject({ automatic: true, source: 'traffic', rows: expect.any(Number) });
  }, 60_000);
});

describe('refused calls in a loop (read token)', () => {
  it('write a bounded number of audit rows that still count every refusal', async () => {
    const c = await connect(readToken);
    const n = 3000;
    const results = await Promise.all(Array.from({ length: n }, () => c.call('job.cancel', { id: 'j_nope' }).catch((e) => e.codeName)));
    expect(results.every((r) => r === 'FORBIDDEN')).toBe(true);
    await c.close();
    const rows = auditRows("method = 'job.cancel' AND token_name = 'reader'");
    expect(rows.length).toBeLessThanOrEqual(3);
    expect(rows[0].outcome).toBe('FORBIDDEN');
  }, 60_000);

  it('params nested too deep for JSON.stringify still get their audit row', async () => {
    const before = auditRows("method = 'model.alias' AND token_name = 'reader'").length;
    const s = await rawSocket(agent.url, readToken);
    await s.next((f) => f.method === 'hello');
    const depth = 200_000;
    s.ws.send(`{"jsonrpc":"2.0","id":7,"method":"model.alias","params":{"name":"mlp","targets":${'['.repeat(depth)}${']'.repeat(depth)}}}`);
    const r = await s.next((f) => f.id === 7, 20_000);
    s.ws.close();
    expect(r.error.data.code).toBe('FORBIDDEN');
    expect(auditRows("method = 'model.alias' AND token_name = 'reader'").length).toBe(before + 1);
    // and the agent is alive
    const c = await connect(readToken);
    expect((await c.call('auth.whoami', {})).role).toBe('read');
    await c.close();
  }, 60_000);

  it('the repeats are written as one row with their count when the agent stops', async () => {
    await agent.stop('SIGTERM');
    const rows = auditRows("method = 'job.cancel' AND token_name = 'reader'");
    // a row per window opened, plus the repeats its closing row counted
    const counted = rows.reduce((a, r) => a + (r.detail ? (JSON.parse(r.detail).repeated as number) : 1), 0);
    expect(counted).toBe(3000);
    agent = await spawnAgent({ dataDir: agent.dataDir, port: agent.port, name: 'sec', args: ['--gpu-source', 'none', '--job-driver', 'fake'] });
  }, 60_000);
});
