import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { AgentClient } from '../../shared/client/agent-client.js';
import { buildDenseModel } from '../../agent/serving/onnx-pb.js';
import { inProcessAgent } from '../helpers/agent.js';
import { pushModel } from '../helpers/models.js';

// Aliases and traffic split: which version answers, weighted routing, and a switch under steady traffic.
// Two versions with the same signature (3 → 1) and different weights, so each answer tells which version computed it.
const version = (w: number) => Buffer.from(buildDenseModel({ graphName: `lin${w}`, layers: [{ inFeatures: 3, outFeatures: 1, weights: [w, w, w], bias: [0], activation: 'none' }] }));

let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
const x = { name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] };
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  await pushModel(c, 'score', version(1), { version: 'a' }); // answers 3
  await pushModel(c, 'score', version(2), { version: 'b' }); // answers 6
});
afterAll(async () => { await c.close(); await a.close(); });

const ask = async () => { const r = await c.call('model.infer', { name: 'score', inputs: [x] }); return { version: r.model_version, y: (r.outputs[0].data as number[])[0] }; };

describe('model routing', () => {
  it('serves the newest version without an alias, and each answer says which version computed it', async () => {
    expect(await ask()).toEqual({ version: 'b', y: 6 });
  });
  it('splits traffic by weight (90/10) and reports the version per answer', async () => {
    await c.call('model.alias', { name: 'score', targets: [{ version: 'a', weight: 90 }, { version: 'b', weight: 10 }], reason: 'canary b' });
    const seen = { a: 0, b: 0 } as Record<string, number>;
    for (let i = 0; i < 300; i++) { const r = await ask(); seen[r.version]++; expect(r.y).toBe(r.version === 'a' ? 3 : 6); }
    expect(seen.a + seen.b).toBe(300);
    expect(seen.b).toBeGreaterThan(5);
    expect(seen.b).toBeLessThan(80);
  });
  it('switches versions under steady traffic without dropping a request', async () => {
    await c.call('model.alias', { name: 'score', targets: [{ version: 'a', weight: 100 }] });
    await c.call('model.unload', { name: 'score', version: 'b' }); // the switch must load and warm b first
    let stop = false; let ok = 0; const errors: string[] = []; const versions: string[] = [];
    const loop = async () => { while (!stop) { try { versions.push((await ask()).version); ok++; } catch (e) { errors.push((e as Error).message); } } };
    const loops = [loop(), loop(), loop(), loop()];
    await new Promise((r) => setTimeout(r, 300));
    await c.call('model.alias', { name: 'score', targets: [{ version: 'b', weight: 100 }], reason: 'promote b' });
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    expect(errors).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    const firstB = versions.indexOf('b');
    expect(firstB).toBeGreaterThan(0);
    expect(versions.slice(firstB + 8).every((v) => v === 'b')).toBe(true); // after the switch (and requests in flight) only b
  });
  it('keeps a routing timeline and audits every change; refuses bad splits and removing a serving version', async () => {
    const h = (await c.call('model.history', { name: 'score' })).events;
    expect(h.map((e) => e.targets.map((t) => `${t.version}:${t.weight}`).join(','))).toEqual(['b:100', 'a:100', 'a:90,b:10']);
    expect(h[0].reason).toBe('promote b');
    const db = new Database(join(a.dir, 'fleetml.db'), { readonly: true });
    expect((db.prepare("SELECT COUNT(*) AS n FROM audit WHERE method = 'model.alias' AND outcome = 'ok'").get() as { n: number }).n).toBe(3);
    db.close();
    expect((await c.call('model.alias', { name: 'score', targets: [{ version: 'a', weight: 50 }] }).catch((e) => e)).message).toMatch(/sum to 100/);
    expect((await c.call('model.alias', { name: 'score', targets: [{ version: 'zz', weight: 100 }] }).catch((e) => e)).codeName).toBe('NOT_FOUND');
    expect((await c.call('model.remove', { name: 'score', version: 'b' }).catch((e) => e)).codeName).toBe('CONFLICT');
  });
  it('counts requests and latency per version', async () => {
    const s = (await c.call('model.stats', { name: 'score' })).models;
    const b = s.find((m) => m.version === 'b')!;
    expect(b.requests).toBeGreaterThan(0);
    expect(b.errors).toBe(0);
    expect(b.latency_us.p50).toBeGreaterThan(0);
    const m = await (await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text();
    expect(m).toMatch(/^fleetml_model_requests_total\{model="score",version="b",outcome="ok"\} \d+/m);
    expect(m).toMatch(/^fleetml_model_latency_seconds_count\{model="score",version="b",phase="compute"\} \d+/m);
    expect(m).toMatch(/^fleetml_model_batch_size_count\{model="score",version="b"\} \d+/m);
  });
});
