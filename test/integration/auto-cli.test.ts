// `fleetml auto …` against a real agent process: create from a YAML job file with the flags, list, show,
// pause, resume, a run by hand whose job fails (history says why), rm; every command with -o json, and the table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';
import { modelBytes, pushModel } from '../helpers/models.js';

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let inv: string;
const json = async (args: string[]) => {
  const r = await fleetml([...args, '--inventory', inv, '-o', 'json']);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  tmp = tempDir();
  agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name: 'cli-auto', args: ['--gpu-source', 'none', '--job-driver', 'process'] });
  const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
  await c.connect();
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  await c.close();
  inv = join(tmp.dir, 'inventory.yaml');
  writeFileSync(inv, `nodes:\n  - name: cli-auto\n    url: ${agent.url}\n    token: ${agent.token}\n`, { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'job.yaml'), '# the retraining job\ndriver: process\ncommand: [sh, -c, "echo no training here; exit 5"]\ntimeout_s: 600\n');
  writeFileSync(join(tmp.dir, 'train.csv'), 'income,age,debt_ratio,tenure,label\n1,2,3,4,1\n', { mode: 0o644 });
}, 60_000);
afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

describe('fleetml auto', () => {
  it('creates, lists, shows, pauses, resumes, runs, tells the history and removes, each with -o json', async () => {
    const created = await json(['auto', 'create', 'credit-retrain', '--model', 'credit', '--on', 'performance:accuracy<0.85', '--retrain-job', join(tmp.dir, 'job.yaml'),
      '--data', join(tmp.dir, 'train.csv'), '--gate', 'accuracy>=0.9', '--max-regression', '0.02', '--rollout', 'canary 10,50,100 --step-duration 5m', '--cooldown', '6h', '--max-runs', '3/24h']);
    const a = created.automation ?? created[0]?.automation ?? created;
    expect(a).toMatchObject({ name: 'credit-retrain', model: 'credit', state: 'active', spec: {
      trigger: { kind: 'performance', metric: 'accuracy', op: '<', bound: 0.85 }, gate: { metric: 'accuracy', bound: 0.9, max_regression: 0.02 },
      rollout: { strategy: 'canary', steps: [10, 50, 100], step_duration_s: 300 }, cooldown_s: 21_600, max_runs: { count: 3, window_s: 86_400 },
      job: { driver: 'process', timeout_s: 600 } } });
    expect(JSON.stringify(await json(['auto', 'list']))).toContain('"credit-retrain"');
    const table = await fleetml(['auto', 'list', '--inventory', inv]);
    expect(table.stdout).toMatch(/credit-retrain +credit/);
    expect(JSON.stringify(await json(['auto', 'pause', 'credit-retrain']))).toContain('"paused"');
    expect(JSON.stringify(await json(['auto', 'resume', 'credit-retrain']))).toContain('"active"');
    const ran = JSON.stringify(await json(['auto', 'run', 'credit-retrain', '--reason', 'from the CLI test']));
    const id = /"id":"(r[0-9a-f]+)"/.exec(ran)![1];
    let hist = '';
    for (let i = 0; i < 100; i++) {
      hist = JSON.stringify(await json(['auto', 'history', 'credit-retrain', '--run', id]));
      if (hist.includes('"state":"failed"')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(hist).toContain('"state":"failed"');
    expect(hist).toMatch(/exit code 5/);
    expect(JSON.stringify(await json(['auto', 'show', 'credit-retrain']))).toContain(id);
    const h = await fleetml(['auto', 'history', 'credit-retrain', '--inventory', inv]);
    expect(h.stdout).toMatch(new RegExp(`${id} +failed +manual`));
    expect(JSON.stringify(await json(['auto', 'rm', 'credit-retrain']))).toMatch(/"removed":true/);
    const gone = await fleetml(['auto', 'show', 'credit-retrain', '--inventory', inv]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/credit-retrain/);
  }, 60_000);

  it('refuses a bad flag with a clear message and exit code 2', async () => {
    const r = await fleetml(['auto', 'create', 'x', '--model', 'credit', '--on', 'sometimes', '--retrain-job', join(tmp.dir, 'job.yaml'), '--inventory', inv]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--on/);
  });
});
