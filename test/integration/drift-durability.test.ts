import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { fleetml } from '../helpers/cli.js';
import { CREDIT, csvOf, nextBucket, sendRows } from '../helpers/drift.js';

// Nothing of drift is lost to kill -9: the reference, judged windows, the active alert and its count, and the open
// window's capture up to its last flush; a window that closed while the agent was down is judged at start-up.
// Also: a reference built from the first N requests, and the CLI against the real agent.
const BUCKET = 2000;
let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let port: number;
let config: string;
const rnd = mulberry32(7);
const normal = (n: number) => normalRows(rnd, n, CREDIT.means, CREDIT.stds);
const shifted = (n: number) => normal(n).map((r) => [r[0] + 3 * CREDIT.stds[0], r[1], r[2] + 3 * CREDIT.stds[2], r[3]]);
const start = () => spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'dd', args: ['--gpu-source', 'none', '--job-driver', 'fake', '--config', config] });
const connect = async () => { const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 }); await c.connect(); return c; };
async function traffic(c: AgentClient, name: string, gen: (n: number) => number[][], buckets: number) {
  await nextBucket(BUCKET);
  const until = Date.now() + buckets * BUCKET - 200;
  while (Date.now() < until) { await sendRows(c, name, gen(100), 100); await new Promise((r) => setTimeout(r, 50)); }
}

beforeAll(async () => {
  tmp = tempDir();
  port = await freePort();
  config = join(tmp.dir, 'agent.yaml');
  writeFileSync(config, `drift:\n  bucket_s: ${BUCKET / 1000}\n  alert_after: 2\n  min_rows: 300\n  auto_reference_rows: 500\n`);
  agent = await start();
}, 60_000);
afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

describe('drift across kill -9', () => {
  it('keeps the reference, the judged windows and the active alert, and judges the window that closed while it was down', async () => {
    let c = await connect();
    await pushModel(c, 'credit', modelBytes('logreg.onnx'));
    const ref = await c.call('drift.setReference', { name: 'credit', format: 'csv', data: csvOf(CREDIT.names, normal(2000)) });
    await traffic(c, 'credit', shifted, 2);
    await nextBucket(BUCKET, 800);
    const before = await c.call('drift.history', { name: 'credit' });
    expect(before.alerts.filter((a) => a.resolved_at === null)).toHaveLength(1);
    // A shifted window that is still open when the agent dies: its capture is flushed every few seconds at most.
    await nextBucket(BUCKET);
    for (let i = 0; i < 6; i++) await sendRows(c, 'credit', shifted(100), 100);
    await new Promise((r) => setTimeout(r, 1000)); // > one flush interval (min(5 s, bucket / 4))
    await c.close();
    await agent.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, BUCKET)); // that window closes while the agent is down
    agent = await start();
    c = await connect();
    const after = await c.call('drift.history', { name: 'credit' });
    // the reference is the same one
    const rep = await c.call('drift.report', { name: 'credit', window: '1m' });
    expect(rep.reference).toEqual(ref.reference);
    // every judged window is still there, plus the one judged at start-up (600 rows, drifting)
    expect(after.points.slice(0, before.points.length)).toEqual(before.points);
    const late = after.points[after.points.length - 1];
    expect(late.rows).toBe(600);
    expect(late.drifted.slice(0, 2)).toEqual(['income', 'debt_ratio']);
    // the alert survived, still active, and counted the late window
    const active = after.alerts.filter((a) => a.resolved_at === null);
    expect(active).toHaveLength(1);
    expect(active[0].id).toBe(before.alerts[0].id);
    expect(active[0].consecutive).toBe(before.alerts[0].consecutive + 1);
    // and it resolves with normal traffic after the restart
    await traffic(c, 'credit', normal, 1);
    await nextBucket(BUCKET, 800);
    expect((await c.call('drift.history', { name: 'credit' })).alerts.every((a) => a.resolved_at !== null)).toBe(true);
    await c.close();
  }, 60_000);

  it('builds a reference from the first N requests when none was given, and keeps the windows going', async () => {
    const c = await connect();
    await pushModel(c, 'auto', modelBytes('logreg.onnx'));
    const none = await c.call('drift.report', { name: 'auto', window: '1m' });
    expect(none.reference).toBeNull();
    await sendRows(c, 'auto', normal(400), 100);
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.call('drift.report', { name: 'auto', window: '1m' })).reference).toBeNull();
    await sendRows(c, 'auto', normal(200), 100);
    await new Promise((r) => setTimeout(r, 100));
    const rep = await c.call('drift.report', { name: 'auto', window: '1m' });
    expect(rep.reference).toMatchObject({ source: 'traffic', rows: 500, matched_by: 'traffic' }); // auto_reference_rows
    expect(rep.rows).toBe(600); // the windows go on across the new reference (same feature types)
    // 500 ≤ small_reference_rows (1000): the tests, as Evidently picks them for small references
    expect(rep.features.map((f) => f.method)).toEqual(['ks', 'ks', 'ks', 'ks', 'ks']);
    // from_traffic asks for a new one from the next N requests
    const r = await c.call('drift.setReference', { name: 'auto', from_traffic: 100 });
    expect(r.reference).toBeNull();
    await sendRows(c, 'auto', shifted(100), 100);
    await new Promise((res) => setTimeout(res, 100));
    const rep2 = await c.call('drift.report', { name: 'auto', window: '1m' });
    expect(rep2.reference).toMatchObject({ source: 'traffic', rows: 100 });
    await c.close();
  });

  it('serves the CLI: drift reference --from, drift show, drift history, with -o json', async () => {
    const env = { FLEETML_URL: agent.url, FLEETML_TOKEN: agent.token };
    const audited = () => { const db = new Database(join(agent.dataDir, 'fleetml.db'), { readonly: true }); try { return (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE method = 'drift.setReference' AND outcome = 'ok'").get() as { n: number }).n; } finally { db.close(); } };
    const auditedBefore = audited();
    const c = await connect();
    const judgedBefore = (await c.call('drift.history', { name: 'credit' })).points;
    await c.close();
    expect(judgedBefore.length).toBeGreaterThan(0);
    const csv = join(tmp.dir, 'train.csv');
    writeFileSync(csv, csvOf(CREDIT.names, normal(3000)));
    const up = await fleetml(['drift', 'reference', 'credit', '--from', csv, '-o', 'json'], env);
    expect(up.code).toBe(0);
    const res = JSON.parse(up.stdout).results[0].result;
    expect(res.reference).toMatchObject({ source: 'dataset', rows: 3000, dataset_name: 'train.csv' });
    const show = await fleetml(['drift', 'show', 'credit', '--window', '1m'], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/income\s+input\s+numeric\s+wasserstein/);
    expect(show.stdout).toMatch(/reference/);
    const hist = await fleetml(['drift', 'history', 'credit', '-o', 'json'], env);
    expect(hist.code).toBe(0);
    // a new reference restarts the windows, but the windows judged before stay in the history
    expect(JSON.parse(hist.stdout).points).toEqual(judgedBefore);
    const bad = await fleetml(['drift', 'show', 'nope'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/nope/);
    expect(audited()).toBe(auditedBefore + 1); // one chunk: one audited call
  }, 60_000);
});
