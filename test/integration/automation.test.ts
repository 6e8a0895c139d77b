import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSink } from '../../agent/automation/webhook.js';
import { packageRoot } from '../../shared/util/package-root.js';
import { createLogger } from '../../agent/log.js';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../shared/client/agent-client.js';
import type { AutomationSpecInput } from '../../shared/protocol/index.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf, nextBucket, sendRows } from '../helpers/drift.js';
import { agentWith, MemoryFeedback, untilRun } from '../helpers/automation.js';
import { untilAlert, webhookReceiver } from '../helpers/webhook.js';

const ROOT = packageRoot();

// The closed loop on a real agent over loopback: a drift alert starts a run whose process job (running as the job
// user) retrains with the real training script (scripts/train-logreg.ts: logistic regression → ONNX), the output is
// registered with lineage, passes the test gate and goes 10 → 50 → 100 and is promoted; a worse model stops at the
// gate; a failed job ends the run; a second trigger inside the cooldown is suppressed with the reason.
// (kill -9 during a run: automation-durability.test.ts.)
const BUCKET = 1000;
const rnd = mulberry32(7);
const normal = (n: number) => normalRows(rnd, n, CREDIT.means, CREDIT.stds);
const shifted = (n: number) => normal(n).map((r) => [r[0] + 3 * CREDIT.stds[0], r[1], r[2] + 3 * CREDIT.stds[2], r[3]]);

/** A job that writes `model` (a fixture) as its output and a metrics file. */
const copyJob = (model: string, extra = '') => ({ driver: 'process' as const, command: ['sh', '-c',
  `${extra}test -s "$FLEETML_DATA" && cp ${modelFile(model)} "$FLEETML_OUTPUT" && printf '{"accuracy": 0.97, "rows": %s}' "$(($(wc -l < "$FLEETML_DATA") - 1))" > "$FLEETML_METRICS"`] });

/** The real retraining job: scripts/train-logreg.ts (built), reading FLEETML_DATA and writing FLEETML_OUTPUT/METRICS. */
const trainJob = { driver: 'process' as const, command: [process.execPath, join(ROOT, 'dist/scripts/train-logreg.js')] };
/** A model trained on new labels answers differently from the one it replaces: its canary is judged on errors and latency. */
const retrainedRollout = { strategy: 'canary' as const, steps: [10, 50, 100], step_duration_s: 1.5, analysis: { min_requests: 30, max_waits: 6, max_p95_ratio: 20, max_drift: 1e9 } };

type A = Awaited<ReturnType<typeof agentWith>>;
let a: A;
let c: AgentClient;
let dataFile: string;
let testFile: string;
/** Training data and a held-out set labelled by a rule the training script can learn (v1 knows nothing of it). */
let ruleTrain: string;
let ruleTest: string;
let trafficOn = false;
// a real HTTP receiver of the Alertmanager-shaped webhook the agent sends run outcomes to
let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
let traffic: Promise<void> = Promise.resolve();
let gen = normal;
function startTraffic() {
  trafficOn = true;
  traffic = (async () => { while (trafficOn) { await sendRows(c, 'credit', gen(20), 20).catch(() => undefined); await new Promise((r) => setTimeout(r, 5)); } })();
}
async function stopTraffic() { trafficOn = false; await traffic; }
const routing = async () => (await c.call('model.history', { name: 'credit', limit: 1 })).events[0]?.targets ?? null;
const spec = (p: Partial<AutomationSpecInput> & { name: string }): AutomationSpecInput => ({
  model: 'credit', trigger: { kind: 'manual' }, job: copyJob('logreg.onnx'), data: { file: dataFile },
  gate: { metric: 'accuracy', bound: 0.9, max_regression: 0.01, test_set: { file: testFile } },
  rollout: { strategy: 'canary', steps: [10, 50, 100], step_duration_s: 1.5, analysis: { min_requests: 30, max_waits: 6, max_p95_ratio: 20 } },
  cooldown_s: 0, ...p,
});

