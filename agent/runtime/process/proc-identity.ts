import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

// Who is behind a pid, and is a process group still there.
//
// Why a start time: a pid is only an identity while the process lives; after it dies the kernel may hand the
// same number to an unrelated process (a node reboot makes that likely). A handle therefore stores the pid AND
// its start time; a live pid with another start time is someone else's process and is never signalled.
// Invariant used below: Linux (and macOS) never allocate a pid that is still in use as a process-group id, so
// while any member of our group lives, the leader's pid cannot belong to a stranger.

/** What /proc (or ps) says about a live pid. */
export interface ProcIdentity {
  /** Linux: field 22 of /proc/<pid>/stat (clock ticks since boot); macOS: `ps -o lstart`. */
  startTime: string;
  /** Exited but not yet reaped by its parent. */
  zombie: boolean;
  pgid: number;
  sid: number;
}

/** Parse the text of /proc/<pid>/stat (the command name may contain spaces and parentheses). */
export function parseProcStat(text: string): ProcIdentity | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // Fields after "(comm) ": index 0 is field 3 (state), so field N is rest[N - 3].
  const rest = text.slice(close + 2).trim().split(/\s+/);
  if (rest.length < 20) return null;
  const pgid = Number(rest[2]);
  const sid = Number(rest[3]);
  if (!Number.isInteger(pgid) || !Number.isInteger(sid) || !/^\d+$/.test(rest[19])) return null;
  return { startTime: rest[19], zombie: rest[0] === 'Z' || rest[0] === 'X', pgid, sid };
}

/** Identity of a live pid, or null when no such process exists. Synchronous: /proc reads take microseconds, and
 * start() must read it before the event loop can reap a process that exits at once. */
export function identify(pid: number): ProcIdentity | null {
  if (process.platform === 'linux') {
    try {
      return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      return null;
    }
  }
  // macOS (development machines): no /proc. `ps` exits 1 for an unknown pid.
  try {
    const out = execFileSync('ps', ['-o', 'stat=', '-o', 'pgid=', '-o', 'sess=', '-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000,
    }).trim();
    const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(.+)$/.exec(out);
    if (!m) return null;
    return { startTime: m[4].trim(), zombie: m[1].startsWith('Z'), pgid: Number(m[2]), sid: Number.parseInt(m[3], 16) || 0 };
  } catch {
    return null;
  }
}

/** Whether any process (zombies included) is in process group `pgid`. EPERM means it exists but is not ours. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a LIVE (non-zombie) process is in group `pgid`. Zombies count for kill(-pgid, 0), and orphaned ones
 * linger until init reaps them — some container inits reap only every few seconds — so on Linux a group that
 * exists is confirmed by a scan of /proc (a few ms; only done while a task is being stopped or has lost its
 * wrapper). Elsewhere: kill(-pgid, 0). */
export function groupAlive(pgid: number): boolean {
  if (!groupExists(pgid)) return false;
  if (process.platform !== 'linux') return true;
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const p of pids) {
    if (p.charCodeAt(0) > 57 || p.charCodeAt(0) < 48) continue;
    try {
      const id = parseProcStat(readFileSync(`/proc/${p}/stat`, 'latin1'));
      if (id && id.pgid === pgid && !id.zombie) return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

/** Whether the wrapper `pid` has exec'd the command yet: its child's argv differs from its own (a forked copy of
 * the wrapper has the same argv until exec). Null where that cannot be told (not Linux, no children file). A
 * SIGTERM sent before that moment is swallowed by the wrapper's no-op trap, so stop() waits for it. */
export function commandStarted(pid: number): boolean | null {
  if (process.platform !== 'linux') return null;
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean);
    if (kids.length === 0) return false;
    return readFileSync(`/proc/${kids[0]}/cmdline`, 'latin1') !== readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return null;
  }
}

/** Send a signal to a whole process group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Where a task's process stands, judged from its pid, pgid and recorded start time. */
export interface Liveness {
  /** The task (its wrapper, or members of its group left behind) still runs. */
  alive: boolean;
  /** Its group may be signalled: the pid is still ours (live or zombie), or only our group is left. False for a
   * pid reused by a stranger. */
  ours: boolean;
}

/** Judge a handle's process: see the invariant at the top of this file. */
export function liveness(pid: number, pgid: number, startTime: string): Liveness {
  const id = identify(pid);
  if (id) {
    if (id.startTime !== startTime) return { alive: false, ours: false }; // pid reuse: our group is gone too
    // A zombie wrapper has ended (its exit record decides), unless it was killed alone and the command runs on.
    return { alive: !id.zombie || groupAlive(pgid), ours: true };
  }
  // The wrapper is gone. Its group id cannot have been reused while members remain, so a live group is ours
  // (e.g. the wrapper was killed alone and the command runs on).
  if (!groupExists(pgid)) return { alive: false, ours: false };
  return { alive: groupAlive(pgid), ours: true };
}
