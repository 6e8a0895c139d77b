import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, chmodSync, existsSync, lstatSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Job } from '../../shared/protocol/index.js';
import { clientWithNewToken, freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { TEST_IMAGE, engineRequired, ensureDockerEngine } from '../helpers/docker.js';

// Attacks from an operate token through container jobs, against a real agent and the real engine:
//   - a mount escape: job A, with a read-write mount under an allowed root, swaps a directory for a symlink to a
//     host path outside the root while job B mounts a path through it;
//   - setuid/mknod through a read-write mount: a root-owned setuid binary or a device node planted for host users.
const engine = await ensureDockerEngine();
if (!engine.available && engineRequired()) {
  describe('container attacks', () => { it('has a container engine', () => { throw new Error(`CI is set but ${engine.reason}`); }); });
}
const isRoot = process.getuid?.() === 0;

describe.skipIf(!engine.available || !isRoot)('attacks through container jobs (operate token)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let agent: AgentProcess;
  let c: AgentClient;
  let root: string, scratch: string, secret: string;
  const name = `sec-dk-${process.pid}`;

  beforeAll(async () => {
    tmp = tempDir();
    // root: the admin's allowed mount root; scratch: a directory under it that jobs write (owned by nobody);
    // secret: a host directory outside every root
    root = join(tmp.dir, 'root');
    scratch = join(root, 'scratch');
    secret = join(tmp.dir, 'secret');
    mkdirSync(join(scratch, 'sub'), { recursive: true });
    chmodSync(root, 0o755);
    chownSync(scratch, 65534, 65534);
    chownSync(join(scratch, 'sub'), 65534, 65534);
    mkdirSync(secret);
    writeFileSync(join(secret, 'shadow'), 'TOPSECRET\n');
    const port = await freePort();
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name, args: ['--gpu-source', 'none', '--job-driver', 'docker', '--allow-mount', root], env: { DOCKER_HOST: `unix://${engine.socketPath}` } });
    c = (await clientWithNewToken(agent, 'attacker', 'operate')).client;
  }, 60_000);
  afterAll(async () => {
    await c?.close();
    await agent?.stop();
    const docker = new Docker({ socketPath: engine.socketPath });
    for (const ci of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`fleetml.node=${name}`] }) })) await docker.getContainer(ci.Id).remove({ force: true }).catch(() => undefined);
    tmp?.cleanup();
  });

  const logsOf = async (id: string) => (await c.call('job.logs', { id })).lines.filter((l) => l.stream !== 'system').map((l) => l.line);

  it('a symlink swapped under a mount path by another job never mounts a host path outside the root', async () => {
    // job A: mounts the writable scratch dir and keeps swapping scratch/sub for a symlink to the secret directory
    const swap = `while :; do mv /s/sub /s/sub.real && ln -s ${secret} /s/sub; sleep 0.005; rm -f /s/sub; mv /s/sub.real /s/sub; done`;
    const a = (await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', swap], mounts: [{ source: scratch, target: '/s' }] } })).job;
    await untilJob(c, a.id, (j) => j.state === 'running', 30_000); // the writable directory itself is mountable
    // job B, again and again: mount scratch/sub and read what is there
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const b = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'cat /b/shadow 2>/dev/null; ls /b'], mounts: [{ source: join(scratch, 'sub'), target: '/b', readonly: true }] } }).catch((e) => e);
      if (b.codeName) { outcomes.push(`${b.codeName}: ${b.message}`); continue; }
      const end: Job = await untilJob(c, b.job.id, isTerminal, 30_000);
      outcomes.push(`${end.state}: ${(await logsOf(b.job.id)).join(' ')}`);
    }
    await c.call('job.cancel', { id: a.id });
    await untilJob(c, a.id, isTerminal, 30_000);
    expect(outcomes.join('\n')).not.toMatch(/TOPSECRET/);
    // refused up front: caught mid-swap it resolves outside the root (or is missing for a moment); otherwise its
    // path runs through a directory a job can write
    for (const o of outcomes) expect(o).toMatch(/^UNSCHEDULABLE: .*mount source .*scratch\/sub/);
    // job A may have been stopped mid-swap: put the directory back
    // (between its steps sub is a symlink, or missing while the real directory is sub.real)
    const sub = join(scratch, 'sub');
    if (existsSync(join(scratch, 'sub.real'))) { rmSync(sub, { force: true }); renameSync(join(scratch, 'sub.real'), sub); }
    expect(lstatSync(sub).isDirectory()).toBe(true);
    // with no swap going on, the same path is still refused, and the message says what to do
    const b = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['true'], mounts: [{ source: join(scratch, 'sub'), target: '/b', readonly: true }] } }).catch((e) => e);
    expect(b.codeName).toBe('UNSCHEDULABLE');
    expect(b.message).toMatch(/is reached through .*scratch \(owned by uid 65534, a job user\).*Mount a directory whose parents no job can write/);
  }, 120_000);

  it('keeps every line a container job writes right before it exits', async () => {
    const { job } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'seq 1 100000; exit 5'] } });
    const end = await untilJob(c, job.id, isTerminal, 60_000);
    expect(end.exit_code).toBe(5);
    const out = (await c.call('job.logs', { id: job.id })).lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(out.length).toBe(100_000);
    expect(out[out.length - 1]).toBe('100000');
  }, 90_000);

  it('a job cannot plant a root-owned setuid binary or a device node in a read-write mount', async () => {
    const script = 'cp /bin/busybox /s/suid; chown 0:0 /s/suid; chmod 4755 /s/suid; mknod /s/mem c 1 1; id -u; grep CapEff /proc/self/status';
    const { job } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', script], mounts: [{ source: scratch, target: '/s' }] } });
    await untilJob(c, job.id, isTerminal, 30_000);
    const out = await logsOf(job.id);
    expect(out).toContain('65534');
    expect(out.some((l) => /^CapEff:\s+0+$/.test(l))).toBe(true);
    const st = statSync(join(scratch, 'suid'));
    // what a host user would run: not owned by root with the setuid bit
    expect(st.uid === 0 && (st.mode & 0o4000) !== 0).toBe(false);
    expect(st.uid).toBe(65534);
    expect(existsSync(join(scratch, 'mem'))).toBe(false);
  }, 60_000);
});
