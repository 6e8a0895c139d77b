import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// The bounded queue answers OVERLOADED when full, and a request past its deadline answers TIMEOUT; the agent serves on.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => { cfg.models.max_queue = 2; cfg.models.request_timeout_ms = 2000; });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 60_000 });
  await c.connect();
  await pushModel(c, 'mlp', modelBytes('mlp.onnx'));
  await c.call('model.load', { name: 'mlp' });
});
afterAll(async () => { await c.close(); await a.close(); });

const big = (rows: number) => ({ name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 64], data: new Array(rows * 64).fill(0.5) }] });

describe('serving limits', () => {
  it('answers OVERLOADED beyond the in-flight bound, serves the rest, and counts the refusals', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => c.call('model.infer', big(2000)).then(() => 'ok', (e) => e.codeName)));
    expect(results.filter((r) => r === 'OVERLOADED').length).toBeGreaterThan(0);
    expect(results.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(2);
    const st = (await c.call('model.stats', { name: 'mlp' })).models[0];
    expect(st.errors).toBe(results.filter((r) => r !== 'ok').length);
    expect(st.in_flight).toBe(0);
  });
  it('answers TIMEOUT for a request past its deadline, and keeps serving', async () => {
    const b = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => { cfg.models.request_timeout_ms = 5; });
    const bc = new AgentClient({ url: b.agent.url, token: b.token, reconnect: false, callTimeoutMs: 60_000 });
    await bc.connect();
    await pushModel(bc, 'mlp', modelBytes('mlp.onnx'));
    await bc.call('model.load', { name: 'mlp' });
    // 16 binary requests of 4000 rows (just under the 1 MiB frame limit) queue on one worker: later ones wait past 5 ms
    const rows = Buffer.from(new Float32Array(4000 * 64).fill(0.5).buffer);
    const results = await Promise.all(Array.from({ length: 16 }, () => bc.inferBinary('mlp', [{ name: 'input', datatype: 'FP32', shape: [4000, 64], data: rows }]).then(() => 'ok', (e) => e.codeName)));
    expect(results).toContain('TIMEOUT');
    // once the abandoned runs have drained from the worker, a small request is answered again
    let served = false;
    for (let i = 0; i < 100 && !served; i++) {
      served = await bc.call('model.infer', big(1)).then((r) => r.outputs.length > 0, () => false);
      if (!served) await new Promise((r) => setTimeout(r, 100));
    }
    expect(served).toBe(true);
    await bc.close(); await b.close();
  }, 60_000);
});
