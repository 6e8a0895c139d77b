import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { NodeResourcesResult, NodeStats, type Job } from '../../shared/protocol/index.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { TEST_IMAGE, engineRequired, ensureDockerEngine } from '../helpers/docker.js';
import { startEngineProxy, type EngineProxy } from '../helpers/engine-proxy.js';

// The agent and the container engine around it, with real agent processes and the real engine: the start-up sweep
// for containers no job claims, a hung engine call (through a proxy that never answers it), and the engine going
// away and coming back (the proxy closed and opened again). The shared engine itself is never stopped, and only
// containers these tests created are removed.
const engine = await ensureDockerEngine();
if (!engine.available && !engineRequired()) console.warn(`[docker-engine.test] SKIPPED: ${engine.reason}`);
if (!engine.available && engineRequired()) {
  describe('container engine', () => { it('has a container engine', () => { throw new Error(`CI is set but ${engine.reason}`); }); });
}

const docker = new Docker({ socketPath: engine.socketPath });
const connect = async (a: AgentProcess) => { const c = new AgentClient({ url: a.url, token: a.token, reconnect: false }); await c.connect(); return c; };
const until = async <T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
const exists = (id: string) => docker.getContainer(id).inspect().then(() => true, (e: { statusCode?: number }) => { if (e.statusCode === 404) return false; throw e; });
/** Remove every container labelled for one of `nodes` (only these tests' node names). */
const removeNodes = async (nodes: string[]) => {
  for (const n of nodes) for (const ci of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`fleetml.node=${n}`] }) })) await docker.getContainer(ci.Id).remove({ force: true }).catch(() => undefined);
};
const writeConfig = (file: string, jobs: Record<string, unknown>) => { writeFileSync(file, JSON.stringify({ jobs: { process_user: null, ...jobs } })); return file; };

describe.skipIf(!engine.available)('the start-up sweep for containers no job claims', () => {
  const name = `sweep-${process.pid}`;
  const other = `${name}-other`;
  let tmp: ReturnType<typeof tempDir>;
  let agent: AgentProcess | undefined;
  let port: number;
  const start = (cfg: string) => spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name, args: ['--config', cfg, '--gpu-source', 'none'], env: { DOCKER_HOST: `unix://${engine.socketPath}` } });
  /** A container with fleetml's labels, as a crashed or foreign agent would leave it. */
  const stray = async (node: string, job: string, run: boolean) => {
    const c = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sleep', '120'], name: `fleetml-${job}-1`, Labels: { 'fleetml.job': job, 'fleetml.attempt': '1', 'fleetml.node': node }, HostConfig: { NetworkMode: 'none', Init: true } });
    if (run) await c.start();
    return c.id;
  };

  beforeAll(async () => { tmp = tempDir(); port = await freePort(); });
  afterAll(async () => {
    await agent?.stop();
    await removeNodes([name, other]);
    tmp?.cleanup();
  });

  it('removes this node\'s unclaimed containers at start-up, leaves other nodes\' and a running job\'s, and reports them', async () => {
    const cfg = writeConfig(join(tmp.dir, 'remove.json'), { drivers: ['docker'] });
    agent = await start(cfg);
    let c = await connect(agent);
    const { job } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'echo up; sleep 30'] } });
    const running = await untilJob(c, job.id, (j) => j.state === 'running');
    await c.close();
    // kill -9: the job's container keeps running and is claimed by its row; the strays are created meanwhile
    await agent.stop('SIGKILL');
    const mineRunning = await stray(name, `j_stray_run_${process.pid}`, true);
    const mineCreated = await stray(name, `j_stray_new_${process.pid}`, false);
    const foreign = await stray(other, `j_stray_other_${process.pid}`, true);
    const claimed = (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`fleetml.job=${job.id}`] }) }))[0]?.Id;
    expect(claimed).toBeTruthy();

    agent = await start(cfg);
    expect(await exists(mineRunning)).toBe(false);
    expect(await exists(mineCreated)).toBe(false);
    expect(await exists(foreign)).toBe(true);
    expect(await exists(claimed!)).toBe(true);
    c = await connect(agent);
    const again = (await c.call('job.get', { id: job.id })).job;
    expect(again).toMatchObject({ state: 'running', attempt: running.attempt });
    // visible to an operator: node.resources (fleetml node show) and the agent's log
    const res = NodeResourcesResult.parse(await c.call('node.resources'));
    const sweep = res.drivers.find((d) => d.name === 'docker')?.sweep;
    expect(sweep).toMatchObject({ mode: 'remove', error: null, counts: { removed: 2, kept: 0 } });
    expect(sweep!.removed.map((t) => t.id).sort()).toEqual([mineRunning, mineCreated].sort());
    expect(sweep!.foreign.map((t) => t.id)).toContain(foreign);
    expect(sweep!.foreign.find((t) => t.id === foreign)).toMatchObject({ node: other, job_id: `j_stray_other_${process.pid}`, attempt: 1, state: 'running' });
    const log = readFileSync(agent.logFile, 'utf8');
    expect(log).toMatch(/removed tasks of this node that no job claims/);
    expect(log).toContain(`fleetml-j_stray_run_${process.pid}-1`);
    await c.call('job.cancel', { id: job.id });
    await untilJob(c, job.id, isTerminal);
    await c.close();
    await agent.stop();
    agent = undefined;
  }, 90_000);

  it('only reports them with jobs.docker_sweep: report', async () => {
    const mine = await stray(name, `j_stray_keep_${process.pid}`, false);
    agent = await start(writeConfig(join(tmp.dir, 'report.json'), { drivers: ['docker'], docker_sweep: 'report' }));
    expect(await exists(mine)).toBe(true);
    const c = await connect(agent);
    const sweep = NodeResourcesResult.parse(await c.call('node.resources')).drivers.find((d) => d.name === 'docker')?.sweep;
    expect(sweep).toMatchObject({ mode: 'report', counts: { removed: 0 } });
    expect(sweep!.kept.map((t) => t.id)).toContain(mine);
    await c.close();
  }, 60_000);
});

