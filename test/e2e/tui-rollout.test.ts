// End-to-end test of the console's rollout views: the REAL `fleetml tui` (dist/bin/fleetml.js) in a real terminal
// (tmux, 80×24) against three REAL agent processes. The coordinator (ro-a) knows the two others as peers from its
// YAML config (their admin tokens, read after they started); drift windows are 1 s with min_rows 50, so a step of
// 3 s can be judged. `credit` v1 (alias 100) and the candidates v2 (logreg.onnx, the same function) and v3-drifted
// (logreg-drifted.onnx, different answers) are pushed to every node, with traffic running on every node.
//
// On screen: `:rollouts` lists a canary of v2 started through the API, Enter opens it, its step and each node's
// weight move 10 % → 50 %; `p` pauses it (PAUSED), `r` resumes it, ctrl-a + `y` aborts it (ABORTED) and every node's
// routing is v1:100 again (model.history). A canary of v3-drifted is rolled back by itself, the view names the output
// drift; a canary of v2 left alone goes 10 → 50 → 100 and is PROMOTED.
//
// Needs: tmux and a build (`npm run build`; `npm test` builds first).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Rollout } from '../../shared/protocol/index.js';
import { mulberry32 } from '../../shared/util/prng.js';
import { freePort } from '../helpers/agent.js';
import { creditRows, sendRows } from '../helpers/drift.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CLI, HAS_TMUX, Tmux, check, checkFrame, lines, sleep, tuiCommand, waitFor } from '../helpers/tmux.js';

const COLS = 80;
const ROWS = 24;
const NAMES = ['ro-a', 'ro-b', 'ro-c'] as const;
const STEP_S = 3;
/**
 * The rollouts' spec: every node, canary 10 → 50 → 100 of STEP_S each. Thresholds: the defaults except p95 (three
 * agents, their traffic, the TUI and the test share the CPUs, and a candidate's first requests are cold: its p95 was
 * seen at 3.6× the stable one's; latency is not what this test is about) and min_requests (a 3 s step of the 10 %
 * slice serves ~20-50 candidate requests per node here).
 */
const SPEC = { name: 'credit', nodes: [...NAMES], strategy: 'canary', steps: [10, 50, 100], step_duration_s: STEP_S, analysis: { min_requests: 20, max_waits: 6, max_p95_ratio: 10 } } as const;

