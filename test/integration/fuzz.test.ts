import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessAgent, rawSocket } from '../helpers/agent.js';
import { methods } from '../../shared/protocol/index.js';

// Bounded fuzz: thousands of random and mutated frames on one connection. Every frame that is a request
// (has an id) must get exactly one well-formed JSON-RPC answer, the connection must stay open, and the agent
// must still answer normally afterwards. Seeded, so a failure is reproducible.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const VALID = [
  { jsonrpc: '2.0', id: 1, method: 'node.info', params: {} },
  { jsonrpc: '2.0', id: 1, method: 'node.history', params: { metrics: ['host.cpu_util_pct'], since: 0 } },
  { jsonrpc: '2.0', id: 1, method: 'subscribe', params: { topic: 'node.stats', params: {} } },
  { jsonrpc: '2.0', id: 1, method: 'unsubscribe', params: { subscriptionId: 's_x' } },
  { jsonrpc: '2.0', id: 1, method: 'token.revoke', params: { token: 'nobody' } },
  { jsonrpc: '2.0', id: 1, method: 'auth.whoami' },
];
const WEIRD: unknown[] = [null, true, false, 0, -1, 1e308, -0, '', 'x'.repeat(300), [], {}, [[]], { a: { b: { c: [] } } }, '__proto__', { __proto__: { polluted: true } }, 'constructor', NaN];

function mutate(r: () => number, obj: any): any {
  const o = structuredClone(obj);
  const keys = ['jsonrpc', 'id', 'method', 'params'];
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const k = pick(keys);
    const roll = r();
    if (roll < 0.3) o[k] = pick(WEIRD);
    else if (roll < 0.45) delete o[k];
    else if (roll < 0.6 && typeof o.params === 'object' && o.params) o.params[pick(['metrics', 'since', 'topic', 'params', 'subscriptionId', 'token', 'zzz'])] = pick(WEIRD);
    else if (roll < 0.75) o.method = pick([...Object.keys(methods), 'node.', '.info', 'node.info ', 'NODE.INFO', '__proto__', 'constructor', 'hasOwnProperty']);
    else o[pick(['extra', '__proto__', 'result', 'error'])] = pick(WEIRD);
  }
  return o;
}

function randomBytesText(r: () => number): string {
  const len = Math.floor(r() * 200);
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(Math.floor(r() * 0x7f));
  return s;
}

let a: Awaited<ReturnType<typeof inProcessAgent>>;
beforeAll(async () => { a = await inProcessAgent({}); });
afterAll(async () => { await a.close(); });

describe('protocol fuzz', () => {
  it('survives 3000 random and mutated frames with a JSON-RPC answer for each request', async () => {
    const r = rng(20261126);
    const s = await rawSocket(a.agent.url, a.token);
    await s.next((f) => f.method === 'hello');
    let expected = 0;
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const kind = r();
      let text: string;
      if (kind < 0.15) text = randomBytesText(r);
      else if (kind < 0.25) { const v = JSON.stringify(VALID[Math.floor(r() * VALID.length)]); text = v.slice(0, Math.floor(r() * v.length)); }
      else {
        const m = mutate(r, VALID[Math.floor(r() * VALID.length)]);
        if (r() < 0.1) text = JSON.stringify([m, mutate(r, m)]);
        else text = JSON.stringify(m);
      }
      // Count what must be answered: anything that is not a valid notification (an object with no id) gets a reply.
      let parsed: any; let isJson = true;
      try { parsed = JSON.parse(text); } catch { isJson = false; }
      const needsReply = (m: any) => !(m && typeof m === 'object' && !Array.isArray(m) && m.jsonrpc === '2.0' && !('id' in m) && typeof m.method === 'string' && m.method.length > 0 && m.method.length <= 128 && Object.keys(m).every((k) => ['jsonrpc', 'method', 'params'].includes(k)) && (m.params === undefined || (typeof m.params === 'object' && m.params !== null)));
      if (!isJson) expected++;
      else if (Array.isArray(parsed)) { if (parsed.length === 0 || parsed.some(needsReply)) expected++; }
      else if (needsReply(parsed)) expected++;
      s.ws.send(text);
      if (i % 200 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    // a sentinel request: when its answer arrives every earlier frame has been processed (one socket, in order… modulo async handlers)
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 'sentinel', method: 'auth.whoami' }));
    await s.next((f) => f.id === 'sentinel', 20_000);
    await new Promise((res) => setTimeout(res, 300));
    const answers = s.frames.filter((f) => f.method !== 'subscription' && f.method !== 'hello');
    for (const f of answers) {
      const list = Array.isArray(f) ? f : [f];
      for (const x of list) {
        expect(x.jsonrpc).toBe('2.0');
        expect('result' in x !== 'error' in x).toBe(true);
        if (x.error) { expect(typeof x.error.code).toBe('number'); expect(typeof x.error.message).toBe('string'); expect(x.error.code).not.toBe(-32603); }
      }
    }
    expect(answers.length).toBe(expected);
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    expect(({} as any).polluted).toBeUndefined();
    s.ws.close();
    // the agent still serves a fresh client normally
    const t = await rawSocket(a.agent.url, a.token);
    await t.next((f) => f.method === 'hello');
    t.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'node.stats' }));
    expect((await t.next((f) => f.id === 9)).result.node).toBe('test-node');
    t.ws.close();
  });
});
