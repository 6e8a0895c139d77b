// Driving the real `fleetml tui` in a real terminal for the e2e tests (test/e2e/): a private tmux server, keys in
// with send-keys, the screen back with capture-pane, and waits that poll the screen and fail with the last one.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The repository root and the built CLI (npm run build). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist', 'bin', 'fleetml.js');

/** tmux answers `tmux -V` (the e2e tests skip without it; CI installs the Debian package). */
export const HAS_TMUX = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A tmux server of our own (private socket, no user config): parallel runs and the user's tmux never clash.
 * Sessions are cols×rows; no status line, and a pane whose command dies keeps its last screen.
 */
export class Tmux {
  readonly socket: string;
  readonly conf: string;

  /** `dir`: a private folder (the test's temp dir) for the socket and the config. */
  constructor(dir: string, readonly cols: number, readonly rows: number) {
    this.socket = join(dir, 'tmux.sock');
    this.conf = join(dir, 'tmux.conf');
    writeFileSync(this.conf, 'set -g status off\nset -g remain-on-exit on\nset -g history-limit 2000\nset -s exit-empty off\n');
  }

  run(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', this.conf, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Start `command` (run by /bin/sh) in a detached cols×rows session. */
  start(session: string, command: string): void {
    this.run('new-session', '-d', '-s', session, '-x', String(this.cols), '-y', String(this.rows), command);
  }

  /** The screen as text (`escapes`: with SGR colour/attribute sequences, capture-pane -e). */
  screen(session: string, escapes = false): string {
    return this.run('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);
  }

  /** A pane format variable (#{pane_width}, #{alternate_on}, …). */
  info(session: string, format: string): string {
    return this.run('display-message', '-p', '-t', session, format).trim();
  }

  /** Named keys (Enter, Tab, Escape, C-d, …); plain text goes in too, but "Enter"-like words would be looked up. */
  keys(session: string, ...keys: string[]): void {
    this.run('send-keys', '-t', session, ...keys);
  }

  /** Type literal text (no key-name lookup). */
  type(session: string, text: string): void {
    this.run('send-keys', '-t', session, '-l', text);
  }

  kill(): void {
    try { this.run('kill-server'); } catch { /* already gone */ }
  }
}

/**
 * The command line of a TUI session on `inventory`: the environment is pinned (the caller's CI/NO_COLOR/FORCE_COLOR
 * do not leak in), and the shell prints the TUI's exit status once it is gone, then stays (tmux does not reliably
 * report a dead pane's status).
 */
export const tuiCommand = (inventory: string, env = '') =>
  `cd '${ROOT}' && env -u CI -u NO_COLOR -u FORCE_COLOR ${env} '${process.execPath}' '${CLI}' tui --inventory '${inventory}' --title e2e; echo "[tui exited $?]"; exec sleep 600`;

/** Poll `probe` every 200 ms until `ok` holds; on timeout fail with `what` and the last screen. */
export async function waitFor(probe: () => string, ok: (screen: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try { last = probe(); } catch (e) { last = `<capture failed: ${(e as Error).message}>`; }
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n--- last screen ---\n${last}\n-------------------`);
    await sleep(200);
  }
}

/** Screen lines without the trailing newline of capture-pane. */
export const lines = (screen: string) => screen.replace(/\n$/, '').split('\n');

/** Fail with the screen when `cond` is false. */
export function check(cond: boolean, what: string, screen: string): void {
  expect(cond, `${what}\n--- screen ---\n${screen}\n--------------`).toBe(true);
}

/**
 * Frame invariants of a cols×rows pane: at most `rows` lines, none wider than `cols`, one header on line 1, the footer
 * on line rows-1. Opt-in extras: `footerOnce`, exactly one "<?> help" footer (no stale frame stacked); `lastLineEmpty`,
 * line `rows` stays empty (the frame is rows-1 lines: a frame as tall as the terminal makes Ink clear the screen on
 * every redraw, which flickers).
 */
export function checkFrame(screen: string, cols: number, rows: number, opts: { footerOnce?: boolean; lastLineEmpty?: boolean } = {}): void {
  const ls = lines(screen);
  check(ls.length <= rows, `screen has ${ls.length} lines, more than ${rows}`, screen);
  check(ls.every((l) => [...l].length <= cols), `a line is wider than ${cols} columns`, screen);
  check(ls[0].startsWith('fleetml · '), 'the header is not on the first line', screen);
  check(ls.filter((l) => l.startsWith('fleetml · ')).length === 1, 'the header shows more than once (stale frame left on screen)', screen);
  if (opts.footerOnce) check(ls.filter((l) => l.includes('<?> help')).length === 1, 'the footer shows more than once (stale frame left on screen)', screen);
  check(ls[rows - 2]?.startsWith('<:> command'), `the footer is not on line ${rows - 1}`, screen);
  if (opts.lastLineEmpty) check((ls[rows - 1] ?? '').trim() === '', `line ${rows} is not empty`, screen);
}
