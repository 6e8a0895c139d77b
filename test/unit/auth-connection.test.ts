import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { Authenticator } from '../../agent/api/auth.js';
import { Connection } from '../../agent/api/connection.js';
import { createLogger } from '../../agent/log.js';

describe('repeated bad tokens are slowed down', () => {
  it('lets the first failures through, then makes every attempt wait, doubling up to the cap, per address', () => {
    const a = new Authenticator({} as never, 3, 1000);
    // fail() returns the wait of the NEXT attempt from that address
    expect([1, 2].map(() => a.fail('10.0.0.1', 0))).toEqual([0, 0]);
    expect([3, 4, 5, 6, 7, 8].map(() => a.fail('10.0.0.1', 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(a.penalty('10.0.0.1', 0)).toBe(1000);
    expect(a.penalty('10.0.0.2', 0)).toBe(0);
    // the count expires with the window
    expect(a.penalty('10.0.0.1', 10 * 60_000 + 1)).toBe(0);
  });
  it('keeps at most MAX_KEYS failure records', () => {
    const a = new Authenticator({} as never, 3, 1000);
    for (let i = 0; i < Authenticator.MAX_KEYS + 50; i++) a.fail(`addr:${i}`, 0);
    expect((a as unknown as { failures: Map<string, unknown> }).failures.size).toBe(Authenticator.MAX_KEYS);
  });
  it('bounds the attempts waiting at once per address', () => {
    const a = new Authenticator({} as never, 3, 1000, 60_000, 2);
    expect([a.enter('x'), a.enter('x'), a.enter('x')]).toEqual([true, true, false]);
    a.leave('x');
    expect(a.enter('x')).toBe(true);
    expect(a.enter('y')).toBe(true);
  });
});

// A socket whose send buffer we control: the conflation logic is pure bookkeeping over bufferedAmount.
class SlowSocket extends EventEmitter {
  OPEN = 1; readyState = 1; bufferedAmount = 0; sent: string[] = []; terminated = false;
  send(text: string, cb?: (e?: Error) => void) { this.sent.push(text); this.bufferedAmount += text.length; cb?.(); }
  terminate() { this.terminated = true; this.readyState = 3; }
}

describe('a slow subscriber gets conflated telemetry with bounded memory', () => {
  it('keeps only the latest event while the buffer is full, and sends it when the buffer drains', async () => {
    const ws = new SlowSocket();
    const c = new Connection('c1', ws as never, { tokenId: 't', tokenName: 't', role: 'read' }, null, { conflateAboveBytes: 100, maxBufferBytes: 10_000 }, createLogger('silent'));
    c.addSubscription('s1', () => undefined);
    ws.bufferedAmount = 500; // the peer stopped reading
    for (let i = 0; i < 1000; i++) c.sendEvent('s1', { i }, true);
    expect(ws.sent).toHaveLength(0);
    expect(c.conflated).toBe(999);
    ws.bufferedAmount = 0; // the peer caught up
    await new Promise((r) => setTimeout(r, 80));
    expect(ws.sent).toHaveLength(1);
    const f = JSON.parse(ws.sent[0]);
    expect(f.params.data).toEqual({ i: 999 });
    expect(f.params.seq).toBe(1000); // the gap tells the client what it missed
  });
  it('never lets a newer event overtake an older one still waiting', async () => {
    const ws = new SlowSocket();
    const c = new Connection('c4', ws as never, { tokenId: 't', tokenName: 't', role: 'read' }, null, { conflateAboveBytes: 100, maxBufferBytes: 10_000 }, createLogger('silent'));
    c.addSubscription('s1', () => undefined);
    ws.bufferedAmount = 500;
    c.sendEvent('s1', { i: 1 }, true);
    ws.bufferedAmount = 0; // drained, but event 1 is still pending (the flush timer has not run yet)
    c.sendEvent('s1', { i: 2 }, true);
    await new Promise((r) => setTimeout(r, 80));
    const seqs = ws.sent.map((f) => JSON.parse(f).params.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(JSON.parse(ws.sent[ws.sent.length - 1]).params.data).toEqual({ i: 2 });
  });
  it('drops a peer whose buffer passes the hard limit instead of growing memory', () => {
    const ws = new SlowSocket();
    const c = new Connection('c2', ws as never, { tokenId: 't', tokenName: 't', role: 'read' }, null, { conflateAboveBytes: 100, maxBufferBytes: 1000 }, createLogger('silent'));
    ws.bufferedAmount = 5000;
    c.send('{"jsonrpc":"2.0","id":1,"result":{}}');
    expect(ws.terminated).toBe(true);
  });
  it('disposes every subscription when the connection goes', () => {
    const ws = new SlowSocket();
    const c = new Connection('c3', ws as never, { tokenId: 't', tokenName: 't', role: 'read' }, null, { conflateAboveBytes: 100, maxBufferBytes: 1000 }, createLogger('silent'));
    let disposed = 0;
    c.addSubscription('a', () => disposed++);
    c.addSubscription('b', () => disposed++);
    c.dispose(); c.dispose();
    expect(disposed).toBe(2);
    expect(c.subscriptionCount).toBe(0);
  });
});
