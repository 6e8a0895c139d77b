// End-to-end test of the console's drift views: the REAL `fleetml tui` (dist/bin/fleetml.js) in a real terminal
// (tmux, 80×24) against a REAL agent process whose drift windows are 2 s (given by a YAML config file, as an operator
// would; the default is 300 s). The "done when", on screen: logreg.onnx pushed as `credit` with a reference
// dataset (2000 seeded rows, uploaded through the CLI's chunked helper), unshifted traffic (`:drift` and the
// version's drift screen show no alert, no drifting feature), then income and debt_ratio shifted by 3 standard
// deviations: within a bounded time the alert names exactly those two, and it reaches the screen within one window
// of the agent raising it; the drift screen marks those two DRIFT and not age or tenure.
//
// Needs: tmux and a build (`npm run build`; `npm test` builds first).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { uploadReferenceFile } from '../../shared/client/drift-upload.js';
import { mulberry32 } from '../../shared/util/prng.js';
import { freePort } from '../helpers/agent.js';
import { CREDIT, CREDIT_DRIFT, creditRows, csvOf, sendRows } from '../helpers/drift.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CLI, HAS_TMUX, Tmux, check, checkFrame, lines, sleep, tuiCommand, waitFor } from '../helpers/tmux.js';

const COLS = 80;
const ROWS = 24;
const BUCKET_S = 2;
const BUCKET_MS = BUCKET_S * 1000;
const ALERT_AFTER = 2;
/**
 * Windows with fewer rows are not judged. The normalised Wasserstein distance of an unshifted window of n rows is
 * about 1/sqrt(n): at a few hundred rows (the partial first window) chance alone crosses the 0.1 threshold now and
 * then; whole windows here hold about 3000 rows.
 */
const MIN_ROWS = 1000;
/** Short enough that no column of the :drift list truncates it. */
const NODE = `td-${process.pid % 10_000}`;

