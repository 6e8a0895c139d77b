import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { JobSpecInput } from '../../shared/protocol/index.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { slurmAgentConfig, slurmRequired, slurmStatus } from '../helpers/slurm.js';

// sbatch answers that leave it open whether Slurm has the job, against the real cluster: jobs.slurm.bin_dir points at
// wrappers of the real commands, and the sbatch wrapper (1) submits for real but then reports a timeout, as when the
// controller's answer is lost, and (2) reports "Unable to contact slurm controller" without submitting. Neither job
// is failed, lost or submitted twice: the first is found by its comment, the second is tried again.

const status = await slurmStatus();
if (!status.running && slurmRequired()) throw new Error(`no Slurm test cluster (bash scripts/slurm-cluster.sh start): ${status.detail}`);

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let c: AgentClient;

describe.skipIf(!status.running)('sbatch without a clear answer (real Slurm behind wrappers)', () => {
  beforeAll(async () => {
    tmp = tempDir();
    const bin = join(tmp.dir, 'bin');
    mkdirSync(bin);
    const real = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim();
    for (const cmd of ['squeue', 'scontrol', 'scancel', 'sacct']) { writeFileSync(join(bin, cmd), `#!/bin/sh\nexec ${real(cmd)} "$@"\n`); chmodSync(join(bin, cmd), 0o755); }
    // the job's own name says what the wrapper does with it; every call is counted in sbatch.calls
    writeFileSync(join(bin, 'sbatch'), `#!/bin/sh
echo "$*" >> ${join(tmp.dir, 'sbatch.calls')}
case "$*" in
  *--job-name=lost-answer*) ${real('sbatch')} "$@" >/dev/null; echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2; exit 1 ;;
  *--job-name=no-controller*) if [ ! -e ${join(tmp.dir, 'refused-once')} ]; then touch ${join(tmp.dir, 'refused-once')}; echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2; exit 1; fi ;;
esac
exec ${real('sbatch')} "$@"
`);
    chmodSync(join(bin, 'sbatch'), 0o755);
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name: 'login-w', args: ['--config', slurmAgentConfig(tmp.dir, join(tmp.dir, 'work'), { bin_dir: bin }), '--gpu-source', 'none'] });
    c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
  }, 60_000);
  afterAll(async () => { await c?.close(); await agent?.stop(); tmp?.cleanup(); });

  const calls = (name: string) => readFileSync(join(tmp.dir, 'sbatch.calls'), 'utf8').split('\n').filter((l) => l.includes(`--job-name=${name}`)).length;

  it('a job Slurm took although sbatch reported a timeout is found by its comment and tracked, not failed or resubmitted', async () => {
    const j = (await c.call('job.submit', { spec: { driver: 'slurm', name: 'lost-answer', command: ['sh', '-c', 'echo ran; exit 5'] } as JobSpecInput })).job;
    const done = await untilJob(c, j.id, isTerminal, 60_000);
    expect(done.state).toBe('failed');
    expect(done.exit_code).toBe(5);
    expect(done.slurm?.job_id).toMatch(/^\d+$/);
    expect(calls('lost-answer')).toBe(1);
    expect((await c.call('job.logs', { id: j.id })).lines.filter((l) => l.line === 'ran')).toHaveLength(1);
  }, 90_000);

  it('a job sbatch could not hand over (no controller) waits in the queue and is submitted again, once', async () => {
    const j = (await c.call('job.submit', { spec: { driver: 'slurm', name: 'no-controller', command: ['sh', '-c', 'exit 0'] } as JobSpecInput })).job;
    const waiting = await untilJob(c, j.id, (x) => x.state === 'queued' && /did not answer: .*Unable to contact slurm controller/.test(x.reason ?? ''), 30_000);
    expect(waiting.attempt).toBe(0);
    const done = await untilJob(c, j.id, isTerminal, 60_000);
    expect(done.state).toBe('succeeded');
    expect(done.attempt).toBe(1);
    expect(calls('no-controller')).toBe(2);
  }, 90_000);
});
