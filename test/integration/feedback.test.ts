import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import { FleetClient } from '../../shared/client/fleet-client.js';
import { classificationMetrics } from '../../agent/serving/scoring.js';
import type { LabelsEvent } from '../../agent/serving/feedback.js';
import { clientWithNewToken, inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { mulberry32 } from '../../shared/util/prng.js';

// Ground truth that joins later (issue 11) on a real agent with real ONNX models: request ids on every answer, labels
// sent by id an hour of (injected) agent time later, live accuracy / F1 / MAE / RMSE per version and window.
const HOUR = 3_600_000;
let clock = Date.UTC(2026, 0, 5, 12);
const now = () => clock;
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] }, undefined, { now });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  await pushModel(c, 'soft', modelBytes('softmax.onnx'), { version: 'v1' });
  await pushModel(c, 'lr', modelBytes('logreg.onnx'), { version: 'v1' });
}, 60_000);
afterAll(async () => { await c?.close(); await a?.close(); });

const rnd = mulberry32(11);
const row = (n: number) => Array.from({ length: n }, () => Math.round((rnd() * 4 - 2) * 100) / 100);
const argmax = (xs: number[]) => xs.reduce((b, x, i) => (x > xs[b] ? i : b), 0);

describe('request ids', () => {
  it('echoes the caller\'s id and generates one (16 hex) otherwise, JSON and binary', async () => {
    const inputs = [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: row(8) }];
    expect((await c.call('model.infer', { name: 'soft', id: 'order-17', inputs })).id).toBe('order-17');
    expect((await c.call('model.infer', { name: 'soft', inputs })).id).toMatch(/^[0-9a-f]{16}$/);
    const data = Buffer.from(new Float32Array(row(8)).buffer);
    expect((await c.inferBinary('soft', [{ name: 'input', datatype: 'FP32', shape: [1, 8], data }], { id: 'bin-1' })).id).toBe('bin-1');
    expect((await c.inferBinary('soft', [{ name: 'input', datatype: 'FP32', shape: [1, 8], data }])).id).toMatch(/^[0-9a-f]{16}$/);
    const bad = await c.call('model.infer', { name: 'soft', id: 'has space', inputs }).catch((e) => e);
    expect(bad.codeName).toBe('INVALID_PARAMS');
  });
});

describe('labels an hour later move the live accuracy', () => {
  it('joins by id, counts unknown and repeated ids, and scores the window of the requests', async () => {
    const t0 = clock;
    const preds: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await c.call('model.infer', { name: 'soft', id: `q-${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: row(8) }] });
      preds.push(argmax(r.outputs[0].data as number[]));
    }
    clock = t0 + HOUR; // the labels come an hour of agent time later
    const events: LabelsEvent[] = [];
    a.agent.feedback!.on('labels', (e: LabelsEvent) => events.push(e));
    // first the 20 the model got right: accuracy 1
    const first = await c.call('model.feedback', { name: 'soft', labels: preds.slice(0, 20).map((p, i) => ({ id: `q-${i}`, label: p })).concat([{ id: 'never-seen', label: 1 }]) });
    expect(first).toEqual({ matched: 20, unknown: 1, already_labelled: 0 });
    expect(events).toEqual([{ name: 'soft', version: 'v1', count: 20 }]);
    let perf = (await c.call('model.performance', { name: 'soft', window: '2h' })).versions.find((v) => v.version === 'v1')!;
    expect(perf).toMatchObject({ task: 'classification', accuracy: 1, labelled: 20, mae: null, rmse: null, window: '2h' });
    expect(perf.requests).toBeGreaterThanOrEqual(40);
    // then the other 20, every second one wrong: the live accuracy moves to 30/40
    const labels = preds.map((p, i) => (i >= 20 && i % 2 === 0 ? (p + 1) % 3 : p));
    const second = await c.call('model.feedback', { name: 'soft', labels: labels.map((l, i) => ({ id: `q-${i}`, label: l })) });
    expect(second).toEqual({ matched: 20, unknown: 0, already_labelled: 20 });
    perf = (await c.call('model.performance', { name: 'soft', version: 'v1', window: '2h' })).versions[0];
    const hand = classificationMetrics(preds, labels);
    expect(perf.accuracy).toBeCloseTo(30 / 40, 12);
    expect(perf.f1).toBeCloseTo(hand.f1!, 12);
    expect(perf.labelled).toBe(40);
    // the window covers the requests' times, not the labels': 30 minutes back from now holds none of them
    const recent = (await c.call('model.performance', { name: 'soft', version: 'v1', window: '30m' })).versions[0];
    expect(recent).toMatchObject({ task: null, accuracy: null, labelled: 0, requests: 0 });
  });

  it('scores a regressor (sigmoid output, non-binary labels) with MAE and RMSE', async () => {
    const t0 = clock;
    const outs: number[] = [];
    for (let i = 0; i < 10; i++) outs.push((await c.call('model.infer', { name: 'lr', id: `r-${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row(4) }] })).outputs[0].data[0] as number);
    clock = t0 + HOUR;
    const labels = outs.map((_, i) => i / 10 + 0.05);
    expect(await c.call('model.feedback', { name: 'lr', version: 'v1', labels: labels.map((l, i) => ({ id: `r-${i}`, label: l })) })).toMatchObject({ matched: 10 });
    const perf = (await c.call('model.performance', { name: 'lr', version: 'v1', window: '2h' })).versions[0];
    const mae = outs.reduce((s, o, i) => s + Math.abs(o - labels[i]), 0) / 10;
    const rmse = Math.sqrt(outs.reduce((s, o, i) => s + (o - labels[i]) ** 2, 0) / 10);
    expect(perf.task).toBe('regression');
    expect(perf.mae).toBeCloseTo(mae, 6); // predictions kept as float32 → float64
    expect(perf.rmse).toBeCloseTo(rmse, 6);
    expect(perf.accuracy).toBeNull();
    // the labelled rows with their inputs are a training set
    const set = a.agent.feedback!.exportLabelled('lr', 'v1', 100);
    expect(set.header).toEqual(['input[0]', 'input[1]', 'input[2]', 'input[3]']);
    expect(set.rows).toHaveLength(10);
    expect(set.labels.slice().sort()).toEqual(labels.slice().sort());
  });

  it('needs operate, names a model the node has, and validates the labels', async () => {
    const { client: reader } = await clientWithNewToken({ url: a.agent.url, token: a.token }, 'fb-reader', 'read');
    try {
      expect((await reader.call('model.feedback', { name: 'soft', labels: [{ id: 'x', label: 1 }] }).catch((e) => e)).codeName).toBe('FORBIDDEN');
      expect((await reader.call('model.performance', { name: 'soft' })).versions.length).toBeGreaterThan(0);
    } finally { await reader.close(); }
    expect((await c.call('model.feedback', { name: 'nope', labels: [{ id: 'x', label: 1 }] }).catch((e) => e)).codeName).toBe('NOT_FOUND');
    expect((await c.call('model.feedback', { name: 'soft', labels: [] }).catch((e) => e)).codeName).toBe('INVALID_PARAMS');
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ id: `x${i}`, label: 0 }));
    expect((await c.call('model.feedback', { name: 'soft', labels: tooMany }).catch((e) => e)).codeName).toBe('INVALID_PARAMS');
  });
});

