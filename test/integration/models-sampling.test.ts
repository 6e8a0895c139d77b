import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { InferSample } from '../../agent/serving/serving.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// The sampling hook the drift issue consumes: inputs and outputs of served requests, delivered off the hot path,
// with bounded memory whatever the traffic.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false });
  await c.connect();
  await pushModel(c, 'lin', modelBytes('linear.onnx'));
});
afterAll(async () => { await c.close(); await a.close(); });

describe('inference sampling hook', () => {
  it('delivers the inputs and outputs of requests in batches, and drops (counting) beyond its bound', async () => {
    const got: InferSample[] = [];
    const off = a.agent.serving.onSamples((b) => got.push(...b));
    const r = await c.call('model.infer', { name: 'lin', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    await new Promise((res) => setTimeout(res, 20));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ name: 'lin', version: r.model_version });
    expect(Array.from(got[0].inputs.input.data as Float32Array)).toEqual([1, 2, 3]);
    expect(Object.keys(got[0].outputs)).toEqual(r.outputs.map((o) => o.name));
    a.agent.serving.sampleCap = 5;
    const before = a.agent.serving.samplesDropped;
    await Promise.all(Array.from({ length: 40 }, () => c.call('model.infer', { name: 'lin', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] })));
    await new Promise((res) => setTimeout(res, 20));
    expect(got.length).toBeLessThan(41);
    expect(got.length + (a.agent.serving.samplesDropped - before)).toBe(41);
    off();
  });
});
