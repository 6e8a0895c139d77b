// End-to-end test of the console with the slurm driver: the REAL `fleetml tui` (dist/bin/fleetml.js) in a real terminal
// (tmux, 80×24: the smallest size the console promises to be usable at) against a REAL agent process whose jobs go to
// the REAL one-node Slurm cluster of scripts/slurm-cluster.sh (2 GPUs as GRES, partition debug). Keys go in with
// `tmux send-keys`, the screen comes back with `tmux capture-pane`, polled up to a deadline; every failure carries the
// last screen. The agent API and Slurm itself (scontrol) confirm what the screen shows.
//
// Scenario: a hog holds both GPUs (submitted through the API); a GPU job submitted through the `n` form (driver slurm,
// gpus 1) shows queued with Slurm's reason (Resources or Priority) and its Slurm id in :jobs and in its detail view;
// a second pending job is cancelled with ctrl-d + y; the hog is cancelled the same way; the GPU job then runs, fails
// with exit code 3, and its logs show the GPU Slurm bound (done-0 or done-1).
//
// Needs: tmux, a build (`npm run build`), the Slurm test cluster (bash scripts/slurm-cluster.sh start): skipped
// without it locally, a failure when CI is set.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Job } from '../../shared/protocol/jobs.js';
import { freePort } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';
import { slurmAgentConfig, slurmRequired, slurmState, slurmStatus } from '../helpers/slurm.js';
import { CLI, HAS_TMUX, Tmux, check, checkFrame as checkPaneFrame, lines, sleep, tuiCommand, waitFor } from '../helpers/tmux.js';

