// End-to-end test of the console's job views: the REAL `fleetml tui` (dist/bin/fleetml.js) in a real terminal
// (tmux, 100×30) against a REAL agent process (simulated H100 from a --query-gpu CSV fixture; job drivers process,
// docker and fake) and the real container engine. Every job is submitted THROUGH THE `n` FORM with keys sent by
// `tmux send-keys`; the screen comes back with `tmux capture-pane`, polled every 200 ms up to a deadline, and every
// failure message carries the last screen. The agent API (job.list / job.get) confirms what the screen shows.
//
// Covered: `:jobs` (empty list, rows), the submit form (Tab order, driver choice, typed fields, quoting), a process
// job that fails with exit code 3 (row + detail view + its logs), a container job followed live with `l` (lines
// appear without a key), ctrl-d + y cancel from the logs view (cancelled in `:jobs` and in the API), q exits 0.
//
// Needs: tmux, a build (`npm run build`). The container part needs an engine (DOCKER_HOST=unix://… or
// /var/run/docker.sock) with fleetml/busybox:latest (imported on demand): skipped with a warning locally when no
// engine answers, a failure when CI is set (test/helpers/docker.ts).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Job } from '../../shared/protocol/jobs.js';
import { TEST_IMAGE, engineRequired, ensureDockerEngine } from '../helpers/docker.js';
import { CLI, HAS_TMUX, ROOT, Tmux, check, checkFrame as checkPaneFrame, lines, sleep, tuiCommand, waitFor } from '../helpers/tmux.js';

const H100 = join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'query-gpu-h100-80gb-hbm3-590.48-load.csv');
const COLS = 100;
const ROWS = 30;
/** Short enough (≤ 8 characters) that no column of the cluster or jobs view truncates it. */
const NODE = `tj-${process.pid % 100_000}`;
/** The container job: ten ticks a second apart (long enough to follow it live and cancel it half way). */
const TICK_CMD = `sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 1; done'`;
/** The process job: prints, then fails with exit code 3. */
const FAIL_CMD = `sh -c 'echo working; sleep 2; exit 3'`;