describe('HTTP v2', () => {
  const auth = () => ({ authorization: `Bearer ${a.token}`, 'content-type': 'application/json' });
  const body = (extra: object = {}) => JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: row(8) }], ...extra });
  it('answers the request id (body id, else x-request-id, else generated) in the body and the x-request-id header', async () => {
    let r = await fetch(`${a.http}/v2/models/soft/infer`, { method: 'POST', headers: auth(), body: body({ id: 'h-1' }) });
    expect(r.status).toBe(200);
    expect((await r.json()).id).toBe('h-1');
    expect(r.headers.get('x-request-id')).toBe('h-1');
    r = await fetch(`${a.http}/v2/models/soft/infer`, { method: 'POST', headers: { ...auth(), 'x-request-id': 'h-2' }, body: body() });
    expect((await r.json()).id).toBe('h-2');
    r = await fetch(`${a.http}/v2/models/soft/infer`, { method: 'POST', headers: auth(), body: body() });
    const gen = (await r.json()).id;
    expect(gen).toMatch(/^[0-9a-f]{16}$/);
    expect(r.headers.get('x-request-id')).toBe(gen);
    r = await fetch(`${a.http}/v2/models/soft/infer`, { method: 'POST', headers: { ...auth(), 'x-request-id': 'x'.repeat(129) }, body: body() });
    expect(r.status).toBe(400);
  });

  it('POST /v2/models/{name}[/versions/{v}]/feedback joins labels through the dispatcher', async () => {
    const r = await fetch(`${a.http}/v2/models/soft/versions/v1/feedback`, { method: 'POST', headers: auth(), body: JSON.stringify({ labels: [{ id: 'h-1', label: 2 }, { id: 'h-2', label: 0 }, { id: 'zzz', label: 0 }] }) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ matched: 2, unknown: 1, already_labelled: 0 });
    const bad = await fetch(`${a.http}/v2/models/soft/feedback`, { method: 'POST', headers: auth(), body: JSON.stringify({ labels: [{ id: 'h-1' }] }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe('INVALID_PARAMS');
    const get = await fetch(`${a.http}/v2/models/soft/feedback`, { headers: auth() });
    expect(get.status).toBe(405);
  });
});

describe('/metrics', () => {
  it('exports accuracy, F1 and labelled requests per version over the last hour of request time', async () => {
    clock += 2 * HOUR; // every earlier request of soft is now more than an hour old
    const preds: number[] = [];
    for (let i = 0; i < 4; i++) preds.push(argmax((await c.call('model.infer', { name: 'soft', id: `m-${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: row(8) }] })).outputs[0].data as number[]));
    await c.call('model.feedback', { name: 'soft', labels: preds.map((p, i) => ({ id: `m-${i}`, label: i === 0 ? (p + 1) % 3 : p })) });
    clock += 10 * 60_000;
    const text = await (await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text();
    expect(text).toMatch(/fleetml_model_accuracy\{model="soft",version="v1"\} 0\.75/);
    expect(text).toMatch(/fleetml_model_labelled_requests\{model="soft",version="v1"\} 4/);
    expect(text).toMatch(/fleetml_model_f1\{model="soft",version="v1"\}/);
  });
});

describe('bounds and expiry', () => {
  let b: Awaited<ReturnType<typeof inProcessAgent>>;
  let bc: AgentClient;
  let t = Date.UTC(2026, 0, 5, 12);
  beforeAll(async () => {
    b = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => { cfg.feedback.max_requests_per_version = 10; cfg.feedback.retention_s = 3600; }, { now: () => t });
    bc = new AgentClient({ url: b.agent.url, token: b.token, reconnect: false, callTimeoutMs: 30_000 });
    await bc.connect();
    await pushModel(bc, 'lr', modelBytes('logreg.onnx'), { version: 'v1' });
  }, 60_000);
  afterAll(async () => { await bc?.close(); await b?.close(); });

  it('keeps at most max_requests_per_version (the newest) and forgets requests past the retention', async () => {
    for (let i = 0; i < 25; i++) {
      t += 1000;
      await bc.call('model.infer', { name: 'lr', id: `b-${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row(4) }] });
      if (i % 5 === 4) b.agent.feedback!.flush();
    }
    b.agent.feedback!.flush();
    expect((await bc.call('model.performance', { name: 'lr', window: '1d' })).versions[0].requests).toBe(10);
    const old = await bc.call('model.feedback', { name: 'lr', labels: Array.from({ length: 15 }, (_, i) => ({ id: `b-${i}`, label: 1 })) });
    expect(old).toEqual({ matched: 0, unknown: 15, already_labelled: 0 });
    expect((await bc.call('model.feedback', { name: 'lr', labels: [{ id: 'b-24', label: 1 }] })).matched).toBe(1);
    t += 2 * HOUR; // past the retention: unknown even before the sweep, gone after it
    expect((await bc.call('model.feedback', { name: 'lr', labels: [{ id: 'b-23', label: 1 }] })).unknown).toBe(1);
    expect((await bc.call('model.performance', { name: 'lr', version: 'v1', window: '1d' })).versions[0]).toMatchObject({ requests: 0, labelled: 0 });
    expect(b.agent.feedback!.sweep()).toBe(10);
    expect(b.agent.feedback!.versions('lr')).toEqual([]);
  });
});

describe('FleetClient (what the TUI polls)', () => {
  const until = async (ok: () => boolean, ms = 5000) => { const end = Date.now() + ms; while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50)); };
  it('reads the live performance of every model of a node with the model polls', async () => {
    const fleet = new FleetClient([{ name: 'n', url: a.agent.url, token: a.token }], { modelPollMs: 100, perfPollMs: 100, throttleMs: 10 });
    fleet.start();
    try {
      await until(() => (fleet.snapshot()[0].modelPerf?.length ?? 0) > 0);
      const perf = fleet.snapshot()[0].modelPerf!;
      expect(perf.find((p) => p.name === 'soft' && p.version === 'v1')).toMatchObject({ task: 'classification', accuracy: 0.75, labelled: 4, window: '1h' });
    } finally { await fleet.stop(); }
  });

  it('backs off on an agent that keeps no feedback (each failure doubles the wait)', async () => {
    const off = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => { cfg.feedback.enabled = false; });
    try {
      const oc = new AgentClient({ url: off.agent.url, token: off.token, reconnect: false });
      await oc.connect();
      await pushModel(oc, 'lr', modelBytes('logreg.onnx'));
      expect((await oc.call('model.performance', { name: 'lr' }).catch((e) => e)).codeName).toBe('UNAVAILABLE');
      await oc.close();
      const fleet = new FleetClient([{ name: 'off', url: off.agent.url, token: off.token }], { modelPollMs: 50, perfPollMs: 100, throttleMs: 10 });
      fleet.start();
      await until(() => (fleet.snapshot()[0].models?.length ?? 0) > 0);
      await new Promise((r) => setTimeout(r, 1600)); // waits 100, 200, 400, 800 ms: at most 5 tries, not 30
      await fleet.stop();
      const text = await (await fetch(`${off.http}/metrics`, { headers: { authorization: `Bearer ${off.token}` } })).text();
      const calls = Number(/fleetml_rpc_calls_total\{method="model.performance",outcome="UNAVAILABLE"\} (\d+)/.exec(text)?.[1] ?? 0);
      expect(calls).toBeGreaterThanOrEqual(3); // the one above and the first tries
      expect(calls).toBeLessThanOrEqual(6);
      expect(fleet.snapshot()[0].modelPerf).toBeNull();
    } finally { await off.close(); }
  }, 30_000);
});
