import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf, nextBucket, sendRows } from '../helpers/drift.js';

// References and alert lifecycle details on a real in-process agent with logreg.onnx (4 inputs → 1 probability):
// headerless CSVs whose first row has missing values, a byte-order mark, from_traffic capped at max_reference_rows,
// models loaded only to compute reference predictions or evaluate are unloaded again, alerts of versions that stop
// getting traffic (or are removed) resolve, a new reference keeps the judged history. Buckets are 1 s.
const BUCKET = 1000;
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
const events: Array<{ type: string; name: string; version: string; message: string; at: number }> = [];
const rnd = mulberry32(11);
const normal = (n: number) => normalRows(rnd, n, CREDIT.means, CREDIT.stds);
const shifted = (n: number) => normal(n).map((r) => [r[0] + 3 * CREDIT.stds[0], r[1], r[2] + 3 * CREDIT.stds[2], r[3]]);
const row = (r: number[]) => r.map((x) => x.toFixed(4)).join(',');
const loaded = async (name: string) => (await c.call('model.get', { name })).versions[0].loaded;
const until = async (what: () => boolean, ms: number) => { const end = Date.now() + ms; while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 50)); return what(); };

beforeAll(async () => {
  a = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => {
    cfg.drift.bucket_s = 1; cfg.drift.alert_after = 2; cfg.drift.min_rows = 300; cfg.drift.auto_reference_rows = 0; cfg.drift.max_reference_rows = 1000;
  });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  await c.subscribe('drift.alerts', {}, (m) => {
    if (m.snapshot) return;
    const e = m.data;
    events.push({ type: e.type, name: e.alert.name, version: e.alert.version, message: e.alert.message, at: Date.now() });
  });
}, 60_000);
afterAll(async () => { await c?.close(); await a?.close(); });

describe('drift references', () => {
  it('reads a headerless CSV whose first row has missing markers as data (not a header), counting them as missing', async () => {
    await pushModel(c, 'nohead', modelBytes('logreg.onnx'));
    for (const first of ['NA,NaN,null,None', ',1,,2', 'NA,40,0.3,5']) {
      const rows = normal(200).map(row);
      const r = await c.call('drift.setReference', { name: 'nohead', format: 'csv', data: [first, ...rows].join('\n') + '\n' });
      expect(r.reference).toMatchObject({ rows: 201, rows_seen: 201, matched_by: 'position' });
      expect(r.features).toEqual(['input[0]', 'input[1]', 'input[2]', 'input[3]', 'output']);
      const rep = await c.call('drift.report', { name: 'nohead', window: '5s' });
      expect(rep.features[0].missing.reference).toBe(1);
    }
    // a header is still a header
    const h = await c.call('drift.setReference', { name: 'nohead', format: 'csv', data: csvOf(CREDIT.names, normal(200)) });
    expect(h.reference).toMatchObject({ rows: 200, matched_by: 'position' });
    expect(h.features.slice(0, 4)).toEqual(CREDIT.names);
  });

  it('drops a UTF-8 byte-order mark opening the first chunk (CSV header and JSON lines)', async () => {
    await pushModel(c, 'bom', modelBytes('logreg.onnx'));
    const data = csvOf(CREDIT.names, normal(300));
    const r = await c.call('drift.setReference', { name: 'bom', format: 'csv', data: '\uFEFF' + data });
    expect(r.features.slice(0, 4)).toEqual(CREDIT.names);
    const plain = await c.call('drift.setReference', { name: 'bom', format: 'csv', data });
    expect(r.reference!.dataset_sha256).toBe(plain.reference!.dataset_sha256); // the mark is not part of the data
    const jl = normal(50).map((x) => JSON.stringify(Object.fromEntries(CREDIT.names.map((n, i) => [n, x[i]])))).join('\n');
    const j = await c.call('drift.setReference', { name: 'bom', format: 'jsonl', data: '\uFEFF' + jl });
    expect(j.reference).toMatchObject({ rows: 50, matched_by: 'name' });
  });

  it('caps from_traffic at drift.max_reference_rows', async () => {
    await pushModel(c, 'cap', modelBytes('logreg.onnx'));
    await c.call('drift.setReference', { name: 'cap', from_traffic: 5000 });
    await sendRows(c, 'cap', normal(1000), 100);
    await new Promise((r) => setTimeout(r, 200)); // the samples reach the monitor off the hot path
    const rep = await c.call('drift.report', { name: 'cap', window: '5s' });
    expect(rep.reference).toMatchObject({ source: 'traffic', rows: 1000 });
  });

  it('unloads a version loaded only for reference predictions or model.evaluate, not one loaded before', async () => {
    await pushModel(c, 'cold', modelBytes('logreg.onnx'));
    expect(await loaded('cold')).toBe(false);
    const r = await c.call('drift.setReference', { name: 'cold', format: 'csv', data: csvOf(CREDIT.names, normal(100)) });
    expect(r.features).toContain('output');
    const rep = await c.call('drift.report', { name: 'cold', window: '5s' });
    expect(rep.features.find((f) => f.name === 'output')!.ref_rows).toBe(100); // the predictions were computed
    expect(await loaded('cold')).toBe(false);
    const test_set = { rows: normal(20), labels: new Array(20).fill(1) };
    const ev = await c.call('model.evaluate', { name: 'cold', test_set });
    expect(ev.rows).toBe(20);
    expect(await loaded('cold')).toBe(false);
    await c.call('model.load', { name: 'cold' });
    await c.call('model.evaluate', { name: 'cold', test_set });
    await c.call('drift.setReference', { name: 'cold', format: 'csv', data: csvOf(CREDIT.names, normal(100)) });
    expect(await loaded('cold')).toBe(true);
  });
});

