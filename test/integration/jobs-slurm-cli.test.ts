import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';
import { isTerminal } from '../helpers/jobs.js';
import { slurmAgentConfig, slurmRequired, slurmState, slurmStatus } from '../helpers/slurm.js';

// The CLI unchanged on top of Slurm: `fleetml job run --driver slurm --gpus 1`, list/show/logs -f/wait/cancel, and
// `node show` with the cluster's partitions. Two agents: a login node whose default driver is slurm (no GPUs of its
// own), and a GPU node with the process driver; placement sends a GPU job without --driver to the login node's Slurm.

const status = await slurmStatus();
if (!status.running && slurmRequired()) throw new Error(`no Slurm test cluster (bash scripts/slurm-cluster.sh start): ${status.detail}`);

let tmp: ReturnType<typeof tempDir>;
let login: AgentProcess;
let gpuNode: AgentProcess;
let inv: string;

describe.skipIf(!status.running)('fleetml job … on Slurm', () => {
  beforeAll(async () => {
    tmp = tempDir();
    const cfg = slurmAgentConfig(tmp.dir, join(tmp.dir, 'slurm-work'), {}, { default_driver: 'slurm' });
    login = await spawnAgent({ dataDir: join(tmp.dir, 'login'), port: await freePort(), name: 'login', args: ['--config', cfg, '--gpu-source', 'none'] });
    gpuNode = await spawnAgent({ dataDir: join(tmp.dir, 'gpu'), port: await freePort(), name: 'gpu', args: ['--gpu-source', 'sim', '--gpu-fixture', fixture('rtx-3060-570.124-q-x.xml'), '--job-driver', 'process', '--process-user', '@agent'] });
    inv = join(tmp.dir, 'cluster.yaml');
    writeFileSync(inv, stringify({ nodes: [{ name: 'login', url: login.url, token: login.token }, { name: 'gpu', url: gpuNode.url, token: gpuNode.token }] }));
  }, 60_000);
  afterAll(async () => {
    const c = new AgentClient({ url: login.url, token: login.token, reconnect: false });
    await c.connect().catch(() => undefined);
    for (const j of (await c.call('job.list', {}).catch(() => ({ jobs: [] }))).jobs) if (!isTerminal(j)) await c.call('job.cancel', { id: j.id }).catch(() => undefined);
    await c.close();
    await Promise.all([login?.stop(), gpuNode?.stop()]);
    tmp?.cleanup();
  });

  it('runs a GPU job on Slurm: run, logs -f, wait with its exit code, show with the Slurm id, list', async () => {
    const run = await fleetml(['job', 'run', '--inventory', inv, '--node', 'login', '--driver', 'slurm', '--gpus', '1', '--name', 'train-a', '-o', 'json', '--',
      'sh', '-c', 'echo "epoch 1 on gpu $CUDA_VISIBLE_DEVICES"; sleep 1; echo "epoch 2"; exit 2']);
    expect(run.code, run.stderr).toBe(0);
    const id = JSON.parse(run.stdout).job.id as string;
    const logs = await fleetml(['job', 'logs', '--inventory', inv, '-f', id], {}, 60_000);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/epoch 1 on gpu [01]/);
    expect(logs.stdout).toContain('epoch 2');
    const wait = await fleetml(['job', 'wait', '--inventory', inv, id], {}, 60_000);
    expect(wait.code).not.toBe(0);
    const show = await fleetml(['job', 'show', '--inventory', inv, id]);
    expect(show.stdout).toMatch(/State: +failed .*exit code 2/);
    expect(show.stdout).toMatch(/Slurm: +job \d+ +partition debug +state FAILED/);
    const list = await fleetml(['job', 'list', '--inventory', inv]);
    expect(list.stdout).toMatch(/train-a +failed +slurm \d+@debug/);
  }, 120_000);

  it('cancels a Slurm job from the CLI', async () => {
    const run = await fleetml(['job', 'run', '--inventory', inv, '--node', 'login', '--driver', 'slurm', '-o', 'json', '--', 'sleep', '300']);
    const id = JSON.parse(run.stdout).job.id as string;
    const c = await fleetml(['job', 'cancel', '--inventory', inv, id, '--reason', 'changed my mind']);
    expect(c.code, c.stderr).toBe(0);
    await fleetml(['job', 'wait', '--inventory', inv, id], {}, 60_000);
    const j = JSON.parse((await fleetml(['job', 'show', '--inventory', inv, id, '-o', 'json'])).stdout);
    const job = j.job ?? j;
    expect(job.state).toBe('cancelled');
    expect(await slurmState(job.slurm.job_id)).toBe('CANCELLED');
  }, 90_000);

  it('without --driver, a GPU job too big for the GPU node goes to the login node\'s Slurm (its default driver); node show lists the partitions', async () => {
    const run = await fleetml(['job', 'run', '--inventory', inv, '--gpus', '2', '-o', 'json', '--', 'true']);
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.node).toBe('login');
    expect(r.job.spec.driver).toBe('slurm');
    const show = await fleetml(['node', 'show', '--inventory', inv, 'login']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/Slurm: +cluster fleetml +default partition debug/);
    expect(show.stdout).toMatch(/debug\* +UP +1\/1 +\d+\/8 +\d\/2 +2/);
    // --partition implies the slurm driver; a partition Slurm does not have is refused with the reason
    const bad = await fleetml(['job', 'run', '--inventory', inv, '--node', 'login', '--partition', 'nosuch', '--', 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/partition nosuch does not exist/);
  }, 90_000);
});