beforeAll(async () => {
  receiver = await webhookReceiver();
  const sink = new WebhookSink({ url: receiver.url, log: createLogger('silent'), backoffMs: 50 });
  a = await agentWith({ alerts: sink }, {}, (cfg) => { cfg.drift.bucket_s = 1; cfg.drift.alert_after = 2; cfg.drift.min_rows = 300; cfg.drift.auto_reference_rows = 0; });
  c = a.client;
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  await c.call('drift.setReference', { name: 'credit', version: 'v1', format: 'csv', data: csvOf(CREDIT.names, normal(2000)) });
  // the training data and a held-out set labelled by v1 (the good candidate agrees with it, the drifted one does not)
  dataFile = join(a.work, 'credit-train.csv');
  writeFileSync(dataFile, csvOf([...CREDIT.names, 'label'], normal(500).map((r) => [...r, r[0] > 0.5 ? 1 : 0])), { mode: 0o644 });
  const rows = normal(300);
  const out = await c.call('model.infer', { name: 'credit', version: 'v1', inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }] });
  const probs = out.outputs[0].data as number[];
  const rule = (r: number[]) => (r[0] - CREDIT.means[0]) / CREDIT.stds[0] + (r[2] - CREDIT.means[2]) / CREDIT.stds[2] > 0 ? 1 : 0;
  ruleTrain = join(a.work, 'credit-rule-train.csv');
  writeFileSync(ruleTrain, csvOf([...CREDIT.names, 'label'], normal(800).map((r) => [...r, rule(r)])), { mode: 0o644 });
  ruleTest = join(a.work, 'credit-rule-test.csv');
  writeFileSync(ruleTest, csvOf([...CREDIT.names, 'label'], normal(300).map((r) => [...r, rule(r)])), { mode: 0o644 });
  testFile = join(a.work, 'credit-test.csv');
  writeFileSync(testFile, csvOf([...CREDIT.names, 'label'], rows.map((r, i) => [...r, probs[i] >= 0.5 ? 1 : 0])));
}, 60_000);
afterAll(async () => { await stopTraffic(); await a?.close(); await receiver?.close(); });

