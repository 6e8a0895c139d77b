import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { AutomationRun } from '../../shared/protocol/index.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf, sendRows } from '../helpers/drift.js';

// kill -9 of a real agent process while a run's job is running, and again while its rollout is running: each time
// the restarted agent resumes the run at its persisted step; the job ran once, one version was registered, one
// rollout started, and the run ends promoted.
let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let c: AgentClient;
let port: number;
const rnd = mulberry32(3);
let trafficOn = false;
let loop: Promise<void> = Promise.resolve();
const start = async () => {
  agent = await spawnAgent({ dataDir: join(tmp.dir, 'data'), port, name: 'dur', args: ['--gpu-source', 'sim', '--gpu-fixture', fixture('rtx-a5000-2gpu-590.44-procs-q-x.xml'), '--job-driver', 'process', '--job-driver', 'fake', '--config', join(tmp.dir, 'agent.yaml')] });
  c = new AgentClient({ url: agent.url, token: readFileSync(join(tmp.dir, 'data', 'admin.token'), 'utf8').trim(), reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
};
const kill9 = async () => { await c.close(); await agent.stop('SIGKILL'); };
function traffic() {
  trafficOn = true;
  loop = (async () => { while (trafficOn) { await sendRows(c, 'credit', normalRows(rnd, 20, CREDIT.means, CREDIT.stds), 20).catch(() => undefined); await new Promise((r) => setTimeout(r, 5)); } })();
}
async function stopTraffic() { trafficOn = false; await loop; }
async function until(id: string, pred: (r: AutomationRun) => boolean, ms = 40_000): Promise<AutomationRun> {
  const end = Date.now() + ms;
  for (;;) {
    const r = (await c.call('auto.history', { run: id, limit: 1 })).runs[0];
    if (r && pred(r)) return r;
    if (Date.now() > end) throw new Error(`run ${id}: ${r?.history.map((h) => `${h.state}: ${h.reason}`).join(' | ')}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

beforeAll(async () => {
  tmp = tempDir('fleetml-auto-dur-');
  chmodSync(tmp.dir, 0o711);
  const work = join(tmp.dir, 'work');
  mkdirSync(work, { mode: 0o755 });
  writeFileSync(join(tmp.dir, 'agent.yaml'), `automation:\n  work_dir: ${join(tmp.dir, 'runs')}\n`);
  writeFileSync(join(work, 'train.csv'), csvOf([...CREDIT.names, 'label'], normalRows(rnd, 200, CREDIT.means, CREDIT.stds).map((r) => [...r, r[0] > 0.5 ? 1 : 0])), { mode: 0o644 });
  writeFileSync(join(work, 'starts'), '', { mode: 0o666 });
  chmodSync(join(work, 'starts'), 0o666);
  port = await freePort();
  await start();
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  await c.call('auto.create', { spec: {
    name: 'credit-dur', model: 'credit', trigger: { kind: 'manual' }, data: { file: join(work, 'train.csv') },
    // each start of the job leaves a line in `starts`; it runs long enough to be killed under
    job: { driver: 'process', command: ['sh', '-c', `echo "$FLEETML_RUN_ID" >> ${join(work, 'starts')}; sleep 4; cp ${modelFile('logreg.onnx')} "$FLEETML_OUTPUT"`] },
    rollout: { strategy: 'canary', steps: [10, 50, 100], step_duration_s: 2, analysis: { min_requests: 20, max_waits: 10, max_p95_ratio: 50 } },
  } });
}, 60_000);
afterAll(async () => { await stopTraffic(); await c?.close(); await agent?.stop('SIGKILL'); tmp?.cleanup(); });

describe('automation runs across kill -9', () => {
  it('resumes at the persisted step: one job, one version, one rollout, promoted', async () => {
    const run = (await c.call('auto.run', { name: 'credit-dur' })).run;
    await until(run.id, (r) => r.state === 'training' && r.job_id !== null);
    await kill9(); // during the job
    await start();
    await until(run.id, (r) => ['gating', 'rolling_out'].includes(r.state), 30_000);
    traffic();
    await until(run.id, (r) => r.state === 'rolling_out');
    const ro = (await c.call('rollout.get', { id: (await until(run.id, () => true)).rollout_id! })).rollout;
    expect(ro.state).toBe('running');
    await stopTraffic();
    await kill9(); // during the rollout
    await start();
    traffic();
    const done = await until(run.id, (r) => ['succeeded', 'failed', 'rolled_back'].includes(r.state), 60_000);
    await stopTraffic();
    expect(done.state, done.history.map((h) => `${h.state}: ${h.reason}`).join(' | ')).toBe('succeeded');
    // the job started once
    expect(readFileSync(join(tmp.dir, 'work', 'starts'), 'utf8').trim().split('\n')).toEqual([run.id]);
    expect((await c.call('job.list', { label: { 'fleetml.auto/run': run.id } })).jobs).toHaveLength(1);
    // one version registered, one rollout started
    expect((await c.call('model.get', { name: 'credit' })).versions.map((v) => v.version).sort()).toEqual([`auto-${run.id}`, 'v1']);
    const ros = (await c.call('rollout.list', { name: 'credit' })).rollouts;
    expect(ros).toHaveLength(1);
    expect(ros[0]).toMatchObject({ id: done.rollout_id, state: 'promoted' });
    expect((await c.call('model.history', { name: 'credit', limit: 1 })).events[0].targets).toEqual([{ version: `auto-${run.id}`, weight: 100 }]);
  }, 150_000);
});
