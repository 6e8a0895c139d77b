// The fleet client against an agent older than protocol 1.9 (no `models` topic): a real agent behind a WebSocket proxy
// that answers `subscribe {topic: "models"}` the way such an agent does (NOT_FOUND: unknown topic) and forwards every
// other frame untouched. The client must fall back to polling model.list — and, against the real (1.9) agent, must not
// poll it at all.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ErrorCodes } from '../../shared/protocol/errors.js';
import { FleetClient } from '../../shared/client/fleet-client.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { AgentClient } from '../../shared/client/agent-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A proxy to `upstream` that refuses the models topic like a 1.8 agent; counts the model.list calls it forwards. */
async function olderAgentProxy(upstream: string): Promise<{ url: string; listCalls: () => number; close: () => Promise<void> }> {
  let lists = 0;
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (client, req) => {
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'fleetml-protocol']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
    const up = new WebSocket(upstream, { headers });
    const pending: WebSocket.RawData[] = [];
    up.on('open', () => { for (const m of pending.splice(0)) up.send(m); });
    up.on('message', (d, bin) => client.send(d, { binary: bin }));
    up.on('close', () => client.close());
    client.on('close', () => up.close());
    client.on('message', (d, bin) => {
      if (!bin) {
        const msg = JSON.parse(d.toString());
        if (msg.method === 'subscribe' && msg.params?.topic === 'models') {
          client.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: ErrorCodes.NOT_FOUND, message: 'unknown topic: models', data: { code: 'NOT_FOUND' } } }));
          return;
        }
        if (msg.method === 'model.list') lists++;
      }
      if (up.readyState === WebSocket.OPEN) up.send(d, { binary: bin }); else pending.push(d);
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/rpc`,
    listCalls: () => lists,
    close: () => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => r()); }),
  };
}

describe('models topic: fallback for an agent without it', () => {
  let agent: Awaited<ReturnType<typeof inProcessAgent>>;
  let proxy: Awaited<ReturnType<typeof olderAgentProxy>>;
  let api: AgentClient;
  beforeAll(async () => {
    agent = await inProcessAgent();
    const url = `ws://127.0.0.1:${agent.agent.port}/rpc`;
    api = new AgentClient({ url, token: agent.token, reconnect: false });
    await api.connect();
    await pushModel(api, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    proxy = await olderAgentProxy(url);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await proxy?.close();
    await agent?.close();
  });

  test('an older agent is polled with model.list and its pushes still appear; the 1.9 agent is never polled', async () => {
    const old = new FleetClient([{ name: 'old', url: proxy.url, token: agent.token }], { throttleMs: 20, modelPollMs: 200 });
    const cur = new FleetClient([{ name: 'cur', url: `ws://127.0.0.1:${agent.agent.port}/rpc`, token: agent.token }], { throttleMs: 20, modelPollMs: 200 });
    old.start();
    cur.start();
    try {
      const until = async (pred: () => boolean, what: string) => {
        const end = Date.now() + 10_000;
        while (!pred()) { if (Date.now() > end) throw new Error(`timed out: ${what}`); await sleep(50); }
      };
      await until(() => (old.snapshot()[0].models?.length ?? 0) === 1 && (cur.snapshot()[0].models?.length ?? 0) === 1, 'both clients list credit@v1');
      expect(old.snapshot()[0].aliases ?? null).toBeNull(); // the older agent does not say
      expect(cur.snapshot()[0].aliases).toEqual([]);
      await pushModel(api, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
      await until(() => old.snapshot()[0].models?.some((m) => m.version === 'v2') ?? false, 'v2 reaches the polling client');
      await until(() => cur.snapshot()[0].models?.some((m) => m.version === 'v2') ?? false, 'v2 reaches the subscribed client');
      expect(proxy.listCalls()).toBeGreaterThan(0);
      // The subscribed client does not go through the proxy: the agent's own counter shows that it never calls
      // model.list (the count stays put while it alone runs, through five poll periods).
      await old.stop();
      await sleep(300);
      const calls = async () => {
        const text = await (await fetch(`${agent.http}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } })).text();
        return [...text.matchAll(/^fleetml_rpc_calls_total\{[^}]*method="model\.list"[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
      };
      const before = await calls();
      await sleep(1000); // five poll periods
      expect(await calls()).toBe(before);
    } finally {
      await old.stop();
      await cur.stop();
    }
  }, 30_000);
});