if (!HAS_TMUX) console.warn('test/e2e/tui-drift.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

/** The :drift row of credit on NODE ("> td-1234  credit  v1  yes  no  –"), if shown. */
const creditRow = (s: string) => lines(s).find((l) => /^[> ] /.test(l) && l.split(/\s+/).includes(NODE) && l.split(/\s+/).includes('credit'));
/** The drift-screen row of a feature ("> income  wasserstein  0.031  ≥0.1 ok  0% …"), if shown. */
const featureRow = (s: string, f: string) => lines(s).find((l) => new RegExp(`^[> ] ${f} +\\S`).test(l));
/** The STATUS cell of a feature row (the word after the threshold). */
const statusOf = (s: string, f: string) => /\s[<≥][\d.]+\s+(\S+)/.exec(featureRow(s, f) ?? '')?.[1];

describe.skipIf(!HAS_TMUX)('fleetml tui drift views in tmux (80×24) against a real agent with 2 s drift windows', () => {
  let dir = '';
  let tmux: Tmux;
  let agent: AgentProcess;
  let api: AgentClient;
  let version = '';
  const S = 'drift';
  const screen = () => tmux.screen(S);
  const waitScreen = (ok: (s: string) => boolean, what: string, timeoutMs?: number) => waitFor(screen, ok, what, timeoutMs);
  /** waitScreen for a whole frame: a capture taken while Ink rewrites the lines can lack the footer for a moment. */
  const waitFrame = (ok: (s: string) => boolean, what: string, timeoutMs?: number) =>
    waitScreen((x) => ok(x) && !!lines(x)[ROWS - 2]?.startsWith('<:> command'), what, timeoutMs);
  const frame = (s: string) => checkFrame(s, COLS, ROWS);
  const events: Array<{ type: string; features: string[]; at: number }> = [];

  // Traffic: 100-row requests back to back (about 15 a second), unshifted until `shifted` is set.
  let shifted = false;
  let sending = true;
  let sent = 0;
  let trafficDone: Promise<void> = Promise.resolve();
  const rnd = mulberry32(7);
  const trafficLoop = async () => {
    while (sending) {
      await sendRows(api, 'credit', creditRows(rnd, 100, shifted ? CREDIT_DRIFT : {}), 100).catch(() => undefined);
      sent += 100;
      await sleep(40);
    }
  };

  /**
   * The STATUS of every input feature on the drift screen: selects each in turn with j (the table scrolls to keep the
   * selection in sight), then goes back to the first with k. Also returns the screen of each selection.
   */
  const readStatuses = async (): Promise<{ statuses: Record<string, string>; screens: string[] }> => {
    const statuses: Record<string, string> = {};
    const screens: string[] = [];
    for (const [i, name] of CREDIT.names.entries()) {
      if (i > 0) tmux.keys(S, 'j');
      const s = await waitFrame((x) => new RegExp(`^> ${name} +wasserstein `, 'm').test(x), `${name} selected on the drift screen`);
      frame(s);
      screens.push(s);
      for (const f of CREDIT.names) { const st = statusOf(s, f); if (st) statuses[f] = st; }
    }
    for (let i = 1; i < CREDIT.names.length; i++) tmux.keys(S, 'k');
    await waitFrame((x) => new RegExp(`^> ${CREDIT.names[0]} +wasserstein `, 'm').test(x), `${CREDIT.names[0]} selected again`);
    return { statuses, screens };
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'fleetml-e2e-tui-drift-'));
    tmux = new Tmux(dir, COLS, ROWS);
    const config = join(dir, 'agent.yaml');
    writeFileSync(config, `drift:\n  bucket_s: ${BUCKET_S}\n  alert_after: ${ALERT_AFTER}\n  min_rows: ${MIN_ROWS}\n`);
    agent = await spawnAgent({ dataDir: join(dir, 'agent'), port: await freePort(), name: NODE, args: ['--config', config, '--gpu-source', 'none', '--job-driver', 'fake'] });
    expect(agent.token, 'the agent wrote no admin token').not.toBe('');
    api = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 });
    await api.connect();
    version = (await pushModel(api, 'credit', modelBytes('logreg.onnx'))).model!.version;
    const csv = join(dir, 'credit-train.csv');
    // Seed 6: a reference sample close to its distribution (its own sampling noise adds to every window's distance).
    writeFileSync(csv, csvOf(CREDIT.names, creditRows(mulberry32(6), 2000)));
    const ref = await uploadReferenceFile(api, csv, { name: 'credit', format: 'csv' });
    expect(ref.reference).toMatchObject({ source: 'dataset', rows: 2000, dataset_name: 'credit-train.csv' });
    await api.subscribe('drift.alerts', {}, (m) => {
      if (!m.snapshot) { const e = m.data; events.push({ type: e.type, features: e.alert.features, at: Date.now() }); }
    });
    trafficDone = trafficLoop();
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `nodes:\n  - name: ${NODE}\n    url: ${agent.url}\n    token: ${agent.token}\n`, { mode: 0o600 });
    tmux.start(S, tuiCommand(inventory));
  }, 60_000);

  afterAll(async () => {
    sending = false;
    await trafficDone;
    tmux?.kill();
    await api?.close().catch(() => undefined);
    await agent?.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test('unshifted traffic: :drift lists credit with no alert; its drift screen shows every feature ok and no alert', async () => {
    expect(tmux.info(S, '#{pane_width}x#{pane_height}')).toBe(`${COLS}x${ROWS}`);
    await waitFrame((x) => new RegExp(`^> ${NODE} +up `, 'm').test(x), `${NODE} up in the cluster view`, 20_000);
    // At least two closed windows judged, none with dataset drift, as the agent says. (One feature of one window may
    // cross its threshold by chance: the normalised Wasserstein distance of an unshifted window of n rows is about
    // 1/sqrt(n), and the first window is partial; an alert needs 2 of 4 features in 2 windows in a row.)
    const deadline = Date.now() + 20_000;
    for (;;) {
      const judged = (await api.call('drift.history', { name: 'credit' })).points.filter((p) => p.judged);
      if (judged.length >= 2) { expect(judged.every((p) => !p.dataset_drift), JSON.stringify(judged)).toBe(true); break; }
      if (Date.now() > deadline) throw new Error(`no two judged windows after 20 s (${sent} rows sent): ${JSON.stringify(judged)}`);
      await sleep(500);
    }

    tmux.type(S, ':drift');
    tmux.keys(S, 'Enter');
    let s = await waitFrame((x) => lines(x)[1]?.trim() === 'drift' && !!creditRow(x), 'the :drift view with credit');
    frame(s);
    check(lines(s)[0].endsWith(' cluster › drift'), 'breadcrumb "cluster › drift"', s);
    check(/^1 version · no active drift alert/.test(lines(s)[2] ?? ''), 'the summary says no active drift alert', s);
    check(new RegExp(`^> ${NODE} +credit +${version} +yes +no +– *$`).test(creditRow(s)!), 'credit: loaded, ALERT "no", no share, nothing drifting', s);
    check(!lines(s).some((l) => l.split(/\s+/).includes(NODE) && /\bALERT\b/.test(l)), 'no row says ALERT', s);

    tmux.keys(S, 'Enter');
    s = await waitFrame((x) => lines(x)[1]?.trim() === `drift ${NODE}/credit@${version} · window 1h` && /^dataset drift: /m.test(x) && statusOf(x, 'income') === 'ok', 'the drift screen of credit, income ok', 10_000);
    frame(s);
    const { statuses } = await readStatuses();
    expect(statuses, 'every feature ok').toEqual({ income: 'ok', age: 'ok', debt_ratio: 'ok', tenure: 'ok' });
    check(lines(s)[0].endsWith(` cluster › drift › ${NODE}/credit@${version}`), 'breadcrumb', s);
    check(/^reference: dataset credit-train\.csv · 2,000 rows · matched by position/m.test(s), 'the reference line names the dataset', s);
    check(/^dataset drift: no · share 0% \(0\/4 features\) < threshold 50%/m.test(s), 'no dataset drift', s);
    check(!s.includes('ACTIVE ALERT') && !/\bDRIFT\b/.test(s), 'no alert banner, no DRIFT row', s);
    expect(events, 'no drift.alerts event').toEqual([]);
  }, 60_000);

  test(`shifted traffic: the alert names exactly income and debt_ratio, on screen within one window of being raised`, async () => {
    // Back to :drift, then shift.
    tmux.keys(S, 'Escape');
    await sleep(150);
    tmux.type(S, ':drift');
    tmux.keys(S, 'Enter');
    await waitFrame((x) => lines(x)[1]?.trim() === 'drift' && !!creditRow(x), 'back to :drift');
    const start = Date.now();
    shifted = true;
    let seenAt = 0;
    const s = await waitFrame((x) => {
      const ok = / ALERT +50% +income, debt_ratio\b/.test(creditRow(x) ?? '');
      if (ok) seenAt = Date.now();
      return ok;
    }, 'credit ALERT naming income, debt_ratio in :drift', (ALERT_AFTER + 2) * BUCKET_MS + 8_000);
    frame(s);
    check(/^1 version · 1 with an active drift alert/.test(lines(s)[2] ?? ''), 'the summary counts the alert', s);
    check(!/\b(age|tenure)\b/.test(creditRow(s)!), 'age and tenure are not named', s);
    // The agent raised it once, naming exactly the two; the screen showed it within one window of that.
    const raised = events.filter((e) => e.type === 'raised');
    expect(raised, 'one drift.alerts raised event').toHaveLength(1);
    expect(raised[0].features).toEqual(['income', 'debt_ratio']);
    expect(seenAt - raised[0].at, 'on screen within one window of being raised').toBeLessThan(BUCKET_MS);
    // The window the shift starts in may be judged too (it drifts when enough of it is shifted) or not.
    expect(raised[0].at - start, `raised within alert_after (${ALERT_AFTER}) whole windows after the shift`).toBeLessThan((ALERT_AFTER + 1) * BUCKET_MS + 1500);
  }, 40_000);

  test('the drift screen: ACTIVE ALERT banner, income and debt_ratio DRIFT, age and tenure ok', async () => {
    tmux.keys(S, 'Enter');
    const s = await waitFrame(
      (x) => x.includes('ACTIVE ALERT') && statusOf(x, 'income') === 'DRIFT' && statusOf(x, 'debt_ratio') === 'DRIFT',
      'the drift screen with the alert and the two DRIFT rows',
      10_000,
    );
    frame(s);
    // (At 80 columns the banner's tail, "· N windows in a row · since …", is cut.)
    check(/^ACTIVE ALERT: drift in income, debt_ratio(;| ·)/m.test(s), 'the banner names income, debt_ratio', s);
    check(/^dataset drift: YES · share 50% \(2\/4 features\) ≥ threshold 50%/m.test(s), 'dataset drift: 2 of 4 features', s);
    // The selected feature (income, the first row) shows its score over the windows and its histogram.
    check(/^income score \(wasserstein ≥0\.1\): .* windows$/m.test(s), 'the income score sparkline', s);
    check(/^income over 1h: /m.test(s), 'the income histogram', s);
    // Every input feature's row (j scrolls the table: at 80×24 the histogram leaves room for three rows).
    const { statuses, screens } = await readStatuses();
    expect(statuses, 'income and debt_ratio DRIFT, age and tenure ok').toEqual({ income: 'DRIFT', age: 'ok', debt_ratio: 'DRIFT', tenure: 'ok' });
    const tenure = screens[screens.length - 1];
    check(/^tenure score \(wasserstein ≥0\.1\): /m.test(tenure) && /^tenure over 1h: /m.test(tenure), 'j moved the sparkline and histogram to tenure', tenure);
  }, 30_000);

  test('q quits with status 0', async () => {
    tmux.keys(S, 'q');
    const s = await waitScreen((x) => /\[tui exited \d+\]/.test(x), 'the TUI process to exit');
    check(/^\[tui exited 0\]$/m.test(s), 'exit status 0', s);
  }, 15_000);
});