describe.skipIf(!engine.available)('an engine call that is never answered', () => {
  const name = `hang-${process.pid}`;
  let tmp: ReturnType<typeof tempDir>;
  let agent: AgentProcess | undefined;
  let proxy: EngineProxy;

  beforeAll(async () => {
    tmp = tempDir();
    proxy = await startEngineProxy(join(tmp.dir, 'engine.sock'), engine.socketPath);
    const cfg = writeConfig(join(tmp.dir, 'cfg.json'), { drivers: ['docker', 'fake'], docker_socket: proxy.path, docker_call_timeout_ms: 4000 });
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name, args: ['--config', cfg, '--gpu-source', 'none'] });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await removeNodes([name]);
    tmp?.cleanup();
  });

  it('fails the job with "did not answer in N ms", and other jobs are scheduled meanwhile', async () => {
    const c = await connect(agent!);
    proxy.hang = (method, url) => method === 'POST' && /\/containers\/create/.test(url);
    const { job: dj } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['true'] } });
    await untilJob(c, dj.id, (j) => j.state === 'starting');
    await until('the hung create', async () => proxy.seen.some((s) => s.startsWith('POST') && s.includes('/containers/create')));
    // the scheduling pass is not held up by the hung start: a fake job runs to its end while it hangs
    const { job: fj } = await c.call('job.submit', { spec: { driver: 'fake', command: ['echo', 'hi'] } });
    const fake = await untilJob(c, fj.id, isTerminal, 3000);
    expect(fake.state).toBe('succeeded');
    expect((await c.call('job.get', { id: dj.id })).job.state).toBe('starting');
    const failed = await untilJob(c, dj.id, isTerminal, 15_000);
    expect(failed.state).toBe('failed');
    expect(failed.reason).toMatch(/^start failed: container engine on node .* did not answer in 4000 ms \(POST \/containers\/create for fleetml-.*-1\)/);
    // the engine answers again: container jobs run
    proxy.hang = null;
    const { job: ok } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'exit 3'] } });
    expect(await untilJob(c, ok.id, isTerminal, 30_000)).toMatchObject({ state: 'failed', exit_code: 3 });
    await c.close();
  }, 60_000);
});

describe.skipIf(!engine.available)('the engine goes away and comes back', () => {
  const name = `away-${process.pid}`;
  let tmp: ReturnType<typeof tempDir>;
  let agent: AgentProcess | undefined;
  let proxy: EngineProxy;

  beforeAll(async () => {
    tmp = tempDir();
    proxy = await startEngineProxy(join(tmp.dir, 'engine.sock'), engine.socketPath);
    const cfg = writeConfig(join(tmp.dir, 'cfg.json'), { drivers: ['docker'], docker_socket: proxy.path, driver_check_s: 1 });
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name, args: ['--config', cfg, '--gpu-source', 'none', '--telemetry-interval', '250'] });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await removeNodes([name]);
    tmp?.cleanup();
  });

  it('keeps a running container job, reports the driver unavailable in node.stats, and records the real exit once back', async () => {
    const c = await connect(agent!);
    const { job } = await c.call('job.submit', { spec: { driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'echo one; sleep 7; echo two; exit 7'] } });
    await untilJob(c, job.id, (j) => j.state === 'running');
    await until('the first line', async () => (await c.call('job.logs', { id: job.id })).lines.some((l) => l.line === 'one'));

    await proxy.close();
    const down = await untilJob(c, job.id, (j: Job) => /driver docker unavailable/.test(j.reason ?? ''), 10_000);
    expect(down.state).toBe('running');
    // node.stats (the TUI's feed) says so from its next sample
    const dockerStats = async () => NodeStats.parse(await c.call('node.stats')).drivers?.find((d) => d.name === 'docker');
    const stats = await until('node.stats to report the engine away', async () => { const d = await dockerStats(); return d && !d.available ? d : null; }, 5000);
    expect(stats.reason).toMatch(/container engine not reachable on node away-\d+ at .*engine\.sock/);
    const res = NodeResourcesResult.parse(await c.call('node.resources'));
    expect(res.drivers.find((d) => d.name === 'docker')).toMatchObject({ available: false, since: expect.any(Number) });

    await proxy.open();
    const end = await untilJob(c, job.id, isTerminal, 40_000);
    expect(end).toMatchObject({ state: 'failed', exit_code: 7, reason: 'exit code 7', attempt: 1 });
    const lines = (await c.call('job.logs', { id: job.id })).lines;
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['one', 'two']);
    expect(lines.filter((l) => l.stream === 'system').map((l) => l.line).join('\n')).toMatch(/driver docker is unavailable[\s\S]*driver docker is available again/);
    expect(await dockerStats()).toMatchObject({ available: true, reason: null });
    await c.close();
  }, 90_000);
});
