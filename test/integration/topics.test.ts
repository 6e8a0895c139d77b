// Topics are declared once (shared/protocol/subscribe.ts): the agent must send what each declaration says, and the
// client decodes with the same schemas, refusing what does not match instead of handing it on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { topics, PROTOCOL_VERSION, type TopicName } from '../../shared/protocol/index.js';
import { AgentClient, TopicDecodeError, type TopicMessage } from '../../shared/client/agent-client.js';
import { freePort, inProcessAgent, rawSocket } from '../helpers/agent.js';

describe('topics as declared', () => {
  let a: Awaited<ReturnType<typeof inProcessAgent>>;
  beforeAll(async () => { a = await inProcessAgent({ jobDriver: ['fake'] }); }, 30_000);
  afterAll(async () => { await a?.close(); });

  it('every topic the agent serves answers a snapshot, and sends events, that decode with its declaration', async () => {
    const s = await rawSocket(a.agent.url, a.token);
    await s.next((f) => f.method === 'hello');
    const subs = new Map<string, TopicName>();
    let id = 0;
    const call = async (method: string, params: unknown) => {
      const n = ++id;
      s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: n, method, params }));
      return s.next((f) => f.id === n);
    };
    for (const name of Object.keys(topics) as TopicName[]) {
      const params = name === 'job.logs' ? null : {};
      if (params === null) continue; // job.logs needs a job: subscribed below
      const r = await call('subscribe', { topic: name, params });
      if (r.error) { expect(r.error.data.code, `${name}: ${r.error.message}`).toBe('UNAVAILABLE'); continue; }
      expect(topics[name].snapshot.safeParse(r.result.snapshot).error, `${name} snapshot`).toBeUndefined();
      subs.set(r.result.subscriptionId, name);
    }
    expect([...subs.values()]).toEqual(expect.arrayContaining(['node.stats', 'job.events']));
    const job = (await call('job.submit', { spec: { driver: 'fake', command: ['echo', 'hi'] } })).result.job;
    const logs = await call('subscribe', { topic: 'job.logs', params: { id: job.id } });
    expect(topics['job.logs'].snapshot.safeParse(logs.result.snapshot).error).toBeUndefined();
    subs.set(logs.result.subscriptionId, 'job.logs');
    // events of node.stats (each sample) and job.events (the job's changes)
    const seen = new Set<TopicName>();
    const deadline = Date.now() + 10_000;
    while ((!seen.has('node.stats') || !seen.has('job.events')) && Date.now() < deadline) {
      const ev = await s.next((f) => f.method === 'subscription', 10_000);
      const name = subs.get(ev.params.subscriptionId)!;
      expect(topics[name].event.safeParse(ev.params.data).error, `${name} event ${JSON.stringify(ev.params.data).slice(0, 200)}`).toBeUndefined();
      seen.add(name);
    }
    expect([...seen]).toEqual(expect.arrayContaining(['node.stats', 'job.events']));
    s.ws.close();
  }, 30_000);

  it('the client hands typed snapshots and events to the handler', async () => {
    const c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false });
    await c.connect();
    try {
      const got: TopicMessage<'job.events'>[] = [];
      const sub = await c.subscribe('job.events', {}, (m) => got.push(m));
      expect(Array.isArray(sub.snapshot.jobs)).toBe(true);
      const { job } = await c.call('job.submit', { spec: { driver: 'fake', command: ['true'] } });
      const deadline = Date.now() + 10_000;
      while (!got.some((m) => !m.snapshot && 'job' in m.data && m.data.job.id === job.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const ev = got.find((m) => !m.snapshot && 'job' in m.data && m.data.job.id === job.id);
      expect(ev && !ev.snapshot && 'job' in ev.data ? ev.data.job.spec.command : null).toEqual(['true']);
      await sub.close();
    } finally { await c.close(); }
  }, 20_000);
});

describe('the client against an agent that breaks the declaration', () => {
  it('reports a malformed event as a TopicDecodeError and does not hand it to the handler', async () => {
    const port = await freePort();
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'hello', params: { protocol_version: PROTOCOL_VERSION, agent_version: '0.0.0', node: 'liar', node_id: 'x', role: 'read', token_name: 't' } }));
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.method !== 'subscribe') return;
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { subscriptionId: 's1', snapshot: { alerts: [] } } }));
        // an event whose alert is a string, and then a well-formed resolve of nothing the client knows
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { subscriptionId: 's1', seq: 1, data: { type: 'raised', alert: 'oops' } } }));
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { subscriptionId: 's1', seq: 2, data: { type: 'sideways', alert: {} } } }));
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const c = new AgentClient({ url: `ws://127.0.0.1:${port}`, token: 't', reconnect: false });
    const errors: unknown[] = [];
    c.on('handler-error', (e) => errors.push(e));
    try {
      await c.connect();
      const handed: unknown[] = [];
      const sub = await c.subscribe('drift.alerts', {}, (m) => handed.push(m));
      expect(sub.snapshot).toEqual({ alerts: [] });
      const deadline = Date.now() + 5000;
      while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(handed).toEqual([]);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toBeInstanceOf(TopicDecodeError);
      expect((errors[0] as Error).message).toMatch(/^drift\.alerts event from the agent does not match the protocol: alert:/);
      expect((errors[1] as Error).message).toMatch(/type:/);
    } finally {
      await c.close();
      await new Promise((r) => wss.close(r));
    }
  }, 20_000);

  it('keeps the items of a snapshot that decode, reports the others, and leaves nothing behind when a subscribe fails', async () => {
    const port = await freePort();
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    const unsubscribed: string[] = [];
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'hello', params: { protocol_version: PROTOCOL_VERSION, agent_version: '0.0.0', node: 'skewed', node_id: 'x', role: 'read', token_name: 't' } }));
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.method === 'unsubscribe') { unsubscribed.push(m.params.subscriptionId); ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { ok: true } })); return; }
        if (m.method !== 'subscribe') return;
        if (m.params.topic === 'job.logs') {
          // an answer nothing of which decodes: the subscribe fails, and the agent is told to drop it
          ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { subscriptionId: 's-logs', snapshot: 'not a snapshot' } }));
          ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { subscriptionId: 's-logs', seq: 1, data: { ts: 1, stream: 'stdout', line: 'late' } } }));
          return;
        }
        const alert = { id: 1, name: 'credit', version: '1', raised_at: 1, resolved_at: null, features: ['income'], predictions: [], prediction_drift: false, drift_share: 0.5, consecutive: 3, message: 'drift' };
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { subscriptionId: 's1', snapshot: { alerts: [alert, { ...alert, id: 'two', raised_at: 'yesterday' }] } } }));
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const c = new AgentClient({ url: `ws://127.0.0.1:${port}`, token: 't', reconnect: false });
    const errors: Error[] = [];
    c.on('handler-error', (e) => errors.push(e));
    try {
      await c.connect();
      const sub = await c.subscribe('drift.alerts', {}, () => undefined);
      expect(sub.snapshot.alerts.map((a) => a.id)).toEqual([1]);
      expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^drift\.alerts snapshot .*alerts: an item was left out/)]);
      const lines: unknown[] = [];
      const e = await c.subscribe('job.logs', { id: 'j1' }, (m) => lines.push(m)).catch((x) => x);
      expect(e).toBeInstanceOf(TopicDecodeError);
      await new Promise((r) => setTimeout(r, 100));
      expect(lines).toEqual([]);
      expect(unsubscribed).toEqual(['s-logs']);
    } finally {
      await c.close();
      await new Promise((r) => wss.close(r));
    }
  }, 20_000);
});
