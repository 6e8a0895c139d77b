// The "done when" (2) on a real agent with its real feedback join store: requests served with ids, their
// true labels sent by id an hour of agent time later (injected clock) move the live accuracy below 0.9, which fires
// a `performance:accuracy<0.9` automation; the drop also goes out as an Alertmanager payload to a real receiver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSink } from '../../agent/automation/webhook.js';
import { createLogger } from '../../agent/log.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { inProcessAgent } from '../helpers/agent.js';
import { CREDIT } from '../helpers/drift.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { untilRun } from '../helpers/automation.js';
import { untilAlert, webhookReceiver } from '../helpers/webhook.js';

const HOUR = 3_600_000;
let clock = Date.now();
const now = () => clock;
let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;

beforeAll(async () => {
  receiver = await webhookReceiver();
  const alerts = new WebhookSink({ url: receiver.url, log: createLogger('silent'), backoffMs: 50 });
  a = await inProcessAgent({ jobDriver: ['process', 'fake'] }, undefined, { now, alerts });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
}, 60_000);
afterAll(async () => { await c?.close(); await a?.close(); await receiver?.close(); });

describe('ground truth fires a performance automation', () => {
  it('labels sent by request id an hour later move the live accuracy and start a run', async () => {
    await c.call('auto.create', { spec: { name: 'credit-acc', model: 'credit', trigger: { kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9, min_labelled: 40, window_s: 2 * 3600 },
      job: { driver: 'fake', command: ['exit', '3'] }, gate: { metric: 'accuracy', bound: 0.9 }, cooldown_s: 3600 } });
    // 60 requests with the caller's own ids; the answers say what v1 predicted
    const rows = normalRows(mulberry32(3), 60, CREDIT.means, CREDIT.stds);
    const predicted: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = await c.call('model.infer', { name: 'credit', id: `req-${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: rows[i] }] });
      expect(r.id).toBe(`req-${i}`);
      predicted.push((r.outputs[0].data as number[])[0] >= 0.5 ? 1 : 0);
    }
    await new Promise((r) => setTimeout(r, 1200)); // the join store writes what it keeps once a second
    const before = await c.call('model.performance', { name: 'credit', window: '1h' });
    expect(before.versions[0]).toMatchObject({ version: 'v1', labelled: 0, requests: 60 });
    // an hour of agent time later: the truth for every request, v1 wrong on half of them
    clock += HOUR;
    const labels = predicted.map((p, i) => ({ id: `req-${i}`, label: i % 2 === 0 ? p : 1 - p }));
    expect(await c.call('model.feedback', { name: 'credit', labels })).toEqual({ matched: 60, unknown: 0, already_labelled: 0 });
    const after = (await c.call('model.performance', { name: 'credit', window: '2h' })).versions[0];
    expect(after).toMatchObject({ version: 'v1', labelled: 60, accuracy: 0.5 });
    // the automation saw it
    const run = await untilRun(c, 'credit-acc', () => true, 20_000);
    expect(run.trigger).toMatchObject({ kind: 'performance', key: 'performance:v1:accuracy<0.9' });
    expect(run.trigger.detail).toMatch(/accuracy 0\.5000 < 0\.9 over 60 labelled rows of v1/);
    // and the drop went out as an Alertmanager v4 payload
    const drop = await untilAlert(receiver.hooks, (x) => x.labels.alertname === 'FleetmlPerformanceDrop');
    expect(drop).toMatchObject({ status: 'firing', labels: { model: 'credit', version: 'v1' } });
  }, 60_000);
});
