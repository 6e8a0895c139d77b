import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { AgentClient } from '../../shared/client/agent-client.js';
import { DriftReport } from '../../shared/protocol/index.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf, nextBucket, sendRows } from '../helpers/drift.js';
import { webhookReceiver } from '../helpers/webhook.js';

// The "done when", on a real agent with the real logreg model (4 inputs → 1 probability): a reference
// dataset, unshifted traffic (no alert), then two features shifted (an alert naming exactly those two within the
// alert_after windows), then back to normal (resolved). Buckets are 1 s here instead of 5 min.
const BUCKET = 1000;
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
let version: string;
const events: Array<{ type: string; features: string[]; at: number }> = [];
// a real HTTP receiver for the agent's Alertmanager-shaped webhook (alerts.webhook_url)
let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
const rnd = mulberry32(42);
const normal = (n: number) => normalRows(rnd, n, CREDIT.means, CREDIT.stds);
const shifted = (n: number) => normal(n).map((r) => [r[0] + 3 * CREDIT.stds[0], r[1], r[2] + 3 * CREDIT.stds[2], r[3]]);

/** Sends rows for `buckets` whole buckets (about 1500 rows each: enough that sampling noise stays far below the thresholds). */
async function traffic(gen: (n: number) => number[][], buckets: number) {
  await nextBucket(BUCKET);
  const until = Date.now() + buckets * BUCKET - 150; // stop short of the next bucket: no window of one stray request
  while (Date.now() < until) { await sendRows(c, 'credit', gen(100), 100); await new Promise((r) => setTimeout(r, 60)); }
}

beforeAll(async () => {
  receiver = await webhookReceiver();
  a = await inProcessAgent({ jobDriver: ['fake'] }, (cfg) => { cfg.drift.bucket_s = 1; cfg.drift.alert_after = 2; cfg.drift.min_rows = 300; cfg.alerts.webhook_url = receiver.url; });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  version = (await pushModel(c, 'credit', modelBytes('logreg.onnx'))).model!.version;
  await c.subscribe('drift.alerts', {}, (m) => { if (!m.snapshot) { const e = m.data; events.push({ type: e.type, features: e.alert.features, at: Date.now() }); } });
}, 60_000);
afterAll(async () => { await c?.close(); await a?.close(); await receiver?.close(); });

