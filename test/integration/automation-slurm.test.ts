import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf } from '../helpers/drift.js';
import { agentWith, untilRun } from '../helpers/automation.js';
import { isTerminal } from '../helpers/jobs.js';
import { slurmRequired, slurmState, slurmStatus } from '../helpers/slurm.js';

// An automation whose retraining job runs on Slurm (the real test cluster): the run hands the job to Slurm, waits for
// it, registers the model it wrote and gates it, exactly as with a local job.

const status = await slurmStatus();
if (!status.running && slurmRequired()) throw new Error(`no Slurm test cluster (bash scripts/slurm-cluster.sh start): ${status.detail}`);

type A = Awaited<ReturnType<typeof agentWith>>;
let a: A;
const slurmWork = mkdtempSync(join(tmpdir(), 'fleetml-auto-slurm-'));

describe.skipIf(!status.running)('automations with the retraining job on Slurm', () => {
  beforeAll(async () => {
    a = await agentWith({}, { jobDriver: ['process', 'slurm'] }, (cfg) => { cfg.jobs.slurm.work_dir = slurmWork; cfg.jobs.slurm.poll_ms = 200; });
  }, 60_000);
  afterAll(async () => {
    for (const j of (await a?.client.call('job.list', {}).catch(() => ({ jobs: [] })))?.jobs ?? []) if (!isTerminal(j)) await a.client.call('job.cancel', { id: j.id }).catch(() => undefined);
    await a?.close();
    rmSync(slurmWork, { recursive: true, force: true });
  });

  it('runs the retraining job as a Slurm batch job, registers its model and passes the gate', async () => {
    const c = a.client;
    const rnd = mulberry32(11);
    const rows = normalRows(rnd, 300, CREDIT.means, CREDIT.stds);
    await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    const out = await c.call('model.infer', { name: 'credit', version: 'v1', inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }] });
    const probs = out.outputs[0].data as number[];
    const data = join(a.work, 'train.csv');
    writeFileSync(data, csvOf([...CREDIT.names, 'label'], rows.map((r, i) => [...r, probs[i] >= 0.5 ? 1 : 0])), { mode: 0o644 });
    const test = join(a.work, 'test.csv');
    writeFileSync(test, csvOf([...CREDIT.names, 'label'], rows.map((r, i) => [...r, probs[i] >= 0.5 ? 1 : 0])), { mode: 0o644 });
    await c.call('auto.create', { spec: {
      name: 'credit-slurm', model: 'credit', trigger: { kind: 'manual' }, data: { file: data }, cooldown_s: 0,
      job: { driver: 'slurm', gpus: 1, command: ['sh', '-c', `echo "training on gpu $CUDA_VISIBLE_DEVICES"; cp ${modelFile('logreg.onnx')} "$FLEETML_OUTPUT" && echo '{"accuracy": 0.99}' > "$FLEETML_METRICS"`] },
      gate: { metric: 'accuracy', bound: 0.9, max_regression: 0.01, test_set: { file: test } },
      rollout: { strategy: 'canary', steps: [10, 100], step_duration_s: 30, analysis: { min_requests: 30, max_waits: 6, max_p95_ratio: 20 } },
    } });
    const started = (await c.call('auto.run', { name: 'credit-slurm' })).run;
    const run = await untilRun(c, 'credit-slurm', (r) => ['rolling_out', 'succeeded', 'failed', 'cancelled'].includes(r.state), 90_000, started.id);
    expect(run.state, run.history.map((h) => `${h.state}: ${h.reason}`).join(' | ')).toBe('rolling_out');
    const job = (await c.call('job.get', { id: run.job_id! })).job;
    expect(job.spec.driver).toBe('slurm');
    expect(job.state).toBe('succeeded');
    expect(job.slurm?.job_id).toMatch(/^\d+$/);
    expect(await slurmState(job.slurm!.job_id)).toBe('COMPLETED');
    const logs = (await c.call('job.logs', { id: job.id })).lines.map((l) => l.line).join('\n');
    expect(logs).toMatch(/training on gpu [01]/);
    expect(run.history.map((h) => h.state)).toEqual(expect.arrayContaining(['training', 'registering', 'gating', 'rolling_out']));
    expect((await c.call('model.get', { name: 'credit', version: run.version! })).versions[0].lineage?.meta?.job_id).toBe(job.id);
  }, 120_000);
});
