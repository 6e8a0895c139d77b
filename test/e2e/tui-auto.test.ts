// End-to-end test of the console's :auto view: the REAL `fleetml tui` (dist/bin/fleetml.js) in a real terminal
// (tmux, 120×30) against a REAL agent process with two automations. A run started by hand (auto.run) whose
// retraining job fails shows up live in the view, with where it stopped and why; Enter lists its runs; q exits 0.
// The agent API (auto.history) confirms what the screen shows.
//
// Needs: tmux, a build (`npm run build`).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CLI, HAS_TMUX, Tmux, check, checkFrame, lines, tuiCommand, waitFor } from '../helpers/tmux.js';

const COLS = 120;
const ROWS = 30;
const NODE = `ta-${process.pid % 100_000}`;

if (!HAS_TMUX) console.warn('test/e2e/tui-auto.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

describe.skipIf(!HAS_TMUX)('fleetml tui :auto in tmux (120×30) against a real agent', () => {
  let dir = '';
  let tmux: Tmux;
  let agent: AgentProcess;
  let c: AgentClient;
  const S = 'auto';
  const screen = () => tmux.screen(S);
  const waitFrame = (ok: (s: string) => boolean, what: string, timeoutMs?: number) =>
    waitFor(screen, (x) => ok(x) && !!lines(x)[ROWS - 2]?.startsWith('<:> command'), what, timeoutMs);
  const rowOf = (s: string, name: string) => lines(s).find((l) => /^[> ] /.test(l) && l.split(/\s+/).includes(name));

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'fleetml-e2e-tui-auto-'));
    tmux = new Tmux(dir, COLS, ROWS);
    agent = await spawnAgent({ dataDir: join(dir, 'a'), port: await freePort(), name: NODE, args: ['--gpu-source', 'none', '--job-driver', 'process'] });
    c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 });
    await c.connect();
    await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    const data = join(dir, 'train.csv');
    writeFileSync(data, 'income,age,debt_ratio,tenure,label\n1,2,3,4,1\n', { mode: 0o644 });
    const job = { driver: 'process' as const, command: ['sh', '-c', 'echo training on "$FLEETML_DATA"; exit 3'] };
    await c.call('auto.create', { spec: { name: 'credit-retrain', model: 'credit', trigger: { kind: 'manual' }, job, data: { file: data }, cooldown_s: 0 } });
    await c.call('auto.create', { spec: { name: 'credit-nightly', model: 'credit', trigger: { kind: 'schedule', cron: '0 3 * * *' }, job, data: { file: data } } });
    await c.call('auto.pause', { name: 'credit-nightly' });
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `nodes:\n  - name: ${NODE}\n    url: ${agent.url}\n    token: ${agent.token}\n`, { mode: 0o600 });
    tmux.start(S, tuiCommand(inventory));
  }, 60_000);

  afterAll(async () => {
    tmux?.kill();
    await c?.close().catch(() => undefined);
    await agent?.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test(':auto lists both automations; a run started by hand shows live where it stopped and why; Enter lists its runs; q exits 0', async () => {
    await waitFrame((x) => new RegExp(`^[> ] ${NODE} +up `, 'm').test(x), 'the node up in the cluster view', 20_000);
    tmux.type(S, ':auto');
    tmux.keys(S, 'Enter');
    let s = await waitFrame((x) => !!rowOf(x, 'credit-retrain') && !!rowOf(x, 'credit-nightly'), 'both automations in :auto', 15_000);
    checkFrame(s, COLS, ROWS);
    check(lines(s)[0].endsWith(' cluster › auto'), 'breadcrumb "cluster › auto"', s);
    check(/credit-nightly +credit +schedule:0 3 \* \* \* +paused +0 /.test(rowOf(s, 'credit-nightly')!), 'the paused schedule automation, no run yet', s);
    check(/credit-retrain +credit +manual +active +0 .*no run yet/.test(rowOf(s, 'credit-retrain')!), 'the manual one, no run yet', s);
    // a run by hand: its job fails; the row follows it live (auto.events), no key pressed
    const { run } = await c.call('auto.run', { name: 'credit-retrain', reason: 'e2e' });
    s = await waitFrame((x) => /credit-retrain +credit +manual +active +1 .*failed: training: job /.test(rowOf(x, 'credit-retrain') ?? ''), 'the run failed in training, in the row', 30_000);
    const hist = (await c.call('auto.history', { name: 'credit-retrain' })).runs;
    expect(hist[0]).toMatchObject({ id: run.id, state: 'failed' });
    expect(hist[0].reason).toMatch(/exit code 3/);
    // Enter: the runs of the selected automation (move onto credit-retrain first: rows sort by name)
    for (let i = 0; i < 3 && !rowOf(s, 'credit-retrain')!.startsWith('> '); i++) { tmux.keys(S, 'j'); s = await waitFrame(() => true, 'after j'); }
    s = await waitFrame((x) => rowOf(x, 'credit-retrain')?.startsWith('> ') ?? false, 'credit-retrain selected');
    tmux.keys(S, 'Enter');
    s = await waitFrame((x) => x.includes('credit-retrain on credit · manual · active · 1 run'), 'the runs view of credit-retrain');
    checkFrame(s, COLS, ROWS);
    check(lines(s).some((l) => l.includes(run.id) && / failed +manual +– /.test(l) && /exit code 3/.test(l)), 'the run row: failed, manual, no version, exit code 3', s);
    tmux.keys(S, 'Escape');
    await waitFrame((x) => !!rowOf(x, 'credit-nightly'), 'back in :auto');
    tmux.keys(S, 'q');
    await waitFor(screen, (x) => x.includes('[tui exited 0]'), 'the TUI exits 0', 10_000);
  }, 90_000);
});