if (!HAS_TMUX) console.warn('test/e2e/tui-jobs.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

const engine = await ensureDockerEngine();
if (!engine.available && !engineRequired()) console.warn(`[tui-jobs.test] container job SKIPPED: ${engine.reason}`);
if (!engine.available && engineRequired()) {
  describe('tui container jobs', () => { test('has a container engine', () => { throw new Error(`CI is set but ${engine.reason}`); }); });
}

/** A free TCP port on loopback (bind to port 0, read it, close). */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

/** The status/prompt line under the header. */
const status = (screen: string) => lines(screen)[1]?.trim() ?? '';
/** The jobs-view row of the job named `name` ("> tj-1234  j_548605 tick-box running …"), if shown. */
const jobRowOf = (screen: string, name: string) => lines(screen).find((l) => /^[> ] /.test(l) && l.split(/\s+/).includes(name));
/** Frame invariants: at most ROWS lines, none wider than COLS, one header on line 1, one footer on line ROWS-1. */
const checkFrame = (screen: string) => checkPaneFrame(screen, COLS, ROWS);

/** The highest "tick N" on the screen (0 when none). */
function maxTick(screen: string): number {
  return Math.max(0, ...[...screen.matchAll(/^tick (\d+)\s*$/gm)].map((m) => Number(m[1])));
}

describe.skipIf(!HAS_TMUX)('fleetml tui job views in tmux (100×30) against a real agent', () => {
  let dir = '';
  let tmux: Tmux;
  let agent: AgentProcess;
  let inventory = '';
  let api: AgentClient;
  const S = 'jobs';
  const screen = () => tmux.screen(S);
  const waitScreen = (ok: (s: string) => boolean, what: string, timeoutMs?: number) => waitFor(screen, ok, what, timeoutMs);
  /** The agent's jobs (job.list), by name. */
  const apiJob = async (name: string): Promise<Job | undefined> => (await api.call('job.list', {})).jobs.find((j) => j.name === name);
  /** Back to the unfiltered `:jobs` view, whatever the test before left open (dialog, detail, logs). */
  const toJobs = async () => {
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.type(S, ':jobs');
    tmux.keys(S, 'Enter');
    return waitScreen((s) => lines(s)[0].endsWith(' cluster › jobs') && !s.includes('NEW JOB'), 'the :jobs view');
  };
  /** Open the form with `n` and wait for it (focus starts on the command field). */
  const openForm = async () => {
    tmux.keys(S, 'n');
    return waitScreen((s) => s.includes('NEW JOB') && /^> command +█/m.test(s), 'the submit form, focus on command');
  };
  /** Press Tab `n` times and wait until field `field` has the focus. */
  const tabTo = async (n: number, field: string) => {
    for (let i = 0; i < n; i++) tmux.keys(S, 'Tab');
    return waitScreen((s) => new RegExp(`^> ${field} `, 'm').test(s), `focus on the ${field} field after ${n}×Tab`);
  };
  /** Type `text` into the focused text field `field` and wait until the form echoes it. */
  const typeInto = async (field: string, text: string) => {
    tmux.type(S, text);
    return waitScreen((s) => lines(s).some((l) => l.startsWith(`> ${field.padEnd(9)} ${text}█`)), `"${text}" typed into ${field}`);
  };
  /** Submit the form and return the short id from "submitted job j_548605 on NODE (…)". */
  const submit = async (): Promise<string> => {
    tmux.keys(S, 'Enter');
    const s = await waitScreen((x) => /^submitted job \S+ on /.test(status(x)) && !x.includes('NEW JOB'), 'the form to close with "submitted job …"', 15_000);
    checkFrame(s);
    return /^submitted job (\S+) on (\S+)/.exec(status(s))![1];
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'fleetml-e2e-tui-jobs-'));
    tmux = new Tmux(dir, COLS, ROWS);
    const drivers = ['--job-driver', 'process', ...(engine.available ? ['--job-driver', 'docker'] : []), '--job-driver', 'fake'];
    agent = await spawnAgent({
      dataDir: join(dir, 'agent'),
      port: await freePort(),
      name: NODE,
      args: ['--gpu-source', 'sim', '--gpu-fixture', H100, ...drivers, '--telemetry-interval', '500'],
      env: engine.available ? { DOCKER_HOST: `unix://${engine.socketPath}` } : {},
    });
    expect(agent.token, 'the agent wrote no admin token').not.toBe('');
    api = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await api.connect();
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `nodes:\n  - name: ${NODE}\n    url: ${agent.url}\n    token: ${agent.token}\n`, { mode: 0o600 });
    tmux.start(S, tuiCommand(inventory));
  }, 60_000);

  afterAll(async () => {
    tmux?.kill();
    await api?.close().catch(() => undefined);
    await agent?.stop('SIGKILL');
    if (engine.available) {
      const docker = new Docker({ socketPath: engine.socketPath });
      const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`fleetml.node=${NODE}`] }) }).catch(() => []);
      for (const ci of left) await docker.getContainer(ci.Id).remove({ force: true }).catch(() => undefined);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test(`the pane is ${COLS}×${ROWS}; the node comes up; :jobs lists no jobs yet`, async () => {
    expect(tmux.info(S, '#{pane_width}x#{pane_height}')).toBe(`${COLS}x${ROWS}`);
    await waitScreen((x) => new RegExp(`^> ${NODE} +up `, 'm').test(x), `${NODE} up in the cluster view`, 20_000);
    tmux.type(S, ':jobs');
    tmux.keys(S, 'Enter');
    const s = await waitScreen((x) => status(x) === 'jobs' && x.includes('no jobs yet; <n> submits one'), 'the empty :jobs view');
    checkFrame(s);
    check(lines(s)[0].endsWith(' cluster › jobs'), 'breadcrumb "cluster › jobs"', s);
    check(/<n> new job/.test(lines(s)[ROWS - 2]), 'the footer offers <n> new job', s);
  }, 30_000);

  test('process job through the form: fails with exit code 3, shown in the row, the detail view and its logs', async () => {
    await toJobs();
    await openForm();
    let s = screen();
    checkFrame(s);
    check(/^ {2}node +‹ \S+ ›/m.test(s) && s.includes(`‹ ${NODE} ›`), 'node field preset to the only node', s);
    check(/^ {2}driver +‹ process ›/m.test(s), 'driver field defaults to process', s);
    await typeInto('command', FAIL_CMD);
    await tabTo(3, 'name');
    await typeInto('name', 'exit-three');
    const id = await submit();

    s = await waitScreen((x) => /\bfailed\b/.test(jobRowOf(x, 'exit-three') ?? '') && /exit code 3/.test(jobRowOf(x, 'exit-three') ?? ''), 'exit-three failed with "exit code 3" in :jobs', 15_000);
    checkFrame(s);
    const row = jobRowOf(s, 'exit-three')!;
    check(row.includes(NODE) && row.includes(id) && row.includes('process'), `the row shows the node, the id ${id} and driver process`, s);

    // Enter opens the detail view of the selected (newest, only) job.
    check(/^> /.test(row), 'exit-three is the selected row', s);
    tmux.keys(S, 'Enter');
    s = await waitScreen((x) => x.includes('exit-three on ') && x.includes(': FAILED'), 'the detail view of exit-three');
    checkFrame(s);
    check(/^ {2}reason +exit code 3$/m.test(s), 'detail: reason "exit code 3"', s);
    check(/^ {2}exit +3$/m.test(s), 'detail: exit 3', s);
    // The form's quoting reached the agent as three arguments: sh, -c, and the script.
    check(/^ {2}command +sh -c 'echo working; sleep 2; exit 3'$/m.test(s), 'detail: the command as typed', s);
    check(/^ {2}driver +process$/m.test(s), 'detail: driver process', s);

    // `l` from the detail view: its output.
    tmux.keys(S, 'l');
    s = await waitScreen((x) => /^logs of \S+ exit-three \(failed\)/m.test(x) && /^working\s*$/m.test(x), 'the logs of exit-three with "working"');
    checkFrame(s);

    const job = await apiJob('exit-three');
    expect(job, 'job.list has exit-three').toBeDefined();
    expect(job).toMatchObject({ state: 'failed', exit_code: 3, reason: 'exit code 3', node: NODE });
    expect(job!.id.startsWith(id)).toBe(true);
    expect(job!.spec).toMatchObject({ driver: 'process', command: ['sh', '-c', 'echo working; sleep 2; exit 3'] });
  }, 30_000);

  test.skipIf(!engine.available)('container job through the form: logs followed live with l, cancelled with ctrl-d + y', async () => {
    await toJobs();
    await openForm();
    // From command (4th field), 5×Tab wraps round to driver; → picks docker.
    await tabTo(5, 'driver');
    tmux.keys(S, 'Right');
    await waitScreen((x) => /^> driver +‹ docker ›/m.test(x), 'driver docker');
    await tabTo(1, 'image');
    await typeInto('image', TEST_IMAGE);
    await tabTo(1, 'command');
    await typeInto('command', TICK_CMD);
    await tabTo(3, 'name');
    await typeInto('name', 'tick-box');
    const submittedAt = Date.now();
    const id = await submit();

    // The newest job is the first row, selected: `l` follows its output.
    let s = await waitScreen((x) => /^> .*\brunning\b/.test(jobRowOf(x, 'tick-box') ?? ''), 'tick-box running and selected in :jobs', 15_000);
    checkFrame(s);
    check(jobRowOf(s, 'tick-box')!.includes(id) && jobRowOf(s, 'tick-box')!.includes('docker'), `the row shows the id ${id} and driver docker`, s);
    tmux.keys(S, 'l');
    s = await waitScreen((x) => /^logs of \S+ tick-box \(running\)/m.test(x) && /^tick 1\s*$/m.test(x), 'the logs view with "tick 1"', 10_000);
    checkFrame(s);
    // Live: later ticks appear with no key pressed (at least tick 3, and a tick newer than any seen so far).
    const seen = maxTick(s);
    const want = Math.max(3, seen + 1);
    check(seen < 10, 'the job is still running when its logs open', s);
    s = await waitScreen((x) => maxTick(x) >= want && /^tick 3\s*$/m.test(x), `"tick ${want}" appears without a key (first screen had tick ${seen})`, 8_000);
    checkFrame(s);
    check(/^tick 1\s*$/m.test(s) && /^tick 2\s*$/m.test(s), 'the earlier ticks stay on screen', s);
    check(/· autoscroll on ·/.test(s), 'autoscroll on', s);

    // ctrl-d in the logs view asks; y cancels.
    tmux.keys(S, 'C-d');
    s = await waitScreen((x) => new RegExp(`^Cancel job ${id} \\(tick-box\\) on ${NODE}\\? y/n$`).test(status(x)), 'the cancel confirmation');
    checkFrame(s);
    tmux.keys(S, 'y');
    s = await waitScreen((x) => /^logs of \S+ tick-box \(cancelled\)/m.test(x), 'the logs view says (cancelled)', 15_000);
    const lastTick = maxTick(s);
    check(lastTick < 10, 'cancelled before the tenth tick', s);

    // :jobs shows it cancelled.
    s = await toJobs();
    s = await waitScreen((x) => /\bcancelled\b/.test(jobRowOf(x, 'tick-box') ?? ''), 'tick-box cancelled in :jobs');
    checkFrame(s);
    check(/\bfailed\b.*exit code 3/.test(jobRowOf(s, 'exit-three') ?? ''), 'exit-three still failed with exit code 3', s);
    check(/^\d+ jobs · 1 failed · states: all \(f\)/.test(lines(s)[2]?.trim() ?? ''), 'the summary counts one failed job', s);

    const job = await apiJob('tick-box');
    expect(job, 'job.list has tick-box').toBeDefined();
    expect(job).toMatchObject({ state: 'cancelled', node: NODE });
    expect(job!.reason).toMatch(/^cancelled by /);
    expect(job!.spec).toMatchObject({ driver: 'docker', image: TEST_IMAGE, command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 1; done'] });
    expect(job!.finished_at! - submittedAt, 'cancelled well before the job would have ended').toBeLessThan(10_000);
    const out = (await api.call('job.logs', { id: job!.id })).lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(out[0]).toBe('tick 1');
    expect(out.length).toBeLessThan(10);
  }, 45_000);

  test('the agent API agrees: job.list has the submitted jobs in their end states', async () => {
    const { jobs } = await api.call('job.list', {});
    const byName = Object.fromEntries(jobs.map((j) => [j.name, j]));
    expect(byName['exit-three']).toMatchObject({ state: 'failed', exit_code: 3 });
    if (engine.available) expect(byName['tick-box']).toMatchObject({ state: 'cancelled' });
    expect(jobs).toHaveLength(engine.available ? 2 : 1);
  });

  test('q quits with status 0', async () => {
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.keys(S, 'q');
    const s = await waitScreen((x) => /\[tui exited \d+\]/.test(x), 'the TUI process to exit');
    check(/^\[tui exited 0\]$/m.test(s), 'exit status 0', s);
  }, 15_000);
});
