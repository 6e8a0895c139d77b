import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { AgentClient } from '../../shared/client/agent-client.js';
import { Job as JobSchema, NodeResourcesResult, type Job, type JobSpecInput } from '../../shared/protocol/index.js';
import { fixture, inProcessAgent } from '../helpers/agent.js';

// The job lifecycle on a real agent (real SQLite, real API) with the fake driver (documented test driver).
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let c: AgentClient;
beforeAll(async () => {
  // two simulated GPUs with no foreign processes on them (the A5000 fixture's llama-server would make both busy)
  a = await inProcessAgent({ jobDriver: ['fake', 'process'], gpuFixture: [fixture('query-gpu-h100-80gb-hbm3-590.48-load.csv'), fixture('rtx-3060-570.124-q-x.xml')] });
  c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false });
  await c.connect();
});
afterAll(async () => { await c.close(); await a.close(); });

const submit = async (spec: Partial<JobSpecInput>) => (await c.call('job.submit', { spec: { driver: 'fake', command: ['sleep', '0.2'], ...spec } as JobSpecInput })).job;
const until = async (id: string, pred: (j: Job) => boolean, ms = 10_000): Promise<Job> => {
  const end = Date.now() + ms;
  for (;;) {
    const { job } = await c.call('job.get', { id });
    if (pred(job)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.state} (${job.reason})`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const done = (j: Job) => ['succeeded', 'failed', 'cancelled', 'lost'].includes(j.state);

describe('job lifecycle', () => {
  it('runs a job through queued → starting → running → succeeded, with its output stored', async () => {
    const j = await submit({ command: ['echo', 'hello', 'fleet', '&&', 'sleep', '0.2', '&&', 'exit', '0'], name: 'hello' });
    expect(j.state).toBe('queued');
    const end = JobSchema.parse(await until(j.id, done));
    expect(end).toMatchObject({ state: 'succeeded', exit_code: 0, name: 'hello', attempt: 1, node: 'test-node' });
    expect(end.history.map((h) => h.state)).toEqual(['queued', 'starting', 'running', 'succeeded']);
    const logs = await c.call('job.logs', { id: j.id });
    expect(logs.lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['hello fleet']);
    expect(logs.lines.some((l) => l.stream === 'system' && /started/.test(l.line))).toBe(true);
  });
  it('reports a failing exit code and an OOM kill as such', async () => {
    const f = await until((await submit({ command: ['exit', '3'] })).id, done);
    expect(f).toMatchObject({ state: 'failed', exit_code: 3, reason: 'exit code 3' });
    const o = await until((await submit({ command: ['oom'] })).id, done);
    expect(o).toMatchObject({ state: 'failed', oom_killed: true });
    expect(o.reason).toMatch(/OOM killed/);
  });
  it('gives jobs exclusive GPUs and queues with a reason when none are free', async () => {
    const big = await submit({ gpus: 2, command: ['sleep', '1'] });
    const running = await until(big.id, (j) => j.state === 'running');
    expect(running.gpus).toHaveLength(2);
    const res = NodeResourcesResult.parse(await c.call('node.resources'));
    expect(res.gpus_free).toBe(0);
    expect(res.gpus.every((g) => g.job_id === big.id)).toBe(true);
    const small = await submit({ gpus: 1, command: ['sleep', '0.1'] });
    const waiting = await until(small.id, (j) => j.reason === 'needs 1 GPU, 0 free');
    expect(waiting.state).toBe('queued');
    const ran = await until(small.id, done);
    expect(ran.state).toBe('succeeded');
    expect(ran.gpus).toHaveLength(1);
    expect(running.gpus).toContain(ran.gpus[0]);
  });
  it('does not hand out a GPU that is busy with processes fleetml did not start', async () => {
    const b = await inProcessAgent({ jobDriver: ['fake'] }); // A5000 fixture: llama-server holds 22 GB and 17 GB
    const bc = new AgentClient({ url: b.agent.url, token: b.token, reconnect: false });
    await bc.connect();
    const res = await bc.call('node.resources');
    expect(res.gpus.map((g) => g.busy_external)).toEqual([true, true]);
    expect(res.gpus_free).toBe(0);
    const { job } = await bc.call('job.submit', { spec: { driver: 'fake', command: ['sleep', '0.1'], gpus: 1 } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await bc.call('job.get', { id: job.id })).job).toMatchObject({ state: 'queued', reason: 'needs 1 GPU, 0 free' });
    await bc.close(); await b.close();
  });
  it('refuses at submission what can never run here, with a clear error', async () => {
    const e1 = await submit({ gpus: 3 }).catch((e) => e);
    expect(e1.codeName).toBe('UNSCHEDULABLE');
    expect(e1.message).toMatch(/needs 3 GPUs; the node has 2/);
    const e2 = await submit({ driver: 'docker', image: 'x' }).catch((e) => e);
    expect(e2.message).toMatch(/driver docker is not enabled/);
    const e3 = await submit({ driver: 'process', command: ['/no/such/binary'] }).catch((e) => e);
    expect(e3.codeName).toBe('UNSCHEDULABLE');
    const e4 = await c.call('job.submit', { spec: { driver: 'fake', command: [] } as never }).catch((e) => e);
    expect(e4.code).toBe(-32602);
  });
  it('cancels a queued job at once and a running one with SIGTERM', async () => {
    const r = await submit({ command: ['sleep', '30'] });
    await until(r.id, (j) => j.state === 'running');
    const cancelled = await c.call('job.cancel', { id: r.id, reason: 'test' });
    expect(cancelled.job.reason).toMatch(/stopping/);
    const end = await until(r.id, done);
    expect(end.state).toBe('cancelled');
    expect(end.reason).toMatch(/cancelled by .*: test/);
    expect(end.exit_code).toBe(143);
  });
  it('enforces the timeout and the restart policy', async () => {
    const t = await until((await submit({ command: ['sleep', '30'], timeout_s: 1, stop_grace_s: 0 })).id, done);
    expect(t.state).toBe('failed');
    expect(t.reason).toMatch(/timed out after 1 s/);
    const r = await until((await submit({ command: ['exit', '4'], restart: { policy: 'on-failure', max_retries: 2 } })).id, done);
    expect(r).toMatchObject({ state: 'failed', attempt: 3, exit_code: 4 });
    expect(r.history.filter((h) => h.state === 'running')).toHaveLength(3);
  });
  it('honours a timeout longer than the longest Node timer (it does not fire at once)', async () => {
    const j = await until((await submit({ command: ['sleep', '0.3'], timeout_s: 30 * 86_400 })).id, done);
    expect(j.state).toBe('succeeded');
  });
  it('streams live output over the job.logs topic and every change over job.events', async () => {
    const events: any[] = [];
    const evSub = await c.subscribe('job.events', {}, (m) => { if (!m.snapshot) events.push(m.data); });
    const j = await submit({ command: ['sleep', '0.3', '&&', 'echo', 'late line'] });
    const lines: string[] = [];
    const sub = await c.subscribe('job.logs', { id: j.id, tail: 10 }, (m) => { if (!m.snapshot) lines.push(m.data.line); });
    await until(j.id, done);
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toContain('late line');
    expect(events.filter((e) => e.job?.id === j.id).map((e) => e.job.state)).toEqual(expect.arrayContaining(['queued', 'running', 'succeeded']));
    await sub.close(); await evSub.close();
  });
  it('removes only finished jobs, with their logs', async () => {
    const r = await submit({ command: ['sleep', '30'] });
    await until(r.id, (j) => j.state === 'running');
    expect((await c.call('job.remove', { id: r.id }).catch((e) => e)).codeName).toBe('CONFLICT');
    await c.call('job.cancel', { id: r.id });
    await until(r.id, done);
    expect((await c.call('job.remove', { id: r.id })).removed).toBe(true);
    expect((await c.call('job.get', { id: r.id }).catch((e) => e)).codeName).toBe('NOT_FOUND');
  });
  it('needs the operate role to submit, and audits every mutation', async () => {
    const { token } = await c.call('token.create', { name: 'viewer', role: 'read' });
    const r = new AgentClient({ url: a.agent.url, token, reconnect: false });
    await r.connect();
    expect((await r.call('job.submit', { spec: { driver: 'fake', command: ['sleep', '1'] } }).catch((e) => e)).codeName).toBe('FORBIDDEN');
    expect((await r.call('job.list', {})).jobs.length).toBeGreaterThan(0);
    const secret = await submit({ env: { API_KEY: 's3cret' } });
    expect((await r.call('job.get', { id: secret.id })).job.spec.env).toEqual({ API_KEY: '<redacted>' }); // readers never see env values
    expect((await c.call('job.get', { id: secret.id })).job.spec.env).toEqual({ API_KEY: 's3cret' });
    await r.close();
    const db = new Database(join(a.dir, 'fleetml.db'), { readonly: true });
    const rows = db.prepare("SELECT method, outcome, token_name FROM audit WHERE method LIKE 'job.%'").all() as any[];
    db.close();
    expect(rows).toContainEqual(expect.objectContaining({ method: 'job.submit', outcome: 'FORBIDDEN', token_name: 'viewer' }));
    expect(rows).toContainEqual(expect.objectContaining({ method: 'job.cancel', outcome: 'ok' }));
    expect(rows).toContainEqual(expect.objectContaining({ method: 'job.submit', outcome: 'UNSCHEDULABLE' }));
  });
});
