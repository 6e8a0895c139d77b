import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { AgentClient, RpcCallError } from '../../shared/client/agent-client.js';
import { NodeStats, NodeInfoResult, NodeHistoryResult, methods, PROTOCOL_VERSION } from '../../shared/protocol/index.js';
import { inProcessAgent, rawSocket } from '../helpers/agent.js';

let a: Awaited<ReturnType<typeof inProcessAgent>>;
let url: string;
beforeAll(async () => { a = await inProcessAgent({}); url = a.agent.url; });
afterAll(async () => { await a.close(); });

const rpc = (ws: { ws: import('ws').WebSocket }, frame: string) => ws.ws.send(frame);

describe('authentication at the upgrade', () => {
  it('refuses a connection without a token with 401 and a hint', async () => {
    await expect(rawSocket(url, null)).rejects.toMatchObject({ status: 401 });
  });
  it('refuses a wrong or malformed token with 401', async () => {
    await expect(rawSocket(url, 'fml_000000000000_notthesecretnotthesecret')).rejects.toMatchObject({ status: 401 });
    await expect(rawSocket(url, 'garbage')).rejects.toMatchObject({ status: 401 });
  });
  it('refuses an incompatible protocol major with 400', async () => {
    await expect(rawSocket(url, a.token, { 'fleetml-protocol': '99.0' })).rejects.toMatchObject({ status: 400 });
  });
  it('sends hello first, with node and role', async () => {
    const s = await rawSocket(url, a.token);
    const hello = await s.next((f) => f.method === 'hello');
    expect(hello.params).toMatchObject({ protocol_version: PROTOCOL_VERSION, node: 'test-node', role: 'admin' });
    s.ws.close();
  });
});

describe('methods', () => {
  let c: AgentClient;
  beforeAll(async () => { c = new AgentClient({ url, token: a.token, reconnect: false }); await c.connect(); });
  afterAll(async () => { await c.close(); });

  it('auth.whoami names the token and role', async () => {
    const w = await c.call('auth.whoami');
    expect(w.role).toBe('admin');
    expect(w.node).toBe('test-node');
  });
  it('node.info matches its schema and reports the simulated GPU source', async () => {
    const info = NodeInfoResult.parse(await c.call('node.info'));
    expect(info.gpu).toMatchObject({ status: 'ok', source: 'sim', simulated: true, count: 2 });
    expect(info.host.cpu.cores).toBeGreaterThan(0);
  });
  it('node.stats matches its schema with real host numbers and both fixture GPUs', async () => {
    const s = NodeStats.parse(await c.call('node.stats'));
    expect(s.host.memory.total_bytes).toBeGreaterThan(0);
    expect(s.gpu.gpus.map((g) => g.name)).toEqual(['NVIDIA RTX A5000', 'NVIDIA RTX A5000']);
    expect(s.gpu.gpus[0].processes.some((p) => p.pid === 100477)).toBe(true);
  });
  it('node.history returns ring-buffered series that grow with samples', async () => {
    await new Promise((r) => setTimeout(r, 700));
    const h = NodeHistoryResult.parse(await c.call('node.history', { metrics: ['host.cpu_util_pct'] }));
    expect(Object.keys(h.series)).toEqual(['host.cpu_util_pct']);
    expect(h.series['host.cpu_util_pct'].ts.length).toBeGreaterThanOrEqual(2);
    expect(h.capacity).toBe(Math.ceil(900_000 / 200));
  });
  it('bad params are refused with -32602 naming the path', async () => {
    const e = await c.call('node.history', { metrics: 'cpu' as never }).catch((x) => x);
    expect(e).toBeInstanceOf(RpcCallError);
    expect(e.code).toBe(-32602);
    expect(e.message).toMatch(/metrics/);
  });
  it('a read token cannot call admin methods; an admin call is audited', async () => {
    const { token } = await c.call('token.create', { name: 'reader', role: 'read' });
    const r = new AgentClient({ url, token, reconnect: false });
    await r.connect();
    expect((await r.call('auth.whoami')).role).toBe('read');
    const e = await r.call('token.list').catch((x) => x);
    expect(e.codeName).toBe('FORBIDDEN');
    expect(e.message).toMatch(/needs role admin/);
    await r.close();
    const db = new Database(join(a.dir, 'fleetml.db'), { readonly: true });
    const rows = db.prepare('SELECT method, outcome, token_name, role FROM audit ORDER BY id').all() as any[];
    db.close();
    expect(rows).toContainEqual(expect.objectContaining({ method: 'token.create', outcome: 'ok', role: 'admin' }));
  });
  it('a revoked token ends its open sessions and is refused at the next connection', async () => {
    const { token } = await c.call('token.create', { name: 'shortlived', role: 'read' });
    const open = await rawSocket(url, token);
    expect((await c.call('token.revoke', { token: 'shortlived' })).revoked).toBe(true);
    expect(await open.closed).toMatchObject({ code: 4001, reason: 'token revoked' });
    await expect(rawSocket(url, token)).rejects.toMatchObject({ status: 401 });
  });
  it('node.history can return only the newest points a sparkline needs', async () => {
    const h = await c.call('node.history', { metrics: ['host.cpu_util_pct'], points: 1 });
    expect(h.series['host.cpu_util_pct'].values).toHaveLength(1);
  });
  it('declares a role for every method', () => {
    for (const m of Object.values(methods)) expect(['read', 'operate', 'admin']).toContain(m.role);
  });
});

