import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Job, JobSpecInput } from '../../shared/protocol/index.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';

// kill -9 of an agent with running jobs loses none of them, and starts none twice.
let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let port: number;
const args = ['--gpu-source', 'sim', '--gpu-fixture', fixture('query-gpu-h100-80gb-hbm3-590.48-load.csv'), '--gpu-fixture', fixture('rtx-3060-570.124-q-x.xml'), '--job-driver', 'fake', '--job-driver', 'process', '--telemetry-interval', '250'];
const connect = async () => { const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false }); await c.connect(); return c; };
const until = (c: AgentClient, id: string, pred: (j: Job) => boolean, ms = 20_000) => untilJob(c, id, pred, ms);
const terminal = isTerminal;

beforeAll(async () => {
  tmp = tempDir();
  port = await freePort();
  agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'node-k', args });
}, 60_000);
afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

describe('agent killed with SIGKILL while jobs run', () => {
  it('re-attaches running jobs, records real exit codes of jobs that ended meanwhile, and keeps queued ones', async () => {
    let c = await connect();
    const sub = async (spec: Partial<JobSpecInput>) => (await c.call('job.submit', { spec: { driver: 'process', command: ['true'], ...spec } as JobSpecInput })).job.id;
    const fake = await sub({ driver: 'fake', command: ['echo', 'before', '&&', 'sleep', '4', '&&', 'echo', 'after', '&&', 'exit', '0'], gpus: 2 });
    const long = await sub({ command: ['sh', '-c', 'echo started; sleep 4; echo finishing; exit 5'] });
    const short = await sub({ command: ['sh', '-c', 'sleep 1; exit 7'] });
    const queued = await sub({ driver: 'fake', command: ['sleep', '0.2'], gpus: 1 }); // waits for the GPUs of `fake`
    for (const id of [fake, long, short]) await until(c, id, (j) => j.state === 'running');
    expect((await c.call('job.get', { id: queued })).job.state).toBe('queued');
    await c.close();

    await agent.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500)); // `short` exits while no agent runs
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'node-k', args });
    c = await connect();

    const s = await until(c, short, terminal);
    expect(s).toMatchObject({ state: 'failed', exit_code: 7, attempt: 1 });
    const l = await until(c, long, terminal);
    expect(l).toMatchObject({ state: 'failed', exit_code: 5, attempt: 1 });
    const f = await until(c, fake, terminal);
    expect(f).toMatchObject({ state: 'succeeded', attempt: 1 });
    const q = await until(c, queued, terminal);
    expect(q.state).toBe('succeeded');
    for (const j of [s, l, f]) {
      expect(j.history.filter((h) => h.state === 'starting')).toHaveLength(1); // never started twice
    }
    const out = (await c.call('job.logs', { id: long })).lines.filter((x) => x.stream === 'stdout').map((x) => x.line);
    expect(out).toEqual(['started', 'finishing']); // no line lost or repeated across the restart
    const fo = (await c.call('job.logs', { id: fake })).lines.filter((x) => x.stream === 'stdout').map((x) => x.line);
    expect(fo).toEqual(['before', 'after']);
    await c.close();
  }, 60_000);
});
