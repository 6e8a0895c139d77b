import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';

// `fleetml job run --gpus 1` across three real agents (one simulated GPU each) places jobs until the GPUs run out,
// then queues with a reason.
let tmp: ReturnType<typeof tempDir>;
const agents: AgentProcess[] = [];
let inv: string;
const fx = ['query-gpu-h100-80gb-hbm3-590.48-load.csv', 'rtx-3060-570.124-q-x.xml', 'gtx-1660-ti-418.43-q-x.xml'];

beforeAll(async () => {
  tmp = tempDir();
  for (const [i, f] of fx.entries()) {
    agents.push(await spawnAgent({ dataDir: join(tmp.dir, `n${i}`), port: await freePort(), name: `n${i}`,
      args: ['--gpu-source', 'sim', '--gpu-fixture', fixture(f), '--job-driver', 'fake', '--job-driver', 'process', '--telemetry-interval', '250'] }));
  }
  inv = join(tmp.dir, 'cluster.yaml');
  writeFileSync(inv, stringify({ nodes: agents.map((a, i) => ({ name: `n${i}`, url: a.url, token: a.token })) }));
}, 60_000);
afterAll(async () => { await Promise.all(agents.map((a) => a.stop())); tmp?.cleanup(); });

describe('fleetml job run across the cluster', () => {
  it('places one GPU job per node, then queues the next with a reason', async () => {
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fleetml(['job', 'run', '--inventory', inv, '--gpus', '1', '--driver', 'fake', '-o', 'json', '--', 'sleep', '20']);
      expect(r.code, r.stderr).toBe(0);
      placed.push(JSON.parse(r.stdout).node);
    }
    expect([...placed].sort()).toEqual(['n0', 'n1', 'n2']);
    const q = await fleetml(['job', 'run', '--inventory', inv, '--gpus', '1', '--driver', 'fake', '--', 'sleep', '1']);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout + q.stderr).toMatch(/queued on n\d: needs 1 GPU, 0 free/);
    const list = JSON.parse((await fleetml(['job', 'list', '--inventory', inv, '-o', 'json'])).stdout);
    const states = list.jobs.map((j: any) => j.job.state).sort();
    expect(states).toEqual(['queued', 'running', 'running', 'running']);
  });
  it('refuses a job no node can ever run, with a reason per node', async () => {
    const r = await fleetml(['job', 'run', '--inventory', inv, '--gpus', '2', '--driver', 'fake', '--', 'sleep', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/n0.*2 GPUs|needs 2 GPUs/);
  });
  it('cancels, shows, and waits with the exit status of the jobs', async () => {
    const run = JSON.parse((await fleetml(['job', 'run', '--inventory', inv, '--node', 'n1', '--driver', 'process', '-o', 'json', '--', 'sh', '-c', 'echo hello; exit 3'])).stdout);
    const id = run.job.id;
    const w = await fleetml(['job', 'wait', id, '--inventory', inv]);
    expect(w.code).toBe(1);
    const show = JSON.parse((await fleetml(['job', 'show', id, '--inventory', inv, '-o', 'json'])).stdout);
    expect(show.job ?? show).toMatchObject({ state: 'failed', exit_code: 3 });
    const logs = await fleetml(['job', 'logs', id, '--inventory', inv]);
    expect(logs.stdout).toContain('hello');
    const list = JSON.parse((await fleetml(['job', 'list', '--inventory', inv, '--state', 'running', '-o', 'json'])).stdout);
    const victim = list.jobs[0].job.id;
    expect((await fleetml(['job', 'cancel', victim, '--inventory', inv])).code).toBe(0);
    const w2 = await fleetml(['job', 'wait', victim, '--inventory', inv, '-o', 'json']);
    expect(w2.stdout).toMatch(/cancelled/);
  });
});