describe('automations on a real agent', () => {
  it('retrains on a drift alert, registers the job\'s model with lineage, gates it and promotes it 10 → 50 → 100', async () => {
    // the retraining job is the real training script: logistic regression on the run's data, written as ONNX
    const created = (await c.call('auto.create', { spec: spec({ name: 'credit-drift', trigger: { kind: 'drift' }, cooldown_s: 3600, job: trainJob, data: { file: ruleTrain },
      gate: { metric: 'accuracy', bound: 0.9, max_regression: 0.01, test_set: { file: ruleTest } }, rollout: retrainedRollout }) })).automation;
    expect(created).toMatchObject({ name: 'credit-drift', state: 'active', spec: { cooldown_s: 3600, max_runs: { count: 3, window_s: 86_400 } } });
    const seen: string[] = [];
    const sub = await c.subscribe('auto.events', {}, (m) => { if (!m.snapshot && 'run' in m.data) seen.push(m.data.run.state); });
    // shifted traffic until the alert starts a run, then normal traffic for the canary steps
    await nextBucket(BUCKET);
    gen = shifted;
    startTraffic();
    const queued = await untilRun(c, 'credit-drift', () => true, 20_000);
    gen = normal;
    expect(queued.trigger.kind).toBe('drift');
    expect(queued.trigger.detail).toMatch(/drift alert \d+: credit v1: drift in 2 of 4 input features/);
    expect(queued.parent_version).toBe('v1');
    const run = await untilRun(c, 'credit-drift', undefined, 60_000);
    await stopTraffic();
    await sub.close();
    expect(run.state, run.history.map((h) => `${h.state}: ${h.reason}`).join(' | ')).toBe('succeeded');
    expect([...new Set(seen)]).toEqual(['queued', 'training', 'registering', 'gating', 'rolling_out', 'succeeded']);
    expect(run.version).toBe(`auto-${run.id}`);
    expect(run.metrics?.accuracy).toBeGreaterThan(0.9); // the script's held-out accuracy (its metrics file)
    expect((run.metrics?.rows_train ?? 0) + (run.metrics?.rows_holdout ?? 0)).toBe(800);
    // lineage: the automation, the run, the job, the data digest, the parent
    const v = (await c.call('model.get', { name: 'credit', version: run.version! })).versions[0];
    const digest = createHash('sha256').update(readFileSync(ruleTrain)).digest('hex');
    expect(run.data_digest).toBe(digest);
    expect(v.lineage).toMatchObject({ dataset_sha256: digest, meta: { automation: 'credit-drift', run_id: run.id, job_id: run.job_id, parent_version: 'v1' } });
    // the job ran once, as the job user, with the env contract
    const jobs = (await c.call('job.list', { label: { 'fleetml.auto/run': run.id } })).jobs;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ id: run.job_id, name: `auto-${run.id}`, state: 'succeeded' });
    expect(Object.keys(jobs[0].spec.env).sort()).toEqual(['FLEETML_AUTOMATION', 'FLEETML_DATA', 'FLEETML_DATA_SHA256', 'FLEETML_METRICS', 'FLEETML_MODEL', 'FLEETML_OUTPUT', 'FLEETML_PARENT_VERSION', 'FLEETML_RUN_ID']);
    expect(jobs[0].spec.env.FLEETML_PARENT_VERSION).toBe('v1');
    // the rollout went through its gate and three steps
    const r = (await c.call('rollout.get', { id: run.rollout_id! })).rollout;
    expect(r.state).toBe('promoted');
    expect(r.reason).toMatch(new RegExp(`automation run ${run.id}`));
    expect(r.decisions.find((d) => d.kind === 'gate')?.outcome).toBe('pass');
    expect(r.decisions.filter((d) => d.kind === 'step')).toHaveLength(3);
    expect(await routing()).toEqual([{ version: run.version, weight: 100 }]);
    // every step is an audit row
    const db = new Database(join(a.dir, 'fleetml.db'), { readonly: true });
    const rows = db.prepare("SELECT token_name, method, detail FROM audit WHERE method IN ('auto.create', 'auto.step', 'job.submit', 'rollout.start') ORDER BY id").all() as Array<{ token_name: string; method: string; detail: string | null }>;
    db.close();
    expect(rows.filter((x) => x.method === 'auto.step').map((x) => JSON.parse(x.detail!).state)).toEqual(expect.arrayContaining(['queued', 'training', 'registering', 'gating', 'rolling_out', 'succeeded']));
    expect(rows.find((x) => x.method === 'job.submit')?.token_name).toBe('automation:credit-drift');
    expect(rows.find((x) => x.method === 'rollout.start')?.token_name).toBe('automation:credit-drift');
  }, 120_000);

  it('suppresses a manual run while one is in flight, and the run past the cap of runs per window', async () => {
    const first = await untilRun(c, 'credit-drift');
    startTraffic();
    const s = (await c.call('auto.run', { name: 'credit-drift' })).run; // manual skips the cooldown, not the cap…
    expect(s.state).toBe('queued');
    await untilRun(c, 'credit-drift', (r) => r.id === s.id && ['succeeded', 'failed', 'rolled_back'].includes(r.state), 60_000, s.id);
    // …and a manual run while one is in flight is suppressed
    const s2 = (await c.call('auto.run', { name: 'credit-drift' })).run;
    const s3 = (await c.call('auto.run', { name: 'credit-drift', reason: 'again' })).run;
    expect(s2.state).toBe('queued');
    expect(s3).toMatchObject({ state: 'suppressed', reason: expect.stringMatching(new RegExp(`run ${s2.id} of credit-drift for model credit is in flight`)) });
    await untilRun(c, 'credit-drift', (r) => r.id === s2.id && ['succeeded', 'failed', 'rolled_back'].includes(r.state), 60_000, s2.id);
    await stopTraffic();
    // a cap of 3 runs per window: the fourth is suppressed
    const s4 = (await c.call('auto.run', { name: 'credit-drift' })).run;
    expect(s4).toMatchObject({ state: 'suppressed', reason: expect.stringMatching(/^max runs: 3 runs in the last 24h/) });
    const hist = (await c.call('auto.history', { name: 'credit-drift' })).runs;
    expect(hist.map((r) => r.state).filter((x) => x === 'suppressed')).toHaveLength(2);
    expect(hist.at(-1)!.id).toBe(first.id);
  }, 150_000);

  it('stops a worse model at the gate; the stable version keeps serving', async () => {
    const before = await routing();
    await c.call('auto.create', { spec: spec({ name: 'credit-bad', job: copyJob('logreg-drifted.onnx') }) });
    const run = (await c.call('auto.run', { name: 'credit-bad' })).run;
    const done = await untilRun(c, 'credit-bad', undefined, 60_000);
    expect(done.id).toBe(run.id);
    expect(done.state).toBe('failed');
    expect(done.reason).toMatch(/^gate failed: test gate on auto-node: accuracy 0\.\d+ < 0\.9 \(the gate\).*never served/);
    expect(done.version).toBe(`auto-${run.id}`); // registered (with lineage), never served
    expect(await routing()).toEqual(before);
    // the outcome went out as an Alertmanager v4 payload: firing, naming the automation and the gate's verdict
    const alert = await untilAlert(receiver.hooks, (x) => x.labels.automation === 'credit-bad');
    expect(alert).toMatchObject({ status: 'firing', labels: { alertname: 'FleetmlAutomationRun', model: 'credit', version: done.parent_version }, endsAt: '0001-01-01T00:00:00Z' });
    expect(alert.annotations.description).toMatch(/gate failed/);
    expect(receiver.hooks.find((h) => h.alerts.includes(alert)).version).toBe('4');
  }, 90_000);

  it('ends a run whose job fails with the job\'s reason, and refuses bad specs precisely', async () => {
    await c.call('auto.create', { spec: spec({ name: 'credit-fail', job: { driver: 'process', command: ['sh', '-c', 'exit 3'] } }) });
    (await c.call('auto.run', { name: 'credit-fail' }));
    const done = await untilRun(c, 'credit-fail', undefined, 30_000);
    expect(done).toMatchObject({ state: 'failed', version: null, rollout_id: null });
    expect(done.reason).toMatch(/^training: job \S+ failed: exit code 3; the serving version is untouched/);
    const e1 = await c.call('auto.create', { spec: spec({ name: 'credit-fail' }) }).catch((e) => e);
    expect(e1.data.code).toBe('CONFLICT');
    const e2 = await c.call('auto.create', { spec: spec({ name: 'x', trigger: { kind: 'schedule', cron: '61 * * * *' } }) }).catch((e) => e);
    expect(e2.message).toMatch(/cron minute: "61" is outside 0-59/);
    const e3 = await c.call('auto.create', { spec: spec({ name: 'x', data: { file: '/no/such.csv' } }) }).catch((e) => e);
    expect(e3.message).toMatch(/no file \/no\/such.csv/);
    // this agent keeps ground truth (its feedback join store), so a performance trigger is accepted
    const p4 = await c.call('auto.create', { spec: spec({ name: 'x-perf', trigger: { kind: 'performance', metric: 'accuracy', bound: 0.9 } }) });
    expect(p4.automation.spec.trigger).toMatchObject({ kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9 });
    await c.call('auto.remove', { name: 'x-perf' });
    expect((await c.call('auto.remove', { name: 'credit-fail' })).removed).toBe(true);
    expect((await c.call('auto.history', { name: 'credit-bad' })).runs).toHaveLength(1);
  }, 60_000);
});

