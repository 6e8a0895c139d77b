import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { inProcessAgent } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';
import { CREDIT, sendRows } from '../helpers/drift.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// `fleetml rollout watch` (the real CLI) follows a shadow rollout to its end: a passed shadow test ends `completed`,
// which is over (it never changes again) and went well, so watch exits 0 — before, it never exited.
type A = Awaited<ReturnType<typeof inProcessAgent>>;
let a: A;
let c: AgentClient;

beforeAll(async () => {
  a = await inProcessAgent({ name: 'watch-a', jobDriver: ['fake'] }, (cfg) => { cfg.drift.bucket_s = 1; cfg.drift.min_rows = 50; cfg.drift.auto_reference_rows = 0; });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
}, 60_000);
afterAll(async () => { await c?.close(); await a?.close(); });

describe('fleetml rollout watch', () => {
  it('exits 0 once a shadow rollout ends completed, and at once on a completed one', async () => {
    const r = (await c.call('rollout.start', { name: 'credit', to: 'v2', strategy: 'shadow', step_duration_s: 1, analysis: { min_requests: 30, max_waits: 10, max_p95_ratio: 100 } })).rollout;
    const target = ['--url', a.agent.url, '--token', a.token];
    const watching = fleetml(['rollout', 'watch', r.id, ...target], {}, 45_000);
    let on = true;
    const rnd = mulberry32(5);
    const traffic = (async () => { while (on) { await sendRows(c, 'credit', normalRows(rnd, 20, CREDIT.means, CREDIT.stds), 20).catch(() => undefined); await new Promise((res) => setTimeout(res, 15)); } })();
    const w = await watching;
    on = false; await traffic;
    const end = (await c.call('rollout.get', { id: r.id })).rollout;
    expect(end.state, end.decisions.map((d) => d.reason).join(' / ')).toBe('completed');
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain(`rollout ${r.id} completed`);
    // the document clients receive carries no coordinator bookkeeping
    expect(Object.keys(end)).not.toContain('baseline');
    const again = await fleetml(['rollout', 'watch', r.id, ...target, '-o', 'json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!).rollout.state).toBe('completed');
  }, 60_000);
});
