import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { inProcessAgent, tempDir } from '../helpers/agent.js';
import { packageRoot } from '../../shared/util/package-root.js';

describe('dead peers are dropped by ping/pong', () => {
  let a: Awaited<ReturnType<typeof inProcessAgent>>;
  beforeAll(async () => { a = await inProcessAgent({}, (c) => { c.api.ping_interval_ms = 100; }); });
  afterAll(async () => { await a.close(); });

  const open = (autoPong: boolean) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(a.agent.url, { headers: { authorization: `Bearer ${a.token}` }, autoPong });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });

  it('closes a peer that stops answering pings, and keeps one that answers', async () => {
    const dead = await open(false);
    const alive = await open(true);
    const closed = new Promise<number>((r) => dead.once('close', (code) => r(code)));
    expect(await closed).toBe(1006); // terminated, no close handshake
    await new Promise((r) => setTimeout(r, 300));
    expect(alive.readyState).toBe(WebSocket.OPEN);
    alive.close();
  });
});

describe('shutdown', () => {
  it('does not wait on a peer that never answers the close handshake', async () => {
    const b = await inProcessAgent({});
    const ws = new WebSocket(b.agent.url, { headers: { authorization: `Bearer ${b.token}` } });
    await new Promise((r) => ws.once('open', r));
    (ws as unknown as { _socket: import('node:net').Socket })._socket.pause(); // stops reading: the close frame is never seen
    const t0 = Date.now();
    await b.close();
    expect(Date.now() - t0).toBeLessThan(5000); // ws's own close timeout would be 30 s
    ws.terminate();
  });
});

describe('importing modules has no side effects', () => {
  it('opens no database and writes no file when the agent modules are imported', () => {
    const t = tempDir();
    const dist = join(packageRoot(), 'dist');
    const code = `await import(${JSON.stringify(join(dist, 'agent', 'main.js'))}); await import(${JSON.stringify(join(dist, 'agent', 'telemetry', 'gpu', 'index.js'))}); await import(${JSON.stringify(join(dist, 'agent', 'api', 'server.js'))}); console.log('imported');`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, HOME: t.dir, XDG_DATA_HOME: join(t.dir, 'data'), STATE_DIRECTORY: '' }, encoding: 'utf8', timeout: 15_000 });
    expect(out.trim()).toBe('imported'); // and the process exited: no timer or socket kept it alive
    expect(readdirSync(t.dir)).toEqual([]);
    t.cleanup();
  });
});
