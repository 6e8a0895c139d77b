import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Docker from 'dockerode';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Job, JobSpecInput } from '../../shared/protocol/index.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { TEST_IMAGE, engineRequired, ensureDockerEngine } from '../helpers/docker.js';

// Container jobs end to end: a real agent process, the real engine, the API; and kill -9 of the agent mid-job.
const engine = await ensureDockerEngine();
if (!engine.available && !engineRequired()) console.warn(`[jobs-docker.test] SKIPPED: ${engine.reason}`);
if (!engine.available && engineRequired()) {
  describe('container jobs', () => { it('has a container engine', () => { throw new Error(`CI is set but ${engine.reason}`); }); });
}

describe.skipIf(!engine.available)('container jobs through the agent', () => {
  let tmp: ReturnType<typeof tempDir>;
  let agent: AgentProcess;
  let port: number;
  const name = `dk-${process.pid}`;
  const args = () => ['--gpu-source', 'none', '--job-driver', 'docker', '--telemetry-interval', '250'];
  const env = { DOCKER_HOST: `unix://${engine.socketPath}` };
  const connect = async () => { const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false }); await c.connect(); return c; };
  const until = (c: AgentClient, id: string, pred: (j: Job) => boolean, ms = 30_000) => untilJob(c, id, pred, ms);
  const terminal = isTerminal;

  beforeAll(async () => {
    tmp = tempDir();
    port = await freePort();
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name, args: args(), env });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    const docker = new Docker({ socketPath: engine.socketPath });
    for (const ci of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`fleetml.node=${name}`] }) })) await docker.getContainer(ci.Id).remove({ force: true }).catch(() => undefined);
    tmp?.cleanup();
  });

  it('runs a container job, streams its output, records its exit code, and removes its container', async () => {
    const c = await connect();
    const spec: JobSpecInput = { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'echo out; echo err >&2; exit 4'], memory_bytes: 64 * 2 ** 20, cpus: 0.5 };
    const { job } = await c.call('job.submit', { spec });
    const end = await until(c, job.id, terminal);
    expect(end).toMatchObject({ state: 'failed', exit_code: 4, reason: 'exit code 4' });
    const lines = (await c.call('job.logs', { id: job.id })).lines;
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['out']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['err']);
    await c.close();
  });
  it('refuses a missing image, and host networking unless the node allows it, at submission', async () => {
    const c = await connect();
    const h = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['true'], network: 'host' } }).catch((x) => x);
    expect(h.codeName).toBe('UNSCHEDULABLE');
    expect(h.message).toMatch(/network host is not allowed/);
    const e = await c.call('job.submit', { spec: { driver: 'docker', image: 'no/such:image', command: ['true'] } }).catch((x) => x);
    expect(e.codeName).toBe('UNSCHEDULABLE');
    expect(e.message).toMatch(/not present on node/);
    await c.close();
  });
  it('keeps a running container job across kill -9 of the agent and records its real exit code', async () => {
    let c = await connect();
    const { job } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'echo one; sleep 3; echo two; exit 6'] } });
    await until(c, job.id, (j) => j.state === 'running');
    await c.close();
    await agent.stop('SIGKILL');
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name, args: args(), env });
    c = await connect();
    const end = await until(c, job.id, terminal);
    expect(end).toMatchObject({ state: 'failed', exit_code: 6, attempt: 1 });
    expect(end.history.filter((h) => h.state === 'starting')).toHaveLength(1);
    const out = (await c.call('job.logs', { id: job.id })).lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(out).toEqual(['one', 'two']);
    await c.close();
  }, 60_000);
});