describe('bad frames never take the connection or the agent down', () => {
  it('answers malformed JSON, bad envelopes and unknown methods with JSON-RPC errors on the same socket', async () => {
    const s = await rawSocket(url, a.token);
    await s.next((f) => f.method === 'hello');
    rpc(s, '{not json');
    expect((await s.next()).error).toMatchObject({ code: -32700 });
    rpc(s, JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'node.info' }));
    expect((await s.next()).error).toMatchObject({ code: -32600 });
    rpc(s, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'no.such' }));
    const nf = await s.next();
    expect(nf.error.code).toBe(-32601);
    expect(nf.error.message).toContain('no.such');
    rpc(s, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'node.info', params: { extra: 1 } }));
    expect((await s.next()).error).toMatchObject({ code: -32602 });
    rpc(s, JSON.stringify([{ jsonrpc: '2.0', id: 4, method: 'auth.whoami' }, { jsonrpc: '2.0', id: 5, method: 'nope' }]));
    const batch = await s.next();
    expect(batch.map((r: any) => r.id).sort()).toEqual([4, 5]);
    s.ws.send(Buffer.from([1, 2, 3])); // a binary frame too short for its header
    expect((await s.next()).error).toMatchObject({ code: -32600 });
    const h = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'node.info' }));
    const len = Buffer.alloc(4); len.writeUInt32LE(h.length);
    s.ws.send(Buffer.concat([len, h])); // binary frames carry only model.infer
    expect((await s.next()).error).toMatchObject({ code: -32600, message: expect.stringMatching(/only .*model.infer/) });
    rpc(s, JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'auth.whoami' }));
    expect((await s.next()).result.role).toBe('admin');
    s.ws.close();
  });
  it('closes only the offending connection with 1009 on an oversized frame', async () => {
    const other = await rawSocket(url, a.token);
    const s = await rawSocket(url, a.token);
    s.ws.send('x'.repeat(2 * 1024 * 1024));
    expect((await s.closed).code).toBe(1009);
    other.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'auth.whoami' }));
    expect((await other.next((f) => f.id === 1)).result.role).toBe('admin');
    other.ws.close();
  });
});

