import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CREDIT, sendRows } from '../helpers/drift.js';

// Capture is sampled per model: a busy model is sampled down to drift.max_samples_per_s, a quiet one keeps every row.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => { cfg.drift.max_samples_per_s = 200; cfg.drift.auto_reference_rows = 0; });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  await pushModel(c, 'busy', modelBytes('logreg.onnx'));
  await pushModel(c, 'quiet', modelBytes('logreg.onnx'));
}, 60_000);
afterAll(async () => { await c?.close(); await a?.close(); });

describe('drift capture sampling', () => {
  it('samples a model above its budget and leaves the others whole', async () => {
    const rnd = mulberry32(1);
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      await sendRows(c, 'busy', normalRows(rnd, 100, CREDIT.means, CREDIT.stds), 100); // ~2000+ rows/s
      await sendRows(c, 'quiet', normalRows(rnd, 2, CREDIT.means, CREDIT.stds), 2);
      await new Promise((r) => setTimeout(r, 20));
    }
    const busy = await c.call('drift.report', { name: 'busy', window: '1h' });
    const quiet = await c.call('drift.report', { name: 'quiet', window: '1h' });
    expect(busy.capture.sample_rate).toBeLessThan(0.5);
    expect(quiet.capture.sample_rate).toBe(1);
    const metrics = await (await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text();
    expect(metrics).toMatch(/^fleetml_drift_capture_sample_rate\{model="busy"\} 0\.\d+/m);
  }, 30_000);
});