describe('drift monitoring end to end', () => {
  it('builds a reference from a CSV whose header names the features (matched by position) and predicts on it', async () => {
    const r = await c.call('drift.setReference', { name: 'credit', format: 'csv', data: csvOf(CREDIT.names, normal(2000)), dataset_name: 'credit-train.csv' });
    expect(r.reference).toMatchObject({ source: 'dataset', rows: 2000, rows_seen: 2000, matched_by: 'position', dataset_name: 'credit-train.csv' });
    expect(r.reference!.dataset_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.features).toEqual([...CREDIT.names, 'output']);
    const rep = DriftReport.parse(await c.call('drift.report', { name: 'credit', window: '5s' }));
    expect(rep.reference?.rows).toBe(2000);
    // 2000 reference rows > 1000: the distances (Evidently's default for large references)
    expect(rep.features.map((f) => [f.name, f.role, f.method])).toEqual([...CREDIT.names.map((n) => [n, 'input', 'wasserstein']), ['output', 'prediction', 'wasserstein']]);
    expect(rep.features.every((f) => f.status === 'insufficient' && f.ref_rows === 2000)).toBe(true);
  });

  it('judges unshifted traffic as no drift, and raises no alert', async () => {
    await traffic(normal, 3);
    await nextBucket(BUCKET, 500);
    const h = await c.call('drift.history', { name: 'credit' });
    const judged = h.points.filter((p) => p.judged);
    expect(judged.length).toBeGreaterThanOrEqual(2);
    expect(judged.every((p) => !p.dataset_drift && p.drifted.length === 0)).toBe(true);
    expect(events).toEqual([]);
    const rep = await c.call('drift.report', { name: 'credit', window: '10s' });
    expect(rep.dataset_drift).toBe(false);
    expect(rep.rows).toBeGreaterThan(300);
    expect(rep.features.filter((f) => f.role === 'input').every((f) => f.status === 'ok' && f.score! < 0.1 && f.psi !== null)).toBe(true);
  }, 30_000);

  it('raises an alert naming exactly the two shifted features after alert_after windows, visible in the report and /metrics', async () => {
    const start = Date.now();
    await traffic(shifted, 3);
    await nextBucket(BUCKET, 500);
    const raised = events.filter((e) => e.type === 'raised');
    expect(raised).toHaveLength(1);
    expect(raised[0].features).toEqual(['income', 'debt_ratio']);
    expect(raised[0].at - start).toBeLessThan(4 * BUCKET + 1000); // alert_after = 2 windows after the first shifted one
    const rep = DriftReport.parse(await c.call('drift.report', { name: 'credit', window: '3s', histograms: true, feature: 'income' }));
    const by = Object.fromEntries(rep.features.map((f) => [f.name, f]));
    expect([by.income.status, by.age.status, by.debt_ratio.status, by.tenure.status]).toEqual(['drift', 'ok', 'drift', 'ok']);
    expect(rep.drift_share).toBe(0.5);
    expect(rep.dataset_drift).toBe(true);
    expect(rep.alert?.features).toEqual(['income', 'debt_ratio']);
    expect(by.income.quality).toContain('range'); // most shifted values lie above the reference's range
    expect(by.income.histogram!.current.at(-1)).toBeGreaterThan(0.2); // above the reference's maximum: about a third of the shifted mass
    expect(by.income.histogram!.reference.at(-1)).toBe(0);
    expect(by.age.histogram).toBeUndefined();
    const metrics = await (await fetch(`${a.http}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text();
    expect(metrics).toContain(`fleetml_drift_alert_active{model="credit",version="${version}"} 1`);
    expect(metrics).toMatch(new RegExp(`fleetml_drift_detected\\{model="credit",version="${version}",feature="income",role="input"\\} 1`));
    expect(metrics).toMatch(new RegExp(`fleetml_drift_detected\\{model="credit",version="${version}",feature="age",role="input"\\} 0`));
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    if (lint.error) throw new Error('promtool is required for this test (Debian package prometheus; .ci/run installs it)');
    expect(lint.stderr + lint.stdout).not.toMatch(/error while linting|parsing error|fleetml_drift/);
  }, 30_000);

  it('resolves the alert at the first window that does not drift, and keeps it in the history', async () => {
    await traffic(normal, 2);
    await nextBucket(BUCKET, 500);
    expect(events.map((e) => e.type)).toEqual(['raised', 'resolved']);
    const h = await c.call('drift.history', { name: 'credit' });
    expect(h.alerts).toHaveLength(1);
    expect(h.alerts[0].resolved_at).not.toBeNull();
    expect(h.alerts[0].message).toMatch(/drift in 2 of 4 input features \(income, debt_ratio\)/);
    const sub = await c.subscribe('drift.alerts', {}, () => undefined);
    expect(sub.snapshot.alerts).toEqual([]);
    await sub.close();
    // the webhook receiver got Alertmanager's payload (version 4): firing, then resolved, for the same alert
    const hooks = receiver.hooks;
    for (let i = 0; i < 50 && hooks.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(hooks.map((h) => [h.version, h.status, h.alerts[0].status, h.alerts[0].labels.alertname, h.alerts[0].labels.model])).toEqual([
      ['4', 'firing', 'firing', 'FleetmlDrift', 'credit'], ['4', 'resolved', 'resolved', 'FleetmlDrift', 'credit'],
    ]);
    expect(hooks[0].alerts[0].endsAt).toBe('0001-01-01T00:00:00Z');
    expect(Date.parse(hooks[1].alerts[0].endsAt)).toBeGreaterThan(Date.parse(hooks[1].alerts[0].startsAt));
    expect(hooks[1].alerts[0].fingerprint).toBe(hooks[0].alerts[0].fingerprint);
    expect(hooks[0].alerts[0].annotations.summary).toMatch(/income|debt_ratio|drift/);
  }, 30_000);

  it('refuses bad references with a clear error and audits the ones it takes', async () => {
    const wrong = await c.call('drift.setReference', { name: 'credit', format: 'csv', data: 'a,b,c\n1,2,3\n' }).catch((e) => e);
    expect(wrong.data?.code).toBe('INVALID_PARAMS');
    expect(wrong.message).toMatch(/3 columns .* 4 input features/);
    const bad = await c.call('drift.setReference', { name: 'credit', format: 'jsonl', data: '{"income": 1}\nnot json\n' }).catch((e) => e);
    expect(bad.data?.code).toBe('INVALID_PARAMS');
    expect(bad.message).toMatch(/line/);
    const none = await c.call('drift.report', { name: 'nope' }).catch((e) => e);
    expect(none.data?.code).toBe('NOT_FOUND');
    const short = await c.call('drift.report', { name: 'credit', window: '10x' as never }).catch((e) => e);
    expect(short.data?.code).toBe('INVALID_PARAMS');
    const db = new Database(join(a.dir, 'fleetml.db'), { readonly: true });
    const rows = db.prepare("SELECT outcome FROM audit WHERE method = 'drift.setReference' ORDER BY id").all() as Array<{ outcome: string }>;
    db.close();
    expect(rows.map((r) => r.outcome)).toEqual(['ok', 'INVALID_PARAMS', 'INVALID_PARAMS']);
  });

  it('reads settings with a read token, changes them only with operate (audited), and applies per-feature overrides', async () => {
    const { token } = await c.call('token.create', { name: 'viewer', role: 'read' });
    const r = new AgentClient({ url: a.agent.url, token, reconnect: false });
    await r.connect();
    const got = await r.call('drift.config', { name: 'credit' });
    expect(got.effective).toMatchObject({ drift_share: 0.5, alert_after: 2, thresholds: { ks: 0.05, wasserstein: 0.1, psi: 0.2 } });
    const denied = await r.call('drift.config', { name: 'credit', set: { drift_share: 0.9 } }).catch((e) => e);
    expect(denied.data?.code).toBe('FORBIDDEN');
    await r.close();
    const set = await c.call('drift.config', { name: 'credit', set: { features: { income: { ignore: true }, debt_ratio: { method: 'psi', threshold: 5 } } } });
    expect(set.effective.features.income).toEqual({ ignore: true });
    const rep = await c.call('drift.report', { name: 'credit', window: '30s' });
    const by = Object.fromEntries(rep.features.map((f) => [f.name, f]));
    expect(by.income.status).toBe('ignored');
    expect(by.debt_ratio).toMatchObject({ method: 'psi', threshold: 5 });
    await c.call('drift.config', { name: 'credit', set: null });
    expect((await c.call('drift.config', { name: 'credit' })).overrides).toEqual({});
    const db = new Database(join(a.dir, 'fleetml.db'), { readonly: true });
    const rows = db.prepare("SELECT outcome, token_name FROM audit WHERE method = 'drift.config' ORDER BY id").all();
    db.close();
    expect(rows).toEqual([{ outcome: 'FORBIDDEN', token_name: 'viewer' }, { outcome: 'ok', token_name: expect.stringMatching(/^admin/) }, { outcome: 'ok', token_name: expect.stringMatching(/^admin/) }]);
  });
});
