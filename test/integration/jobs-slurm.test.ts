import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { JobSpecInput } from '../../shared/protocol/index.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { slurmAgentConfig, slurmRequired, slurmState, slurmStatus } from '../helpers/slurm.js';

// The slurm driver against the real one-node Slurm cluster of scripts/slurm-cluster.sh (2 GPUs as GRES, 8 CPUs):
// jobs go through a real agent process to sbatch, and every state, exit code and line of output comes back from Slurm.

const status = await slurmStatus();
if (!status.running && slurmRequired()) throw new Error(`no Slurm test cluster (bash scripts/slurm-cluster.sh start): ${status.detail}`);

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let port: number;
let args: string[];
const connect = async () => { const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false }); await c.connect(); return c; };
const logText = async (c: AgentClient, id: string, stream?: string) => (await c.call('job.logs', { id })).lines.filter((l) => !stream || l.stream === stream).map((l) => l.line).join('\n');

describe.skipIf(!status.running)('slurm driver (real Slurm)', () => {
  let c: AgentClient;
  const submit = async (spec: Partial<JobSpecInput>) => (await c.call('job.submit', { spec: { driver: 'slurm', command: ['true'], ...spec } as JobSpecInput })).job;

  beforeAll(async () => {
    tmp = tempDir();
    port = await freePort();
    args = ['--config', slurmAgentConfig(tmp.dir, join(tmp.dir, 'slurm-work')), '--gpu-source', 'none'];
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'login-1', args });
    c = await connect();
  }, 60_000);
  afterAll(async () => {
    // leave the shared test cluster as found: cancel what this agent still has in Slurm
    for (const j of (await c?.call('job.list', {}).catch(() => ({ jobs: [] })))?.jobs ?? []) if (!isTerminal(j)) await c.call('job.cancel', { id: j.id }).catch(() => undefined);
    await c?.close(); await agent?.stop(); tmp?.cleanup();
  });

  it('runs a batch job to its exit code, with its stdout and stderr, its Slurm id and partition', async () => {
    const ok = await submit({ command: ['sh', '-c', 'echo "hello from $SLURM_JOB_ID on $SLURM_JOB_PARTITION"; echo oops >&2; exit 0'], name: 'hello' });
    const bad = await submit({ command: ['sh', '-c', 'echo partial; exit 3'] });
    const a = await untilJob(c, ok.id, isTerminal, 60_000);
    const b = await untilJob(c, bad.id, isTerminal, 60_000);
    expect(a.state).toBe('succeeded');
    expect(a.exit_code).toBe(0);
    expect(a.slurm?.job_id).toMatch(/^\d+$/);
    expect(a.slurm?.partition).toBe('debug');
    expect(a.slurm?.state).toBe('COMPLETED');
    expect(await logText(c, ok.id, 'stdout')).toContain(`hello from ${a.slurm!.job_id} on debug`);
    expect(await logText(c, ok.id, 'stderr')).toContain('oops');
    expect(a.history.map((h) => h.state)).toEqual(expect.arrayContaining(['queued', 'starting', 'running', 'succeeded']));
    expect(b.state).toBe('failed');
    expect(b.exit_code).toBe(3);
    expect(b.reason).toContain('exit code 3');
    expect(b.slurm?.state).toBe('FAILED');
    expect(await logText(c, bad.id, 'stdout')).toContain('partial');
    // Slurm itself agrees
    expect(await slurmState(b.slurm!.job_id)).toBe('FAILED');
  }, 90_000);

  it('asks Slurm for the GPUs (GRES), which binds them: the job sees CUDA_VISIBLE_DEVICES from Slurm', async () => {
    const j = await submit({ command: ['sh', '-c', 'echo "gpus=$CUDA_VISIBLE_DEVICES job=$FLEETML_JOB_ID"'], gpus: 2 });
    const done = await untilJob(c, j.id, isTerminal, 60_000);
    expect(done.state).toBe('succeeded');
    expect(await logText(c, j.id, 'stdout')).toContain(`gpus=0,1 job=${j.id}`);
  }, 90_000);

  it('shows a job pending with Slurm\'s reason while the GPUs are taken, runs it when they are free; cancel works pending and running', async () => {
    const hog = await submit({ command: ['sleep', '120'], gpus: 2, name: 'hog' });
    await untilJob(c, hog.id, (j) => j.state === 'running', 60_000);
    const waiting = await submit({ command: ['sh', '-c', 'echo got $CUDA_VISIBLE_DEVICES'], gpus: 1, name: 'waiter' });
    const other = await submit({ command: ['sleep', '60'], gpus: 1 });
    const pending = await untilJob(c, waiting.id, (j) => j.state === 'queued' && !!j.slurm && /Resources|Priority/.test(j.reason ?? ''), 60_000);
    expect(pending.reason).toMatch(/^pending in Slurm \(job \d+, partition debug\): (Resources|Priority)/);
    expect(pending.slurm?.state).toBe('PENDING');
    expect(pending.slurm?.reason).toMatch(/Resources|Priority/);

    // cancel while pending: scancel, and the job ends cancelled (it never ran)
    await untilJob(c, other.id, (j) => j.state === 'queued' && !!j.slurm, 30_000);
    await c.call('job.cancel', { id: other.id, reason: 'not needed' });
    const oc = await untilJob(c, other.id, isTerminal, 30_000);
    expect(oc.state).toBe('cancelled');
    expect(oc.started_at).toBeNull();
    expect(oc.reason).toContain('cancelled by');
    expect(await slurmState(oc.slurm!.job_id)).toBe('CANCELLED');

    // cancel the running hog: the waiter gets the GPUs and runs
    await c.call('job.cancel', { id: hog.id });
    const hc = await untilJob(c, hog.id, isTerminal, 60_000);
    expect(hc.state).toBe('cancelled');
    const w = await untilJob(c, waiting.id, isTerminal, 60_000);
    expect(w.state).toBe('succeeded');
    expect(w.history.map((h) => h.state)).toEqual(expect.arrayContaining(['queued', 'running', 'succeeded']));
    expect(await logText(c, waiting.id, 'stdout')).toMatch(/got [01]/);
  }, 180_000);

  it('stops a job at its time limit (failed, with the reason) and reports a memory-limit kill as OOM', async () => {
    const slow = await submit({ command: ['sleep', '100'], timeout_s: 2 });
    const hungry = await submit({ command: ['python3', '-c', 'x = bytearray(400 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1\nimport time; time.sleep(20)'], memory_bytes: 64 * 1024 * 1024 });
    const s = await untilJob(c, slow.id, isTerminal, 90_000);
    expect(s.state).toBe('failed');
    expect(s.reason).toMatch(/timed out after 2 s/);
    const h = await untilJob(c, hungry.id, isTerminal, 90_000);
    expect(h.state).toBe('failed');
    expect(h.oom_killed).toBe(true);
    expect(h.reason).toMatch(/OOM killed/);
  }, 120_000);

  it('refuses what Slurm can never run here, with the reason', async () => {
    await expect(submit({ gpus: 3 })).rejects.toThrow(/needs 3 GPUs on one node; the nodes of partition debug have at most 2/);
    await expect(submit({ slurm: { partition: 'nosuch' } })).rejects.toThrow(/partition nosuch does not exist/);
    await expect(submit({ image: 'busybox' })).rejects.toThrow(/no container runtime configured/);
  });

  it('reports the cluster (partitions, free GPUs) in node.resources', async () => {
    const r = await c.call('node.resources', {});
    expect(r.slurm?.cluster).toBe('fleetml');
    expect(r.slurm?.default_partition).toBe('debug');
    const p = r.slurm!.partitions.find((x) => x.name === 'debug')!;
    expect(p.gpus_total).toBe(2);
    expect(p.gpus_per_node_max).toBe(2);
    expect(p.default).toBe(true);
    expect(r.drivers.find((d) => d.name === 'slurm')?.available).toBe(true);
  });

  it('after kill -9 of the agent, a running Slurm job is recovered by id, ran once, with its real exit code', async () => {
    const marker = join(tmp.dir, 'ran-count');
    const j = await submit({ command: ['sh', '-c', `echo run >> ${marker}; echo before; sleep 4; echo after; exit 4`] });
    const ended = await submit({ command: ['sh', '-c', 'sleep 2; exit 6'] });
    await untilJob(c, j.id, (x) => x.state === 'running', 60_000);
    await untilJob(c, ended.id, (x) => x.state === 'running', 60_000);
    await c.close();
    await agent.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000)); // `ended` finishes while no agent runs
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'login-1', args });
    c = await connect();
    const e = await untilJob(c, ended.id, isTerminal, 60_000);
    expect(e.state).toBe('failed');
    expect(e.exit_code).toBe(6);
    const r = await untilJob(c, j.id, isTerminal, 60_000);
    expect(r.state).toBe('failed');
    expect(r.exit_code).toBe(4);
    expect(r.history.some((h) => h.reason?.includes('re-attached') || h.state === 'running')).toBe(true);
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toEqual(['run']);
    const out = await logText(c, j.id, 'stdout');
    expect(out.split('\n').filter((l) => l === 'before')).toHaveLength(1);
    expect(out).toContain('after');
  }, 150_000);
});

