import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AutomationRun } from '../../shared/protocol/index.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf } from '../helpers/drift.js';
import { agentWith, untilRun } from '../helpers/automation.js';

// The windows kill -9 timing cannot aim at: the agent died after an effect but before the run recorded it. The run row
// is written as the dead agent left it (the effect done, its id not persisted); the agent resumes it and finds the
// job by its label and the rollout by its marker instead of starting them again, and skips a version that exists.
type A = Awaited<ReturnType<typeof agentWith>>;
let a: A;
const rnd = mulberry32(9);
const runRow = (id: string, state: AutomationRun['state'], p: Partial<AutomationRun> = {}): AutomationRun => {
  const now = Date.now();
  return { id, automation: 'cw', model: 'credit', trigger: { kind: 'manual', detail: 'test', key: `manual:${id}` }, state, reason: null, parent_version: 'v1', job_id: null,
    version: null, rollout_id: null, data_digest: 'a'.repeat(64), data_source: 'file test', metrics: null, repeats: 0, created_at: now, updated_at: now, finished_at: null,
    history: [{ ts: now, state, reason: 'written by the test as a dead agent left it' }], ...p };
};
function insert(r: AutomationRun) {
  const db = new Database(join(a.dir, 'fleetml.db'));
  db.pragma('busy_timeout = 5000');
  db.prepare('INSERT INTO automation_runs (id, automation, model, state, trigger_key, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(r.id, r.automation, r.model, r.state, r.trigger.key, JSON.stringify(r), r.created_at, r.updated_at);
  db.close();
}

beforeAll(async () => {
  a = await agentWith({});
  await pushModel(a.client, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await a.client.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  const data = join(a.work, 'train.csv');
  writeFileSync(data, csvOf([...CREDIT.names, 'label'], normalRows(rnd, 50, CREDIT.means, CREDIT.stds).map((r) => [...r, 1])), { mode: 0o644 });
  await a.client.call('auto.create', { spec: { name: 'cw', model: 'credit', trigger: { kind: 'manual' }, data: { file: data },
    job: { driver: 'process', command: ['sh', '-c', `cp ${modelFile('logreg.onnx')} "$FLEETML_OUTPUT"`] },
    rollout: { strategy: 'canary', steps: [50, 100], step_duration_s: 600 } } });
}, 60_000);
afterAll(async () => { await a?.close(); });

describe('automation crash windows', () => {
  it('finds the job a dead agent submitted (by its label) instead of submitting it again', async () => {
    const id = 'rcrash00001';
    const dir = join(a.work, 'runs', id);
    mkdirSync(dir, { recursive: true });
    chmodSync(join(a.work, 'runs'), 0o711);
    chmodSync(dir, 0o777);
    // the job as the dead agent submitted it
    const { job } = await a.client.call('job.submit', { spec: { driver: 'process', name: `auto-${id}`, command: ['sh', '-c', `cp ${modelFile('logreg.onnx')} ${join(dir, 'model.onnx')}`], labels: { 'fleetml.auto/run': id } } });
    insert(runRow(id, 'training'));
    const r = await untilRun(a.client, 'cw', (x) => x.state === 'rolling_out', 30_000, id);
    expect(r.job_id).toBe(job.id);
    expect(r.history.map((h) => h.reason)).toContain(`job ${job.id} found (submitted before a restart)`);
    expect((await a.client.call('job.list', { label: { 'fleetml.auto/run': id } })).jobs).toHaveLength(1);
    // abort the rollout: the run ends rolled back with the reason, the stable version serves
    await a.client.call('rollout.abort', { id: r.rollout_id!, reason: 'test' });
    const done = await untilRun(a.client, 'cw', (x) => x.state === 'rolled_back', 20_000, id);
    expect(done.reason).toMatch(new RegExp(`^rollout ${r.rollout_id} aborted`));
    expect((await a.client.call('model.history', { name: 'credit', limit: 1 })).events[0].targets).toEqual([{ version: 'v1', weight: 100 }]);
  }, 60_000);

  it('keeps a version a dead agent registered and finds the rollout it started (by its marker)', async () => {
    const id = 'rcrash00002';
    const version = `auto-${id}`;
    const pushed = (await pushModel(a.client, 'credit', modelBytes('logreg.onnx'), { version })).model!;
    const { rollout } = await a.client.call('rollout.start', { name: 'credit', to: version, from: 'v1', steps: [50, 100], step_duration_s: 600, reason: `automation run ${id} (cw, trigger manual: test)` });
    insert(runRow(id, 'registering', { job_id: 'j_dead' }));
    const r = await untilRun(a.client, 'cw', (x) => x.state === 'rolling_out', 30_000, id);
    expect(r).toMatchObject({ version, rollout_id: rollout.id });
    expect(r.history.map((h) => h.reason)).toContain(`rollout ${rollout.id} found (started before a restart) (no gate)`);
    expect((await a.client.call('model.get', { name: 'credit', version })).versions[0].pushed_at).toBe(pushed.pushed_at);
    expect((await a.client.call('rollout.list', { name: 'credit' })).rollouts.filter((x) => x.to === version)).toHaveLength(1);
    await a.client.call('rollout.abort', { id: rollout.id });
    await untilRun(a.client, 'cw', (x) => x.state === 'rolled_back', 20_000, id);
  }, 60_000);
});