describe('drift alerts of versions without traffic', () => {
  let credit: string;
  let gone: string;
  it('resolves the alert of a version that stops getting traffic, and of a removed one', async () => {
    credit = (await pushModel(c, 'credit', modelBytes('logreg.onnx'))).model!.version;
    gone = (await pushModel(c, 'gone', modelBytes('logreg.onnx'))).model!.version;
    for (const name of ['credit', 'gone']) await c.call('drift.setReference', { name, format: 'csv', data: csvOf(CREDIT.names, normal(2000)) });
    await nextBucket(BUCKET);
    const stop = Date.now() + 3 * BUCKET - 150;
    while (Date.now() < stop) {
      await sendRows(c, 'credit', shifted(100), 100);
      await sendRows(c, 'gone', shifted(100), 100);
      await new Promise((r) => setTimeout(r, 40));
    }
    const raised = () => events.filter((e) => e.type === 'raised').map((e) => e.name).sort();
    expect(await until(() => raised().length === 2, 3 * BUCKET)).toBe(true);
    expect(raised()).toEqual(['credit', 'gone']);
    const stoppedAt = Date.now();
    await c.call('model.remove', { name: 'gone', version: gone });
    const resolved = (name: string) => events.find((e) => e.type === 'resolved' && e.name === name);
    expect(await until(() => resolved('gone') !== undefined, 3 * BUCKET)).toBe(true);
    expect(resolved('gone')!.message).toMatch(/resolved: version removed$/);
    // alert_after (2) + 1 buckets without traffic, checked every bucket
    expect(await until(() => resolved('credit') !== undefined, 8 * BUCKET)).toBe(true);
    expect(resolved('credit')!.message).toMatch(/drift in 2 of 4 input features .*; resolved: no traffic for [3-9] windows$/);
    expect(resolved('credit')!.at - stoppedAt).toBeLessThan(6 * BUCKET);
    const h = await c.call('drift.history', { name: 'credit' });
    expect(h.alerts).toHaveLength(1);
    expect(h.alerts[0].resolved_at).not.toBeNull();
    expect(h.alerts[0].message).toMatch(/resolved: no traffic/);
    const sub = await c.subscribe('drift.alerts', {}, () => undefined);
    expect((sub.snapshot as { alerts: unknown[] }).alerts).toEqual([]);
    await sub.close();
  }, 30_000);

  it('keeps the judged history and the windows when a new reference is set (only new windows count towards alerts)', async () => {
    const before = await c.call('drift.history', { name: 'credit', version: credit });
    expect(before.points.filter((p) => p.judged).length).toBeGreaterThanOrEqual(2);
    await c.call('drift.setReference', { name: 'credit', format: 'csv', data: csvOf(CREDIT.names, normal(1000)) });
    const after = await c.call('drift.history', { name: 'credit', version: credit });
    expect(after.points).toEqual(before.points);
    expect(after.alerts).toEqual(before.alerts);
    // the windows go on (same feature types): their rows stay, judged against the new reference with histograms
    // re-estimated from the sketches over the new bins
    const rep = await c.call('drift.report', { name: 'credit', window: '1m' });
    expect(rep.rows).toBeGreaterThan(0);
    expect(rep.reference?.rows).toBe(1000);
    expect(rep.features.filter((f) => f.role === 'input').every((f) => f.status === 'ok' || f.status === 'drift')).toBe(true);
    expect(rep.features.every((f) => f.psi !== null)).toBe(true);
  });
});