describe('malformed HTTP upgrades', () => {
  it('answers a request whose target cannot be parsed, and keeps serving', async () => {
    const { connect } = await import('node:net');
    const reply = await new Promise<string>((resolve) => {
      const sock = connect(a.agent.port, '127.0.0.1', () => {
        sock.write(`GET http://[bad/rpc HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${a.token}\r\n\r\n`);
      });
      let buf = '';
      sock.on('data', (d) => { buf += d; });
      sock.on('close', () => resolve(buf));
      sock.setTimeout(5000, () => { sock.destroy(); resolve(buf + '(timeout: socket left open)'); });
    });
    expect(reply).toMatch(/^HTTP\/1\.1 (400|404)/);
    expect((await fetch(`${a.http}/healthz`)).status).toBe(200);
  });
});

describe('subscriptions', () => {
  it('answers a snapshot, then events with increasing seq; unsubscribe stops them', async () => {
    const s = await rawSocket(url, a.token);
    await s.next((f) => f.method === 'hello');
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'node.stats' } }));
    const r = await s.next((f) => f.id === 1);
    NodeStats.parse(r.result.snapshot);
    const id = r.result.subscriptionId;
    const e1 = await s.next((f) => f.method === 'subscription');
    const e2 = await s.next((f) => f.method === 'subscription');
    expect(e1.params.subscriptionId).toBe(id);
    expect(e2.params.seq).toBe(e1.params.seq + 1);
    NodeStats.parse(e2.params.data);
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'unsubscribe', params: { subscriptionId: id } }));
    expect((await s.next((f) => f.id === 2)).result.ok).toBe(true);
    s.frames.length = 0;
    await new Promise((res) => setTimeout(res, 600));
    expect(s.frames.filter((f) => f.method === 'subscription')).toHaveLength(0);
    s.ws.close();
  });
  it('unknown topics are refused and closing the socket ends its subscriptions', async () => {
    const c = new AgentClient({ url, token: a.token, reconnect: false });
    await c.connect();
    const e = await c.subscribe('nope' as never, {}, () => undefined).catch((x) => x);
    expect(e.codeName).toBe('NOT_FOUND');
    await c.subscribe('node.stats', {}, () => undefined);
    await c.subscribe('node.stats', {}, () => undefined);
    const m1 = await (await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text();
    expect(Number(/^fleetml_subscriptions (\d+)/m.exec(m1)?.[1])).toBeGreaterThanOrEqual(2);
    await c.close();
    await new Promise((r) => setTimeout(r, 100));
    const m2 = await (await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text();
    expect(/^fleetml_subscriptions (\d+)/m.exec(m2)?.[1]).toBe('0');
  });
});

describe('HTTP endpoints', () => {
  it('healthz and readyz answer without a token', async () => {
    expect((await fetch(`${a.http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${a.http}/readyz`)).json()).toEqual({ status: 'ready', service: 'fleetml-agent', pid: process.pid });
  });
  it('/metrics needs a token', async () => {
    expect((await fetch(`${a.http}/metrics`)).status).toBe(401);
  });
  it('/metrics has DCGM-named GPU gauges with DCGM labels, and passes promtool', async () => {
    const res = await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } });
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    for (const name of ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_SM_CLOCK', 'DCGM_FI_DEV_MEM_CLOCK']) {
      expect(text).toMatch(new RegExp(`^${name}\\{gpu="0",UUID="GPU-[^"]+",pci_bus_id="[^"]*",device="nvidia0",modelName="NVIDIA RTX A5000",Hostname="test-node"\\} [0-9.e+-]+$`, 'm'));
    }
    // fan is N/A on this fixture? Only values the GPU reports are exported: never a 0 for unknown
    expect(text).toMatch(/^fleetml_gpu_info\{status="ok",source="sim",simulated="true"/m);
    const promtool = spawnSync('promtool', ['--version']);
    if (promtool.error) throw new Error('promtool is required for this test (Debian package prometheus; .ci/run installs it)');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // promtool: exit 1 + "error while linting" for a text-format parse error; exit 3 for lint advice only
    // (DCGM's own label names are camelCase, which the linter flags; we keep them so dashboards work unchanged).
    expect(r.stderr + r.stdout).not.toMatch(/error while linting|parsing error/);
    expect([0, 3]).toContain(r.status);
  });
});
