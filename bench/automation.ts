// 8. automation — the time from a trigger (auto.run) to the retraining job running, against the time from a plain
// job.submit of the same process job to running, measured in the same run on one real agent process (loopback).
// The difference is what the automation adds: persisting the run, exporting the training data into the run folder,
// and the submit through the agent's own dispatcher.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent } from '../scripts/lib/agent-process.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { isTerminalRun } from '../shared/protocol/index.js';
import { fmt, freePort, percentile, table } from './util.js';
import { packageRoot } from '../shared/util/package-root.js';
import { pushModelBytes } from '../shared/client/model-push.js';

const wallNow = () => performance.timeOrigin + performance.now();

export async function runAutomationBench(o: { runs: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetml-bench-auto-'));
  const agent = await spawnAgent({ dataDir: join(dir, 'a'), port: await freePort(), name: 'bench-auto', args: ['--gpu-source', 'none', '--job-driver', 'process'] });
  const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 60_000 });
  try {
    await c.connect();
    await pushModelBytes(c, 'credit', readFileSync(join(packageRoot(), 'test', 'fixtures', 'models', 'logreg.onnx')), { version: 'v1' });
    await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    const data = join(dir, 'train.csv');
    writeFileSync(data, `income,age,debt_ratio,tenure,label\n${Array.from({ length: 1000 }, (_, i) => `${i},${i % 70},${(i % 10) / 10},${i % 20},${i % 2}`).join('\n')}\n`, { mode: 0o644 });
    const job = { driver: 'process' as const, command: ['sh', '-c', 'sleep 0.2; exit 3'] };
    await c.call('auto.create', { spec: { name: 'bench', model: 'credit', trigger: { kind: 'manual' }, job, data: { file: data }, cooldown_s: 0, max_runs: { count: 1000, window_s: 3600 } } });
    // when each job reached running (the agent's own job.events, wall clock on the same machine)
    const runningAt = new Map<string, number>();
    const sub = await c.subscribe('job.events', {}, (m) => { if (!m.snapshot && 'job' in m.data && m.data.job.state === 'running' && !runningAt.has(m.data.job.id)) runningAt.set(m.data.job.id, wallNow()); });
    const untilRunning = async (id: string) => { for (let i = 0; i < 3000 && !runningAt.has(id); i++) await new Promise((r) => setTimeout(r, 2)); return runningAt.get(id) ?? NaN; };
    const direct: number[] = [];
    const auto: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      // a plain submit
      let t0 = wallNow();
      const { job: j } = await c.call('job.submit', { spec: job });
      direct.push((await untilRunning(j.id)) - t0);
      for (let k = 0; k < 500 && !['failed', 'succeeded'].includes((await c.call('job.get', { id: j.id })).job.state); k++) await new Promise((r) => setTimeout(r, 20));
      // a trigger: the run's job
      t0 = wallNow();
      const { run } = await c.call('auto.run', { name: 'bench' });
      let r = run;
      for (let k = 0; k < 1000 && !r.job_id; k++) { await new Promise((res) => setTimeout(res, 2)); r = (await c.call('auto.history', { name: 'bench', run: run.id, limit: 1 })).runs[0]; }
      auto.push((await untilRunning(r.job_id!)) - t0);
      for (let k = 0; k < 500 && !isTerminalRun(r); k++) { await new Promise((res) => setTimeout(res, 20)); r = (await c.call('auto.history', { name: 'bench', run: run.id, limit: 1 })).runs[0]; }
    }
    await sub.close();
    const row = (name: string, v: number[]) => [name, String(v.length), fmt(percentile(v, 50), 1), fmt(percentile(v, 95), 1)];
    const ratio = percentile(auto, 50) / percentile(direct, 50);
    return `${table(['path (process job, 1000-row training CSV)', 'runs', 'p50 ms', 'p95 ms'], [row('job.submit → running (baseline)', direct), row('auto.run → its job running', auto)])}\n` +
      `trigger → job running is ${fmt(ratio, 2)}× a plain submit (p50): persisting the run, exporting the data into its folder, submitting through the dispatcher`;
  } finally {
    await c.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