if (!HAS_TMUX) console.warn('test/e2e/tui-rollout.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

/** The short id the rollouts list shows (rollout-row.ts shortRolloutId). */
const short = (id: string) => (id.length > 12 ? id.slice(0, 8) : id);
/** The :rollouts row of a rollout ("> ro-a  ro_1a2b3  credit  v1→v2  canary  RUNNING …"), if shown. */
const listRow = (s: string, id: string) => lines(s).find((l) => /^[> ] /.test(l) && l.split(/\s+/).includes(short(id)));
/** The STEPS line of the detail view for plan step `n` (1-based): "> 2  ro-a  50%  ro-b  50%  ro-c  50%  …". */
const stepRow = (s: string, n: number) => lines(s).find((l) => new RegExp(`^[>✓ ] +${n}  ro-a `).test(l));
/** The NODES line of a node in the detail view: "  ro-b  v1       50%  serving". */
const nodeRow = (s: string, node: string) => lines(s).find((l) => new RegExp(`^  ${node} +v1 +\\d+% `).test(l));
/** The weight a NODES line shows (percent), or null. */
const weightOf = (s: string, node: string) => { const m = /^ {2}\S+ +\S+ +(\d+)% /.exec(nodeRow(s, node) ?? ''); return m ? Number(m[1]) : null; };

describe.skipIf(!HAS_TMUX)('fleetml tui rollout views in tmux (80×24) against three real agents', () => {
  let dir = '';
  let tmux: Tmux;
  const agents: AgentProcess[] = [];
  const clients: AgentClient[] = [];
  let co: AgentClient; // the coordinator, ro-a
  const S = 'rollout';
  const screen = () => tmux.screen(S);
  const waitScreen = (ok: (s: string) => boolean, what: string, timeoutMs?: number) => waitFor(screen, ok, what, timeoutMs);
  /** waitScreen for a whole frame: a capture taken while Ink rewrites the lines can lack the footer for a moment. */
  const waitFrame = (ok: (s: string) => boolean, what: string, timeoutMs?: number) =>
    waitScreen((x) => ok(x) && !!lines(x)[ROWS - 2]?.startsWith('<:> command'), what, timeoutMs);
  const frame = (s: string) => checkFrame(s, COLS, ROWS);
  /**
   * The detail view's header ("credit v1 → v2 · canary · RUNNING · coordinator ro-a": without --from, the nodes' stable version) in the given state: the
   * rollouts give no `from`, each node's stable version is what it serves (v1, in the NODES lines).
   */
  const detailIn = (s: string, to: string, state: string) => lines(s).some((l) => l.startsWith(`credit v1 → ${to} · canary · ${state} · coordinator ro-a`));

  // Traffic: 20-row requests back to back on every node.
  let sending = true;
  let loops: Promise<void>[] = [];
  const rnd = mulberry32(17);

  const routing = async (c: AgentClient) => (await c.call('model.history', { name: 'credit', limit: 1 })).events[0]?.targets ?? null;
  const get = async (id: string): Promise<Rollout> => (await co.call('rollout.get', { id })).rollout;
  const decisionsText = (r: Rollout) => r.decisions.map((d) => `${d.kind}/${d.outcome}: ${d.reason}`).join(' | ');
  const start = async (to: string): Promise<Rollout> => (await co.call('rollout.start', { ...SPEC, to, reason: 'e2e' })).rollout;

  /** From anywhere: `:rollouts`, select the row of `id` (k/j), Enter; resolves with the detail screen. */
  const openRollout = async (id: string, to: string): Promise<string> => {
    tmux.type(S, ':rollouts');
    tmux.keys(S, 'Enter');
    let s = await waitFrame((x) => lines(x)[1]?.trim() === 'rollouts' && !!listRow(x, id), `the :rollouts view listing ${short(id)}`, 15_000);
    frame(s);
    check(lines(s)[0].endsWith(' cluster › rollouts'), 'breadcrumb "cluster › rollouts"', s);
    check(/\bcredit\b/.test(listRow(s, id)!) && listRow(s, id)!.includes(` v1→${to.slice(0, 7)}`), `the row names credit v1→${to} (the nodes' stable version; long versions are cut at the column width)`, s);
    // Unfinished rollouts sort first: the new one is the first row; move the selection onto it when it is elsewhere.
    for (let i = 0; i < 5 && !listRow(s, id)!.startsWith('> '); i++) {
      tmux.keys(S, 'k');
      s = await waitFrame(() => true, 'the list after k');
    }
    s = await waitFrame((x) => listRow(x, id)?.startsWith('> ') ?? false, `${short(id)} selected`);
    tmux.keys(S, 'Enter');
    s = await waitFrame((x) => lines(x).some((l) => l.startsWith(`credit v1 → ${to} · canary · `)) && /^STEPS \(3\)/m.test(x), `the detail view of ${short(id)}`);
    frame(s);
    check(lines(s)[0].includes(' cluster › rollouts › '), 'breadcrumb "cluster › rollouts › …"', s);
    return s;
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'fleetml-e2e-tui-rollout-'));
    tmux = new Tmux(dir, COLS, ROWS);
    const drift = 'drift:\n  bucket_s: 1\n  min_rows: 50\n  auto_reference_rows: 0\n';
    const peerConfig = join(dir, 'peer.yaml');
    writeFileSync(peerConfig, drift);
    const spawn = (name: string, config: string) =>
      freePort().then((port) => spawnAgent({ dataDir: join(dir, name), port, name, args: ['--config', config, '--gpu-source', 'none', '--job-driver', 'fake'] }));
    // The peers first: the coordinator's config names them with their admin tokens.
    const peers = await Promise.all(NAMES.slice(1).map((n) => spawn(n, peerConfig)));
    const coConfig = join(dir, 'coordinator.yaml');
    writeFileSync(coConfig, `${drift}peers:\n${peers.map((p, i) => `  - { name: ${NAMES[i + 1]}, url: "${p.url}", token: "${p.token}" }\n`).join('')}`, { mode: 0o600 });
    agents.push(await spawn(NAMES[0], coConfig), ...peers);
    for (const a of agents) {
      expect(a.token, 'an agent wrote no admin token').not.toBe('');
      const c = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
      await c.connect();
      await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
      await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
      await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v2' }); // the same function: a good candidate
      await pushModel(c, 'credit', modelBytes('logreg-drifted.onnx'), { version: 'v3-drifted' }); // different answers
      clients.push(c);
    }
    co = clients[0];
    loops = clients.map(async (c) => {
      while (sending) { await sendRows(c, 'credit', creditRows(rnd, 20), 20).catch(() => undefined); await sleep(15); }
    });
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `nodes:\n${agents.map((a, i) => `  - name: ${NAMES[i]}\n    url: ${a.url}\n    token: ${a.token}\n`).join('')}`, { mode: 0o600 });
    tmux.start(S, tuiCommand(inventory));
  }, 60_000);

  afterAll(async () => {
    sending = false;
    await Promise.all(loops);
    tmux?.kill();
    for (const c of clients) await c.close().catch(() => undefined);
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test('a canary on screen: 10 % → 50 % on every node, p pauses, r resumes, ctrl-a y aborts and restores v1', async () => {
    expect(tmux.info(S, '#{pane_width}x#{pane_height}')).toBe(`${COLS}x${ROWS}`);
    await waitFrame((x) => NAMES.every((n) => new RegExp(`^[> ] ${n} +up `, 'm').test(x)), 'the three nodes up in the cluster view', 20_000);
    const r = await start('v2');
    let s = await openRollout(r.id, 'v2');

    // Step 1: 10 % on every node (the step line and each node's weight), then step 2: 50 %.
    s = await waitFrame((x) => /· step 1\/3 for /.test(x) && NAMES.every((n) => weightOf(x, n) === 10), 'step 1/3 with 10 % on every node', 10_000);
    frame(s);
    check(/^> +1  ro-a +10%  ro-b +10%  ro-c +10%/.test(stepRow(s, 1) ?? ''), 'step 1 is current, 10 % on each node', s);
    check(detailIn(s, 'v2', 'RUNNING'), 'the header says RUNNING', s);
    check(NAMES.every((n) => / serving\b/.test(nodeRow(s, n) ?? '')), 'every node serving', s);
    s = await waitFrame((x) => /· step 2\/3 for /.test(x) && NAMES.every((n) => weightOf(x, n) === 50), 'step 2/3 with 50 % on every node', 20_000);
    frame(s);
    // (At 24 rows the STEPS section keeps the current step only.)
    check(/^> +2  ro-a +50%  ro-b +50%  ro-c +50%/.test(stepRow(s, 2) ?? ''), 'step 2 current, 50 % on each node', s);
    check(/^ {2}last: step 1 at \S+ · pass: within thresholds on ro-a, ro-b, ro-c/m.test(s), 'the analysis of step 1 passed', s);

    // p: paused at once, on screen and on the coordinator.
    tmux.keys(S, 'p');
    s = await waitFrame((x) => detailIn(x, 'v2', 'PAUSED'), 'PAUSED after p', 10_000);
    frame(s);
    check(/ pause +info +paused by hand/.test(s), 'the decision "pause info paused by hand"', s);
    expect((await get(r.id)).state).toBe('paused');
    for (const c of clients) expect(await routing(c), 'a pause keeps the routing of the step').toEqual([{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }]);

    // r: running again at step 2 (fresh window).
    tmux.keys(S, 'r');
    s = await waitFrame((x) => detailIn(x, 'v2', 'RUNNING'), 'RUNNING after r', 10_000);
    frame(s);
    check(/ resume +info +resumed by hand at step 2/.test(s), 'the decision "resume info resumed by hand at step 2"', s);
    check(/· step 2\/3\b/.test(s), 'still step 2/3', s);

    // ctrl-a asks y/n; y aborts and restores the routing on every node.
    tmux.keys(S, 'C-a');
    // (The question is one line under the header, "Abort credit → v2 and restore the previous routing? y/n".)
    s = await waitScreen((x) => lines(x)[1]?.startsWith('Abort credit → v2 and restore the previous routing? y/n') ?? false, 'the abort question', 5_000);
    check(detailIn(s, 'v2', 'RUNNING'), 'nothing happens before y', s);
    tmux.keys(S, 'y');
    s = await waitFrame((x) => detailIn(x, 'v2', 'ABORTED'), 'ABORTED after ctrl-a y', 15_000);
    frame(s);
    check(/^ {2}\S+ #2 +abort +(ok|info) +\S/m.test(s), 'an abort decision at step 2', s);
    check(NAMES.every((n) => weightOf(s, n) === 0), 'every node at 0 % of the candidate', s);
    const done = await get(r.id);
    expect(done.state, decisionsText(done)).toBe('aborted');
    expect(done.decisions.filter((d) => d.kind === 'abort').map((d) => d.reason).join(' | ')).toMatch(/previous routing restored on ro-a, ro-b, ro-c/);
    for (const c of clients) expect(await routing(c), 'v1 serves everything again').toEqual([{ version: 'v1', weight: 100 }]);
    const hist = (await clients[1].call('model.history', { name: 'credit', limit: 1 })).events[0];
    expect(hist.reason).toMatch(new RegExp(`rollout ${r.id} aborted`));

    // Back to the list: ABORTED in its row.
    tmux.keys(S, 'Escape');
    s = await waitFrame((x) => lines(x)[1]?.trim() === 'rollouts' && / ABORTED /.test(listRow(x, r.id) ?? ''), 'the list row says ABORTED');
    frame(s);
  }, 60_000);

  test('a bad candidate (logreg-drifted) is rolled back by itself: the view shows ROLLED_BACK and the output drift', async () => {
    const r = await start('v3-drifted');
    let s = await openRollout(r.id, 'v3-drifted');
    s = await waitFrame((x) => detailIn(x, 'v3-drifted', 'ROLLED_BACK'), 'ROLLED_BACK', STEP_S * 1000 * 5);
    frame(s);
    check(/^ {2}last: step 1 at \S+ · fail: ro-\w: output drift \d\.\d{3}/m.test(s), 'the last analysis failed on output drift at step 1', s);
    check(/^ {2}\S+ #1 +rollback +(ok|info) +\S/m.test(s), 'a rollback decision at step 1', s);
    check(NAMES.every((n) => / rolled_back\b/.test(nodeRow(s, n) ?? '') && weightOf(s, n) === 0), 'every node rolled_back at 0 %', s);
    const done = await get(r.id);
    expect(done.state, decisionsText(done)).toBe('rolled_back');
    expect(done.decisions.find((d) => d.kind === 'analysis' && d.outcome === 'fail')?.reason).toMatch(/output drift \d+\.\d+ vs the stable version > 0\.2/);
    expect(done.decisions.filter((d) => d.kind === 'rollback').map((d) => d.reason).join(' | ')).toMatch(/automatic rollback to the stable version on ro-a, ro-b, ro-c: .*output drift/);
    for (const c of clients) expect(await routing(c)).toEqual([{ version: 'v1', weight: 100 }]);
    tmux.keys(S, 'Escape');
    s = await waitFrame((x) => / ROLLED_BACK /.test(listRow(x, r.id) ?? ''), 'the list row says ROLLED_BACK');
    frame(s);
  }, 40_000);

  test('a good candidate left alone goes 10 → 50 → 100 and is PROMOTED', async () => {
    const r = await start('v2');
    let s = await openRollout(r.id, 'v2');
    s = await waitFrame((x) => /· step 3\/3 for /.test(x) && NAMES.every((n) => weightOf(x, n) === 100), 'step 3/3 with 100 % on every node', STEP_S * 1000 * 6);
    frame(s);
    s = await waitFrame((x) => detailIn(x, 'v2', 'PROMOTED'), 'PROMOTED', STEP_S * 1000 * 4);
    frame(s);
    check(/ done +ok +promoted: v2 serves all traffic of credit/.test(s), 'the decision "done ok promoted"', s);
    check(NAMES.every((n) => / done\b/.test(nodeRow(s, n) ?? '') && weightOf(s, n) === 100), 'every node done at 100 %', s);
    for (const c of clients) expect(await routing(c)).toEqual([{ version: 'v2', weight: 100 }]);
  }, 40_000);

  test('q quits with status 0', async () => {
    tmux.keys(S, 'q');
    const s = await waitScreen((x) => /\[tui exited \d+\]/.test(x), 'the TUI process to exit');
    check(/^\[tui exited 0\]$/m.test(s), 'exit status 0', s);
  }, 15_000);
});
