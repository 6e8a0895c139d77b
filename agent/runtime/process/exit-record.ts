import { constants } from 'node:os';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskExit } from '../driver.js';

// The exit code of a task must survive the agent: the process is not the agent's child after a restart, so
// nobody could wait(2) for it. Each task runs under a tiny /bin/sh wrapper that outlives the command, then
// records its status in `<dir>/exit` (written to exit.tmp, then renamed: readers see all of it or nothing).
//
//   sh -c WRAPPER fleetml-task <dir> <command…>
//     trap : TERM INT HUP     the wrapper survives the group signal of stop() so it can record the status.
//                             A no-op HANDLER, not `trap "" …`: ignored signals would be inherited by the command
//                             and it could never be stopped with SIGTERM; handled ones reset to default on exec.
//     ( exec "$@" )           the command in a subshell replaced by exec: always the program (never a shell
//                             builtin such as `exit`), same process group and session, default signal dispositions.
//                             sh waits for it in the foreground, so a trapped signal only runs `:` afterwards.
//     c=$?                    the command's status: its exit code, or 128+N when signal N killed it (shell rule).
//     printf … > exit.tmp && command -p mv -f exit.tmp exit   (`command -p`: works whatever PATH the job set)
//
// The wrapper does not forward signals itself: stop() signals the whole process group, so the command (and
// anything it started) receives SIGTERM directly and may handle it; the status recorded is then its own (143
// for a default death, 7 for `trap "exit 7" TERM`). SIGKILL of the group kills the wrapper too, and a SIGTERM
// that arrives before the wrapper has set its trap (a cancel right after start) kills it before the command ran:
// so stop() writes the signal's name to `<dir>/signalled` BEFORE it sends it, and "no exit file + group gone"
// reads as death by that signal (137 / SIGKILL, 143 / SIGTERM). Without the marker it is an error: the group was
// killed by someone else, or the node restarted.

/** The wrapper script run by /bin/sh -c (see above). $0 is "fleetml-task", $1 the task dir. */
export const WRAPPER_SCRIPT = 'd=$1; shift; trap : TERM INT HUP; ( exec "$@" ); c=$?; '
  + 'printf \'%s\\n\' "$c" > "$d/exit.tmp" && command -p mv -f "$d/exit.tmp" "$d/exit"';
/** $0 of the wrapper: shows in `ps` and in the shell's own messages ("fleetml-task: 1: exec: x: not found"). */
export const WRAPPER_NAME = 'fleetml-task';

/** File names inside the task dir. */
export const FILES = { exit: 'exit', exitTmp: 'exit.tmp', signalled: 'signalled', stdout: 'stdout.log', stderr: 'stderr.log', offsets: 'log-offsets.json' } as const;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const SIGNAL_NUMBERS = constants.signals as Record<string, number>;

/** Decode the content of an exit file: a status ("143") or "signal:NAME". A status of 128+N for a known signal N
 * also names the signal (the shell cannot tell `exit 143` from death by SIGTERM; neither can we). */
export function parseExitRecord(text: string): TaskExit | null {
  const t = text.trim();
  const sig = /^signal:(SIG[A-Z0-9]+)$/.exec(t);
  if (sig) {
    const n = SIGNAL_NUMBERS[sig[1]];
    return { exitCode: n === undefined ? null : 128 + n, signal: sig[1], oomKilled: false, error: null };
  }
  if (!/^\d{1,3}$/.test(t)) return null;
  const code = Number(t);
  const signal = code > 128 ? SIGNAL_NAMES.get(code - 128) ?? null : null;
  return { exitCode: code, signal, oomKilled: false, error: null };
}

/** The recorded exit of the task in `dir`, or null when none (yet). A malformed file reads as a driver error. */
export function readExitRecord(dir: string): TaskExit | null {
  let text: string;
  try {
    text = readFileSync(join(dir, FILES.exit), 'utf8');
  } catch {
    return null;
  }
  return parseExitRecord(text) ?? { exitCode: null, signal: null, oomKilled: false, error: `unreadable exit record ${JSON.stringify(text.slice(0, 40))}` };
}

/** The last signal stop() sent to the task in `dir` (possibly before an agent restart), or null. */
export function signalledWith(dir: string): string | null {
  try {
    const name = readFileSync(join(dir, FILES.signalled), 'utf8').trim();
    return /^SIG[A-Z0-9]+$/.test(name) ? name : null;
  } catch {
    return null;
  }
}

/** Persist which signal stop() is about to send; must happen before the signal is sent. */
export function markSignalled(dir: string, signal: NodeJS.Signals): void {
  try {
    writeFileSync(join(dir, FILES.signalled), `${signal}\n`);
  } catch {
    // The dir is gone (removed by the manager): nothing will read the marker either.
  }
}

/** Remove exit markers left in a reused dir, so they are not mistaken for this start's result. */
export function clearExitRecords(dir: string): string[] {
  const removed: string[] = [];
  for (const f of [FILES.exit, FILES.exitTmp, FILES.signalled]) {
    if (!existsSync(join(dir, f))) continue;
    rmSync(join(dir, f), { force: true });
    removed.push(f);
  }
  return removed;
}

/** The exit of a task whose process group is gone without an exit record. */
export function exitWithoutRecord(dir: string, whileAgentDown: boolean): TaskExit {
  const sig = signalledWith(dir);
  const n = sig ? SIGNAL_NUMBERS[sig] : undefined;
  if (sig && n !== undefined) return { exitCode: 128 + n, signal: sig, oomKilled: false, error: null };
  return {
    exitCode: null, signal: null, oomKilled: false,
    error: whileAgentDown
      ? 'process vanished while the agent was down (no exit record: the node restarted or the process group was killed)'
      : 'process ended without an exit record (its wrapper was killed from outside fleetml)',
  };
}