const status = await slurmStatus();
if (!status.running && slurmRequired()) throw new Error(`no Slurm test cluster (bash scripts/slurm-cluster.sh start): ${status.detail}`);
if (!status.running) console.warn(`test/e2e/tui-slurm.test.ts skipped: no Slurm test cluster (${status.detail}); bash scripts/slurm-cluster.sh start`);
if (!HAS_TMUX) console.warn('test/e2e/tui-slurm.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

const COLS = 80;
const ROWS = 24;
/** Short enough (≤ 9 characters) that the NODE column of :jobs does not cut it. */
const NODE = `ts-${process.pid % 100_000}`;
/** The GPU job: says which GPU Slurm bound, stays running long enough to be seen running, fails with exit code 3. */
const GPU_CMD = `sh -c 'echo done-$CUDA_VISIBLE_DEVICES; sleep 3; exit 3'`;

/** The status/prompt line under the header. */
const statusLine = (screen: string) => lines(screen)[1]?.trim() ?? '';
/** The :jobs row of the job named `name`, if shown. */
const jobRowOf = (screen: string, name: string) => lines(screen).find((l) => /^[> ] /.test(l) && l.split(/\s+/).includes(name));
const checkFrame = (screen: string) => checkPaneFrame(screen, COLS, ROWS);

describe.skipIf(!status.running || !HAS_TMUX)('fleetml tui with the slurm driver in tmux (80×24) against a real agent and real Slurm', () => {
  let dir = '';
  let tmux: Tmux;
  let agent: AgentProcess;
  let api: AgentClient;
  const S = 'slurm';
  const screen = () => tmux.screen(S);
  const waitScreen = (ok: (s: string) => boolean, what: string, timeoutMs?: number) => waitFor(screen, ok, what, timeoutMs);
  const apiJob = async (name: string): Promise<Job | undefined> => (await api.call('job.list', {})).jobs.find((j) => j.name === name);
  /** Back to the unfiltered :jobs view. */
  const toJobs = async () => {
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.type(S, ':jobs');
    tmux.keys(S, 'Enter');
    return waitScreen((s) => lines(s)[0].endsWith(' cluster › jobs') && !s.includes('NEW JOB'), 'the :jobs view');
  };
  /** :jobs filtered to `name` (the row is then the first and selected). */
  const selectJob = async (name: string) => {
    await toJobs();
    tmux.type(S, `/${name}`);
    tmux.keys(S, 'Enter');
    return waitScreen((s) => /^> /.test(jobRowOf(s, name) ?? ''), `${name} selected in :jobs`);
  };
  const tabTo = async (n: number, field: string) => {
    for (let i = 0; i < n; i++) tmux.keys(S, 'Tab');
    return waitScreen((s) => new RegExp(`^> ${field} `, 'm').test(s), `focus on the ${field} field after ${n}×Tab`);
  };
  const typeInto = async (field: string, text: string) => {
    tmux.type(S, text);
    return waitScreen((s) => lines(s).some((l) => l.startsWith(`> ${field.padEnd(9)} ${text}█`)), `"${text}" typed into ${field}`);
  };
  /** Submit a slurm job through the `n` form; returns the short id the status line reports. */
  const submitThroughForm = async (name: string, command: string, gpus: string): Promise<string> => {
    await toJobs();
    tmux.keys(S, 'n');
    await waitScreen((s) => s.includes('NEW JOB') && /^> command +█/m.test(s), 'the submit form, focus on command');
    // From command (4th field), 5×Tab wraps round to driver; → until it reads slurm (the node's default when reported).
    const d = await tabTo(5, 'driver');
    // Only the drivers the node reports (node.resources): slurm and process, not docker or fake.
    check(/^> driver +‹ slurm ›/m.test(d) || /^> driver +‹ process › +\((slurm, process|process, slurm)\)$/m.test(d), 'the driver field offers the node\'s drivers (slurm, process)', d);
    for (let i = 0; i < 5 && !/^> driver +‹ slurm ›/m.test(screen()); i++) { tmux.keys(S, 'Right'); await sleep(150); }
    let s = await waitScreen((x) => /^> driver +‹ slurm ›/m.test(x), 'driver slurm');
    check(/Slurm( cluster \S+)?: partition debug, \d\/2 GPUs free/.test(s), 'the form shows partition debug and its free GPUs beside the slurm driver', s);
    await tabTo(2, 'command');
    await typeInto('command', command);
    await tabTo(1, 'gpus');
    await typeInto('gpus', gpus);
    await tabTo(2, 'name');
    await typeInto('name', name);
    tmux.keys(S, 'Enter');
    s = await waitScreen((x) => /^submitted job \S+ on /.test(statusLine(x)) && !x.includes('NEW JOB'), 'the form to close with "submitted job …"', 15_000);
    checkFrame(s);
    return /^submitted job (\S+) on /.exec(statusLine(s))![1];
  };
  /** ctrl-d + y on the selected job of :jobs. */
  const cancelSelected = async (name: string) => {
    tmux.keys(S, 'C-d');
    await waitScreen((x) => new RegExp(`^Cancel job \\S+ \\(${name}\\) on ${NODE}\\? y/n$`).test(statusLine(x)), `the cancel confirmation of ${name}`);
    tmux.keys(S, 'y');
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'fleetml-e2e-tui-slurm-'));
    tmux = new Tmux(dir, COLS, ROWS);
    const config = slurmAgentConfig(dir, join(dir, 'slurm-work'));
    agent = await spawnAgent({ dataDir: join(dir, 'agent'), port: await freePort(), name: NODE, args: ['--config', config, '--gpu-source', 'none', '--telemetry-interval', '500'] });
    api = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await api.connect();
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `nodes:\n  - name: ${NODE}\n    url: ${agent.url}\n    token: ${agent.token}\n`, { mode: 0o600 });
    tmux.start(S, tuiCommand(inventory));
  }, 60_000);

  afterAll(async () => {
    // Leave the shared test cluster as found: cancel what this agent still has in Slurm.
    for (const j of (await api?.call('job.list', {}).catch(() => ({ jobs: [] })))?.jobs ?? []) if (!isTerminal(j)) await api.call('job.cancel', { id: j.id }).catch(() => undefined);
    tmux?.kill();
    await api?.close().catch(() => undefined);
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('the node comes up; the node view shows the Slurm cluster (partition debug, GPUs)', async () => {
    expect(tmux.info(S, '#{pane_width}x#{pane_height}')).toBe(`${COLS}x${ROWS}`);
    await waitScreen((x) => new RegExp(`^> ${NODE} +up `, 'm').test(x), `${NODE} up in the cluster view`, 20_000);
    tmux.type(S, `:node ${NODE}`);
    tmux.keys(S, 'Enter');
    const s = await waitScreen((x) => /^SLURM\b.*\bdebug\* up 1 node, GPUs \d\/2 free/m.test(x), 'the SLURM line of the node view', 20_000);
    checkFrame(s);
  }, 45_000);

  test('a GPU job submitted through the form waits in Slurm behind a hog: queued, its Slurm id, Slurm\'s reason', async () => {
    const hog = (await api.call('job.submit', { spec: { driver: 'slurm', command: ['sleep', '120'], gpus: 2, name: 'hog' } })).job;
    await untilJob(api, hog.id, (j) => j.state === 'running', 60_000);

    const id = await submitThroughForm('tui-gpu', GPU_CMD, '1');
    const job = await untilJob(api, (await apiJob('tui-gpu'))!.id, (j) => j.state === 'queued' && !!j.slurm && /Resources|Priority/.test(j.slurm.reason ?? ''), 60_000);
    expect(job.id.startsWith(id)).toBe(true);
    expect(job.spec).toMatchObject({ driver: 'slurm', gpus: 1, command: ['sh', '-c', 'echo done-$CUDA_VISIBLE_DEVICES; sleep 3; exit 3'] });
    const slurmId = job.slurm!.job_id;

    let s = await toJobs();
    s = await waitScreen((x) => new RegExp(`\\bqueued +slurm ${slurmId} +0/1 +\\S+ +Slurm: (Resources|Priority)\\s*$`).test(jobRowOf(x, 'tui-gpu') ?? ''), `tui-gpu queued with "slurm ${slurmId}" and Slurm's reason`, 15_000);
    checkFrame(s);
    check(/\brunning +slurm \d+ +2\/2 .* on \S+/.test(jobRowOf(s, 'hog') ?? ''), 'the hog runs in Slurm, on its node', s);

    // Its detail view: the SLURM section.
    s = await selectJob('tui-gpu');
    tmux.keys(S, 'Enter');
    s = await waitScreen((x) => x.includes('tui-gpu on ') && /^SLURM$/m.test(x), 'the detail view of tui-gpu with its SLURM section');
    checkFrame(s);
    check(new RegExp(`^ {2}job id +${slurmId}$`, 'm').test(s), `detail: Slurm job id ${slurmId}`, s);
    check(/^ {2}partition +debug$/m.test(s), 'detail: partition debug', s);
    check(/^ {2}state +PENDING$/m.test(s), 'detail: Slurm state PENDING', s);
    check(/^ {2}reason +(Resources|Priority)$/m.test(s), 'detail: Slurm reason', s);
  }, 120_000);

  test('a pending job is cancelled from the TUI with ctrl-d + y', async () => {
    await submitThroughForm('pend-x', 'sleep 30', '1');
    const p = await untilJob(api, (await apiJob('pend-x'))!.id, (j) => j.state === 'queued' && !!j.slurm, 60_000);
    let s = await selectJob('pend-x');
    check(/\bqueued +slurm \d+ /.test(jobRowOf(s, 'pend-x')!), 'pend-x queued in Slurm', s);
    await cancelSelected('pend-x');
    s = await waitScreen((x) => /\bcancelled\b/.test(jobRowOf(x, 'pend-x') ?? ''), 'pend-x cancelled in :jobs', 30_000);
    checkFrame(s);
    const done = await untilJob(api, p.id, isTerminal, 30_000);
    expect(done.state).toBe('cancelled');
    expect(done.started_at).toBeNull();
    expect(await slurmState(p.slurm!.job_id)).toBe('CANCELLED');
  }, 90_000);

  test('cancelling the hog from the TUI lets the GPU job run; it fails with exit code 3 and its logs show the GPU', async () => {
    let s = await selectJob('hog');
    await cancelSelected('hog');
    s = await waitScreen((x) => /\bcancelled\b/.test(jobRowOf(x, 'hog') ?? ''), 'hog cancelled in :jobs', 30_000);

    s = await toJobs();
    s = await waitScreen((x) => /\brunning +slurm \d+ +1\/1 +\S+ +on \S+/.test(jobRowOf(x, 'tui-gpu') ?? ''), 'tui-gpu running in Slurm, on its node (it sleeps 3 s)', 60_000);
    checkFrame(s);
    s = await waitScreen((x) => /\bfailed +slurm \d+ .*exit code 3/.test(jobRowOf(x, 'tui-gpu') ?? ''), 'tui-gpu failed with exit code 3', 60_000);
    checkFrame(s);

    const job = (await apiJob('tui-gpu'))!;
    expect(job).toMatchObject({ state: 'failed', exit_code: 3 });
    expect(job.history.map((h) => h.state)).toEqual(expect.arrayContaining(['queued', 'running', 'failed']));
    expect(job.slurm?.state).toBe('FAILED');

    // Its logs, from the detail view.
    s = await selectJob('tui-gpu');
    tmux.keys(S, 'Enter');
    await waitScreen((x) => x.includes('tui-gpu on ') && x.includes(': FAILED'), 'the detail view of tui-gpu, FAILED');
    tmux.keys(S, 'l');
    s = await waitScreen((x) => /^logs of \S+ tui-gpu \(failed\)/m.test(x) && /^done-[01]\s*$/m.test(x), 'the logs of tui-gpu with done-0 or done-1', 15_000);
    checkFrame(s);
  }, 150_000);

  test('q quits with status 0', async () => {
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.keys(S, 'q');
    const s = await waitScreen((x) => /\[tui exited \d+\]/.test(x), 'the TUI process to exit');
    check(/^\[tui exited 0\]$/m.test(s), 'exit status 0', s);
  }, 15_000);
});