describe('a performance trigger over ground truth', () => {
  let b: A;
  const fb = new MemoryFeedback();
  beforeAll(async () => {
    b = await agentWith({ performance: fb });
    await pushModel(b.client, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  }, 60_000);
  afterAll(async () => { await b?.close(); });

  it('exports the feedback to the job, and suppresses the same trigger inside the cooldown', async () => {
    await b.client.call('auto.create', { spec: { name: 'credit-perf', model: 'credit', trigger: { kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9, min_labelled: 20 },
      job: { driver: 'process', command: ['sh', '-c', 'test "$(wc -l < "$FLEETML_DATA")" -eq 81 && sleep 1 && exit 4'] },
      gate: { metric: 'accuracy', bound: 0.9 }, cooldown_s: 3600 } });
    const rows = normal(100).map((x, i) => ({ x, label: i % 2, predicted: 0.9 })); // half wrong: accuracy 0.5
    fb.add('v1', rows);
    const run = await untilRun(b.client, 'credit-perf', undefined, 30_000);
    expect(run.trigger).toMatchObject({ kind: 'performance', key: 'performance:v1:accuracy<0.9' });
    expect(run.trigger.detail).toMatch(/accuracy 0\.5000 < 0\.9 over 100 labelled rows of v1/);
    expect(run.data_source).toBe('feedback (80 labelled rows, the newest 20 held out for the gate)');
    expect(run.reason).toMatch(/exit code 4/); // the job saw 80 rows + a header
    await new Promise((r) => setTimeout(r, 5200)); // a burst of labels is judged once per 5 s
    fb.add('v1', rows.slice(0, 10));
    await new Promise((r) => setTimeout(r, 100));
    const hist = (await b.client.call('auto.history', { name: 'credit-perf' })).runs;
    expect(hist[0]).toMatchObject({ state: 'suppressed', trigger: { key: 'performance:v1:accuracy<0.9' } });
    expect(hist[0].reason).toMatch(new RegExp(`^duplicate trigger \\(performance:v1:accuracy<0.9\\): run ${run.id} already handled it`));
    // another trigger (the metric of a new serving version) inside the cooldown: suppressed by the cooldown
    await pushModel(b.client, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
    await b.client.call('model.alias', { name: 'credit', targets: [{ version: 'v2', weight: 100 }] });
    await new Promise((r) => setTimeout(r, 5200));
    fb.add('v2', rows);
    fb.add('v2', rows); // inside 5 s: not judged again
    // the same trigger stopped by the same guard again folds into the row (repeats) instead of adding one
    await new Promise((r) => setTimeout(r, 5200));
    fb.add('v2', rows);
    const h2 = (await b.client.call('auto.history', { name: 'credit-perf' })).runs;
    expect(h2).toHaveLength(3);
    expect(h2[0]).toMatchObject({ state: 'suppressed', repeats: 1, trigger: { key: 'performance:v2:accuracy<0.9' } });
    expect(h2[0].reason).toMatch(new RegExp(`^cooldown: run ${run.id} ended at \\S+; the next run may start after \\S+ \\(cooldown 1h\\)`));
  }, 60_000);
});
