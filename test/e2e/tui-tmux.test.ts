// End-to-end test of the console: the REAL `fleetml tui` (dist/bin/fleetml.js) in a real terminal (tmux, 80×24)
// against two REAL agent processes with simulated GPUs (A5000 ×2 from an nvidia-smi -q -x fixture, H100 from a
// --query-gpu CSV fixture). Keys go in with `tmux send-keys`; the screen comes back with `tmux capture-pane`.
// Every wait polls the screen every 200 ms up to a deadline and puts the last screen in the failure message.
//
// Needs: tmux (CI installs the Debian package `tmux`) and a build (`npm run build`; `npm test` builds first).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { CLI, HAS_TMUX, ROOT, Tmux, check, checkFrame as checkPaneFrame, lines, sleep, tuiCommand, waitFor } from '../helpers/tmux.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'nvidia-smi');
const A5000 = join(FIXTURES, 'rtx-a5000-2gpu-590.44-procs-q-x.xml');
const H100 = join(FIXTURES, 'query-gpu-h100-80gb-hbm3-590.48-load.csv');
const COLS = 80;
const ROWS = 24;

if (!HAS_TMUX) console.warn('test/e2e/tui-tmux.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

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

/** The screen line of a node row in the cluster view ("> alpha   up  …" or "  bravo   …"). */
const rowOf = (screen: string, name: string) => lines(screen).find((l) => new RegExp(`^[> ] ${name} `).test(l));

/**
 * The frame invariants that hold on every screen: at most 24 lines, the header on line 1, nothing stacked twice.
 * The frame is rows-1 lines (a frame as tall as the terminal makes Ink clear the screen on every redraw: flicker):
 * the footer sits on line 23 and line 24 stays empty.
 */
const checkFrame = (screen: string) => checkPaneFrame(screen, COLS, ROWS, { footerOnce: true, lastLineEmpty: true });

/** SGR sequences that set a colour (foreground or background, 16/256/truecolour), as opposed to bold/inverse/reset. */
function colourEscapes(screen: string): string[] {
  const out: string[] = [];
  for (const m of screen.matchAll(/\x1b\[([0-9;:]*)m/g)) {
    const params = m[1].split(/[;:]/).map(Number);
    if (params.some((p) => (p >= 30 && p <= 38) || (p >= 40 && p <= 48) || (p >= 90 && p <= 97) || (p >= 100 && p <= 107))) out.push(JSON.stringify(m[0]));
  }
  return out;
}

describe.skipIf(!HAS_TMUX)('fleetml tui in tmux (80×24) against two real agents', () => {
  let dir = '';
  let tmux: Tmux;
  let alpha: AgentProcess;
  let bravo: AgentProcess;
  let alphaArgs: { dataDir: string; port: number; name: string; args: string[] };
  let inventory = '';
  const S = 'tui';
  const screen = () => tmux.screen(S);
  const waitScreen = (ok: (s: string) => boolean, what: string, timeoutMs?: number) => waitFor(screen, ok, what, timeoutMs);
  /** Back to the unfiltered cluster view (Esc closes help/prompt, clears a filter, pops a view), whatever a failed test left. */
  const home = async () => {
    const atHome = (x: string) => lines(x)[1]?.trim() === 'cluster' && !!rowOf(x, 'alpha') && !!rowOf(x, 'bravo');
    for (let i = 0; i < 4 && !atHome(screen()); i++) {
      tmux.keys(S, 'Escape');
      await sleep(300);
    }
    await waitScreen(atHome, 'the cluster view');
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'fleetml-e2e-tui-'));
    // No status line (the pane is the whole 80×24); a pane whose command dies (a crash at start) keeps its last screen.
    tmux = new Tmux(dir, COLS, ROWS);
    const [pa, pb] = await Promise.all([freePort(), freePort()]);
    const common = ['--gpu-source', 'sim', '--telemetry-interval', '500'];
    alphaArgs = { dataDir: join(dir, 'alpha'), port: pa, name: 'alpha', args: [...common, '--gpu-fixture', A5000] };
    [alpha, bravo] = await Promise.all([
      spawnAgent(alphaArgs),
      spawnAgent({ dataDir: join(dir, 'bravo'), port: pb, name: 'bravo', args: [...common, '--gpu-fixture', H100] }),
    ]);
    expect(alpha.token, 'alpha wrote no admin token').not.toBe('');
    expect(bravo.token, 'bravo wrote no admin token').not.toBe('');
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(
      inventory,
      `nodes:\n  - name: alpha\n    url: ${alpha.url}\n    token: ${alpha.token}\n  - name: bravo\n    url: ${bravo.url}\n    token: ${bravo.token}\n`,
      { mode: 0o600 },
    );
    tmux.start(S, tuiCommand(inventory));
  }, 60_000);

  afterAll(async () => {
    tmux?.kill();
    await Promise.all([alpha?.stop('SIGKILL'), bravo?.stop('SIGKILL')]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test('the pane is exactly 80×24 (the frame invariants below rely on it)', () => {
    expect(tmux.info(S, '#{pane_width}x#{pane_height}')).toBe(`${COLS}x${ROWS}`);
  });

  test('cluster view: both nodes up with their GPUs and the SIM marker, header on line 1, at most 24 lines, colours on', async () => {
    const s = await waitScreen(
      (x) => /^> alpha +up /m.test(x) && /^ {2}bravo +up /m.test(x) && x.includes('2 nodes · 2 up · 3 GPUs · 2 SIM'),
      'both nodes up with their GPU cells',
      20_000,
    );
    checkFrame(s);
    const ls = lines(s);
    check(ls[0].startsWith('fleetml · e2e · 2 nodes · 2 up · 3 GPUs · 2 SIM'), 'header counts', s);
    check(ls[1].trim() === 'cluster', 'status line under the header says "cluster"', s);
    check(/NODE +STATE +CPU +MEM +GPUS/.test(ls[2]), 'cluster table header on line 3', s);
    // alpha: two A5000 GPUs → two GPU tokens; bravo: one H100 → one token. Both carry the SIM marker.
    const a = rowOf(s, 'alpha')!;
    const b = rowOf(s, 'bravo')!;
    check(/ SIM \S+ \S+ /.test(a), 'alpha shows SIM and two GPU tokens', s);
    check(/ SIM \S+ +\d+°C/.test(b), 'bravo shows SIM and one GPU token', s);
    check(/\d+°C +\d+\/460W$/.test(a.trimEnd()), 'alpha: 2×230 W power limit', s);
    check(/\d+°C +\d+\/700W$/.test(b.trimEnd()), 'bravo: 700 W power limit', s);
    // The TUI draws on the alternate screen (the shell scrollback stays clean).
    expect(tmux.info(S, '#{alternate_on}')).toBe('1');
    // The control for the NO_COLOR test below: without NO_COLOR, capture-pane -e does show colour escapes.
    const coloured = tmux.screen(S, true);
    check(colourEscapes(coloured).length > 0, 'no colour escapes without NO_COLOR', coloured);
  }, 30_000);

  test('Enter drills into the node: its GPU rows and the llama-server process on both GPUs; Esc goes back', async () => {
    await home();
    tmux.keys(S, 'Enter');
    const s = await waitScreen(
      (x) => lines(x)[1]?.trim() === 'node alpha' && x.includes('SIMULATED') && (x.match(/100477/g)?.length ?? 0) === 2,
      'node view of alpha with its processes',
    );
    checkFrame(s);
    check(lines(s)[0].endsWith('cluster › alpha'), 'breadcrumb in the header', s);
    check(/GPUs 2 · driver 590\.44\.01 · CUDA [\d.]+ · source sim · SIMULATED/.test(s), 'GPU section title', s);
    const gpuRows = lines(s).filter((l) => /^ {3}[01] SIM RTX A5000 /.test(l));
    check(gpuRows.length === 2, 'two GPU rows "SIM RTX A5000"', s);
    check(gpuRows.every((l) => /\d+\.\d\/24\.0G/.test(l)), 'GPU rows show 24 GB memory', s);
    const procs = lines(s).filter((l) => / 100477 C +/.test(l));
    check(procs.length === 2, 'pid 100477 on both GPUs', s);
    // A long process path keeps its end (the program name), not its start.
    check(procs.every((l) => /llama-server\b/.test(l)), 'the process column shows "llama-server"', s);
    check(/^> +0 +100477 /m.test(s), 'first process row selected', s);

    tmux.keys(S, 'Escape');
    const back = await waitScreen((x) => lines(x)[1]?.trim() === 'cluster' && !!rowOf(x, 'alpha') && !!rowOf(x, 'bravo'), 'back to the cluster view');
    checkFrame(back);
    check(lines(back)[0].endsWith(' cluster'), 'breadcrumb back to "cluster"', back);
  }, 30_000);

  test('/ filter narrows the cluster view to one node; Esc clears it', async () => {
    await home();
    tmux.keys(S, '/');
    await waitScreen((x) => lines(x)[1]?.startsWith('/█'), 'the filter prompt');
    for (const ch of 'bra') tmux.type(S, ch);
    let s = await waitScreen((x) => lines(x)[1]?.startsWith('/bra█') && !rowOf(x, 'alpha') && !!rowOf(x, 'bravo'), 'only bravo after /bra');
    checkFrame(s);
    tmux.keys(S, 'Enter');
    s = await waitScreen((x) => lines(x)[1]?.trim() === 'cluster (filter: bra)', 'the filter kept after Enter');
    check(!rowOf(s, 'alpha') && /^> bravo +up /m.test(s), 'bravo alone and selected', s);
    checkFrame(s);
    // Enter drills into the filtered selection: bravo, not alpha.
    tmux.keys(S, 'Enter');
    s = await waitScreen((x) => lines(x)[1]?.trim() === 'node bravo', 'Enter on the filtered row opens bravo');
    tmux.keys(S, 'Escape');
    await waitScreen((x) => lines(x)[1]?.trim() === 'cluster (filter: bra)', 'back to the filtered cluster view');
    tmux.keys(S, 'Escape');
    s = await waitScreen((x) => lines(x)[1]?.trim() === 'cluster' && !!rowOf(x, 'alpha') && !!rowOf(x, 'bravo'), 'Esc clears the filter');
    checkFrame(s);
  }, 30_000);

  test('? shows the help generated from the keymap; ? again closes it', async () => {
    await home();
    tmux.keys(S, '?');
    const s = await waitScreen((x) => x.includes('KEYS') && x.includes('COMMANDS'), 'the help screen');
    checkFrame(s);
    check(/^ {2}q\/<ctrl\+c> +quit$/m.test(s), 'help lists q/<ctrl+c> quit', s);
    check(/^ {2}:node :nd NODE_NAME +node view$/m.test(s), 'help lists :node', s);
    tmux.keys(S, '?');
    await waitScreen((x) => !x.includes('COMMANDS') && !!rowOf(x, 'alpha'), 'help closed');
  }, 30_000);

  test(': command mode: `node bravo` opens the node view, even when the keys arrive in one chunk', async () => {
    await home();
    // One send-keys call: ":node bravo\r" reaches the TUI as a single read, as fast typing over SSH or a paste would.
    tmux.keys(S, ':node bravo', 'Enter');
    const s = await waitScreen((x) => lines(x)[1]?.trim() === 'node bravo' && x.includes('SIMULATED'), 'node view of bravo');
    checkFrame(s);
    check(/GPUs 1 · .*source sim · SIMULATED/.test(s), 'one GPU on bravo', s);
    check(/^ {3}0 SIM H100 80GB\S* +\[[| ]+\] +\d+% .*\/79\.6G .*\/700W/m.test(s), 'the H100 row (util, 80 GB, 700 W)', s);
    check(lines(s)[0].endsWith('cluster › bravo'), 'breadcrumb', s);
    tmux.keys(S, 'Escape');
    await waitScreen((x) => lines(x)[1]?.trim() === 'cluster', 'Esc returns to the cluster view');
    // An unknown command shows an error and the next key clears it.
    tmux.keys(S, ':');
    await waitScreen((x) => lines(x)[1]?.startsWith(':█'), 'the command prompt');
    for (const ch of 'bogus') tmux.type(S, ch);
    await waitScreen((x) => lines(x)[1]?.startsWith(':bogus█'), 'typed command');
    tmux.keys(S, 'Enter');
    const err = await waitScreen((x) => lines(x)[1]?.startsWith('unknown command "bogus"'), 'the error message');
    checkFrame(err);
    tmux.keys(S, 'j');
    await waitScreen((x) => lines(x)[1]?.trim() === 'cluster', 'the next key clears the message');
    tmux.keys(S, 'k');
  }, 30_000);

  test('SIGKILL of an agent marks it unreachable; restarting it on the same port and data dir brings it back', async () => {
    await home();
    const oldToken = alpha.token;
    await alpha.stop('SIGKILL');
    let restarted = false;
    try {
      let s = await waitScreen(
        (x) => /^[> ] alpha +UNREACHABLE/m.test(x) && x.includes('2 nodes · 1 up · 1 down'),
        'alpha UNREACHABLE and "1 down" in the header',
        15_000,
      );
      checkFrame(s);
      check(/^[> ] bravo +up /m.test(s), 'bravo stays up', s);
      check(/alpha +UNREACHABLE \d+s +(connection lost|\S+: connection refused)/.test(s), 'the row says why (connection lost, then refused) and when it retries', s);

      alpha = await spawnAgent(alphaArgs);
      restarted = true;
      expect(alpha.token, 'the admin token persists in the data dir').toBe(oldToken);
      // The client backs off up to 15 s between tries; allow two full periods.
      s = await waitScreen((x) => /^[> ] alpha +up /m.test(x) && x.includes('2 nodes · 2 up · 3 GPUs · 2 SIM'), 'alpha up again', 32_000);
      checkFrame(s);
      check(/alpha +up .* SIM \S+ \S+ /.test(s), 'alpha shows its GPUs again', s);
    } finally {
      if (!restarted) alpha = await spawnAgent(alphaArgs); // the tests after this one need it
    }
  }, 60_000);

  // With the alternate screen on, nothing a frame does can reach the pane history; this guards against losing it.
  test('after all the redraws: still one frame at the top, nothing scrolled into the pane history', async () => {
    const s = screen();
    checkFrame(s);
    expect(tmux.info(S, '#{history_size}'), `pane history grew\n${s}`).toBe('0');
  });

  test('q quits: the process exits with status 0, leaves the alternate screen and the shell prompt is clean', async () => {
    tmux.keys(S, 'q');
    const s = await waitScreen((x) => /\[tui exited \d+\]/.test(x), 'the TUI process to exit');
    check(/^\[tui exited 0\]$/m.test(s), 'exit status 0', s);
    // Back on the normal screen, which holds nothing of the TUI: its frames went to the alternate screen.
    expect(tmux.info(S, '#{alternate_on}')).toBe('0');
    check(!s.includes('fleetml ·') && lines(s).filter((l) => l.trim()).length === 1, 'no TUI frame left on the normal screen', s);
    tmux.run('kill-session', '-t', S);
  }, 30_000);

  test('NO_COLOR=1: no colour escapes on the screen (selection still visible by inverse video and ">")', async () => {
    const N = 'nocolor';
    tmux.start(N, tuiCommand(inventory, 'NO_COLOR=1'));
    try {
      const s = await waitFor(
        () => tmux.screen(N),
        (x) => /^> alpha +up /m.test(x) && /^ {2}bravo +up /m.test(x) && x.includes('2 up · 3 GPUs'),
        'both nodes up without colours',
        20_000,
      );
      checkFrame(s);
      // Drill in too, so the SIM/accent/dim tones of the node view are covered.
      const views = [tmux.screen(N, true)];
      tmux.keys(N, 'Enter');
      await waitFor(() => tmux.screen(N), (x) => x.includes('SIMULATED') && x.includes('100477'), 'node view without colours');
      views.push(tmux.screen(N, true));
      for (const e of views) {
        check(e.includes('\x1b['), 'capture-pane -e shows attributes (bold/inverse) at all', e);
        const bad = colourEscapes(e);
        check(bad.length === 0, `colour escapes with NO_COLOR: ${bad.slice(0, 5).join(' ')}`, e);
        check(/\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m(?:\x1b\[[0-9;]*m)*> /.test(e), 'the selected row is in inverse video', e);
      }
      tmux.keys(N, 'q');
      await waitFor(() => tmux.screen(N), (x) => x.includes('[tui exited 0]'), 'the NO_COLOR TUI to exit with status 0');
    } finally {
      try { tmux.run('kill-session', '-t', N); } catch { /* gone */ }
    }
  }, 40_000);
});
