import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { JobSpecInput } from '../../shared/protocol/index.js';
import { SlurmDriver } from '../../agent/runtime/slurm/slurm-driver.js';
import { createLogger } from '../../agent/log.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { slurmAgentConfig, slurmCmd, slurmRequired, slurmState, slurmStatus } from '../helpers/slurm.js';

// What happens while no agent runs, on a real Slurm: a job that reaches its Slurm time limit is recorded as timed out
// by the next agent (Slurm's TIMEOUT, read back with scontrol: this cluster keeps no accounting), and an attempt
// submitted just before a crash, before its handle was saved, is found again by its comment and never submitted twice.

const status = await slurmStatus();
if (!status.running && slurmRequired()) throw new Error(`no Slurm test cluster (bash scripts/slurm-cluster.sh start): ${status.detail}`);

let tmp: ReturnType<typeof tempDir>;

describe.skipIf(!status.running)('slurm driver across agent crashes (real Slurm)', () => {
  beforeAll(() => { tmp = tempDir(); });
  afterAll(() => tmp?.cleanup());

  it('a job that hits its Slurm time limit while the agent is down is failed, timed out, by the next agent', async () => {
    const port = await freePort();
    const args = ['--config', slurmAgentConfig(tmp.dir, join(tmp.dir, 'work-a')), '--gpu-source', 'none'];
    let agent: AgentProcess = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'login-t', args });
    let c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
    // timeout_s 30 → sbatch --time=1 (Slurm counts minutes): the agent would stop it at 30 s, but it is down then
    const j = (await c.call('job.submit', { spec: { driver: 'slurm', command: ['sleep', '300'], timeout_s: 30 } as JobSpecInput })).job;
    const running = await untilJob(c, j.id, (x) => x.state === 'running', 60_000);
    await c.close();
    await agent.stop('SIGKILL');
    const id = running.slurm!.job_id;
    // Slurm enforces its limit on its own (checked about every 30 s)
    for (let i = 0; i < 150 && (await slurmState(id)) !== 'TIMEOUT'; i++) await new Promise((r) => setTimeout(r, 1000));
    expect(await slurmState(id)).toBe('TIMEOUT');
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'login-t', args });
    c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
    const done = await untilJob(c, j.id, isTerminal, 60_000);
    expect(done.state).toBe('failed');
    expect(done.reason).toMatch(/^timed out: time limit reached, Slurm TIMEOUT \(time limit 00:01:00\)/);
    expect(done.slurm?.state).toBe('TIMEOUT');
    await c.close();
    await agent.stop();
  }, 240_000);

  it('after a restart the agent still stops a running Slurm job at its timeout (counted from when it started)', async () => {
    const port = await freePort();
    const args = ['--config', slurmAgentConfig(tmp.dir, join(tmp.dir, 'work-c')), '--gpu-source', 'none'];
    let agent: AgentProcess = await spawnAgent({ dataDir: join(tmp.dir, 'c'), port, name: 'login-r', args });
    let c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
    const j = (await c.call('job.submit', { spec: { driver: 'slurm', command: ['sleep', '300'], timeout_s: 6 } as JobSpecInput })).job;
    const running = await untilJob(c, j.id, (x) => x.state === 'running', 60_000);
    await c.close();
    await agent.stop('SIGKILL');
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'login-r', args });
    c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
    // Slurm's own limit is a whole minute (--time=1): only the agent's timer ends it this soon
    const done = await untilJob(c, j.id, isTerminal, 40_000);
    expect(done.state).toBe('failed');
    expect(done.reason).toMatch(/^timed out after 6 s/);
    expect(done.finished_at! - running.started_at!).toBeLessThan(45_000);
    await c.close();
    await agent.stop();
  }, 120_000);

  it('finds an attempt submitted just before a crash by its comment; an attempt never submitted is safe to queue again', async () => {
    const work = join(tmp.dir, 'work-b');
    const d = new SlurmDriver({ logger: createLogger('silent'), workDir: work, binDir: null, conf: null, partition: null, account: null, qos: null, gres: 'gpu', container: null, user: null, pollMs: 200, commandTimeoutMs: 15_000 });
    const jobId = `j_${Date.now().toString(16).slice(-12).padStart(12, '0')}`;
    // what start() leaves before sbatch returns: the script, and (here by hand) the job in Slurm with the attempt's comment
    const dir = join(work, jobId, 'attempt-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'job.sh'), '#!/bin/sh\nsleep 30\n', { mode: 0o700 });
    const sid = (await slurmCmd('sbatch', ['--parsable', `--comment=fleetml:${jobId}:1`, `--output=${dir}/stdout.log`, join(dir, 'job.sh')])).trim();
    try {
      const found = await d.findStarted(jobId, 1, '');
      expect(found).not.toBeNull();
      expect(found !== 'unknown' && found?.state.slurm_job_id).toBe(sid);
      expect(await d.findStarted(jobId, 2, '')).toBeNull(); // no script: sbatch never ran for attempt 2
      mkdirSync(join(work, jobId, 'attempt-3'), { recursive: true });
      writeFileSync(join(work, jobId, 'attempt-3', 'job.sh'), '#!/bin/sh\n');
      expect(await d.findStarted(jobId, 3, '')).toBe('unknown'); // sbatch may have run, Slurm does not show it: never resubmit
    } finally {
      await slurmCmd('scancel', [sid]).catch(() => undefined);
      await d.dispose();
    }
  }, 60_000);
});
