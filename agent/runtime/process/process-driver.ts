import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../log.js';
import type { JobSpec } from '../../../shared/protocol/jobs.js';
import { logDetach, type Driver, type DriverCapabilities, type LogDetach, type LogSink, type TaskConfig, type TaskExit, type TaskHandle } from '../driver.js';
import { FILES, WRAPPER_NAME, WRAPPER_SCRIPT, clearExitRecords, exitWithoutRecord, markSignalled, readExitRecord } from './exit-record.js';
import { commandStarted, groupAlive, identify, liveness, signalGroup } from './proc-identity.js';
import { LogTailer, TAILER_DEFAULTS } from './log-tailer.js';
import { resolveCommand } from './resolve-command.js';
import { canSwitchUsers, type HostUser } from '../users.js';

// The process driver: a job's command runs as a plain host process, in its own session and process group,
// detached from the agent so that it survives agent restarts (the unit has KillMode=process).
//
//   start   mkdir dir; open stdout.log / stderr.log (append); spawn `sh -c WRAPPER fleetml-task <dir> cmd…`
//           detached (setsid: pgid = sid = wrapper pid), stdin /dev/null, cwd = spec.workdir ?? dir; with a job
//           user (jobs.process_user), cmd… is `setpriv --reuid … -- cmd…` and cwd/HOME default to its home;
//           handle.state = { pid, pgid, startTime, dir } (startTime guards against pid reuse)
//   running the wrapper waits for the command and records its status in <dir>/exit (exit-record.ts)
//   wait    push while we are the parent (child 'exit' event), else a poll (pollMs) — never overlapping —
//           until <dir>/exit exists or the group is gone (no record: the signal we sent, else an error)
//   stop    write <dir>/signalled, SIGTERM to the group; after grace the same with SIGKILL; idempotent
//   recover live and ours → true; exit record or signal marker → true (wait returns it);
//           gone without a trace → false (the job becomes lost; wait() would report "vanished")
//   destroy SIGKILL the group if it still runs; stop our timers; log files and markers stay (the manager
//           owns the dir)
// Invariants: a pid is signalled only while it is provably ours (proc-identity.ts); nothing here starts a
// process except start().

/** Options of ProcessDriver; defaults in PROCESS_DRIVER_DEFAULTS. */
export interface ProcessDriverOptions {
  logger: Logger;
  /** Milliseconds between looks at a task that is not our child (recovered after a restart). Default 200. */
  pollMs?: number;
  /** Milliseconds between looks at the log files. Default 150. */
  logPollMs?: number;
  /** Debounce of <dir>/log-offsets.json in milliseconds; 0 (default): written after every batch of lines. */
  offsetPersistMs?: number;
  /** The POSIX shell that runs the wrapper. Default /bin/sh. */
  shell?: string;
  /** The host user commands run as (jobs.process_user). Unset: the agent's own user — then a job can read and
   * write everything the agent can, its data dir included (docs/security.md). */
  user?: HostUser;
  /** Size above which stdout.log / stderr.log are truncated once read to the end (jobs.log_max_bytes): the task
   * writes them directly, so without this a chatty job fills the agent's disk. Default 10 MiB. */
  maxLogFileBytes?: number;
  /** setpriv(1), which drops to `user` and clears inherited capabilities before the command runs. Default
   * /usr/bin/setpriv (util-linux). */
  setpriv?: string;
}

/** Defaults of ProcessDriverOptions. */
export const PROCESS_DRIVER_DEFAULTS = { pollMs: 200, logPollMs: TAILER_DEFAULTS.pollMs, offsetPersistMs: TAILER_DEFAULTS.persistMs, shell: '/bin/sh', setpriv: '/usr/bin/setpriv', maxLogFileBytes: 10 * 1024 * 1024 } as const;

/** The argv prefix that runs a command as `u`: the wrapper stays the agent's (it writes the exit record into the
 * agent-private task dir), only the command drops privileges. setpriv sets the real, effective and saved ids and
 * the groups, and empties the inheritable and ambient capability sets, so a non-root agent that may switch users
 * (CAP_SETUID/CAP_SETGID granted by its unit) passes none of that on; --no-new-privs keeps setuid binaries inert. */
export function runAsArgs(setpriv: string, u: HostUser | null): string[] {
  const extra = u ? u.gids.filter((g) => g !== u.gid) : [];
  const ids = u ? [`--reuid=${u.uid}`, `--regid=${u.gid}`, extra.length > 0 ? `--groups=${extra.join(',')}` : '--clear-groups'] : [];
  return [setpriv, ...ids, '--inh-caps=-all', '--ambient-caps=-all', '--no-new-privs', '--'];
}

/** env(1), which sets the deferred variables after the privilege drop. */
const ENV_BIN = '/usr/bin/env';
/** Variables glibc drops for privileged programs (its UNSECURE_ENVVARS, plus every LD_*), and those a POSIX shell
 * reads at start: they may load code into, or change the parsing of, the agent-privileged wrapper and setpriv. */
const UNSAFE_FOR_PRIVILEGED = new Set(['GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'MALLOC_TRACE',
  'NIS_PATH', 'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS', 'TMPDIR', 'TZDIR', 'ENV', 'BASH_ENV', 'IFS', 'PS4', 'SHELLOPTS', 'CDPATH']);

/** Split a job's environment into what the privileged wrapper may see and `K=V` arguments for env(1) to set
 * after the drop. (Deferred values appear in env's argv for the instant before it execs the command: they are
 * loader and locale paths, not secrets; a job keeping a secret in LD_* should not.) */
export function splitPrivilegedEnv(env: Record<string, string>): { safe: Record<string, string>; deferred: string[] } {
  const safe: Record<string, string> = {};
  const deferred: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('LD_') || UNSAFE_FOR_PRIVILEGED.has(k)) deferred.push(`${k}=${v}`); else safe[k] = v;
  }
  return { safe, deferred };
}

/** handle.state of a process task: the codec is the type. */
export const ProcessHandleState = z.object({
  pid: z.number().int().min(2),
  pgid: z.number().int().min(2),
  /** Linux: field 22 of /proc/<pid>/stat; macOS: ps lstart. */
  startTime: z.string(),
  /** Absolute task dir: stdout.log, stderr.log, exit, signalled, log-offsets.json. */
  dir: z.string().min(1),
});
export type ProcessHandleState = z.infer<typeof ProcessHandleState>;

/** Variables passed from the agent's own environment; everything else comes from spec.env and cfg.env. */
const BASE_ENV_KEYS = ['PATH', 'HOME', 'LANG'] as const;
/** How long stop() waits for a just-started wrapper to exec the command before it sends SIGTERM anyway. */
const EXEC_WAIT_MS = 2000;
/** How often stop() looks whether the group is gone during the grace period. */
const STOP_POLL_MS = 50;
/** How long stop() waits for the group to vanish after SIGKILL before giving up. */
const KILL_WAIT_MS = 5000;

interface Waiter { promise: Promise<TaskExit>; kick: () => void; timer: NodeJS.Timeout | null }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const key = (s: ProcessHandleState) => `${s.pid}:${s.startTime}`;

/** Runs jobs as plain host processes that survive agent restarts. */
export class ProcessDriver implements Driver {
  readonly name = 'process' as const;
  readonly capabilities: DriverCapabilities = { gpus: true, mounts: false, network: false, oomDetection: false, survivesAgentRestart: true, externalQueue: false };

  private readonly log: Logger;
  private readonly opts: Required<Omit<ProcessDriverOptions, 'logger' | 'user'>>;
  private readonly user: HostUser | null;
  private readonly canDrop: boolean;
  /** Wrappers this instance spawned (push: their 'exit' event); keyed by pid:startTime. */
  private readonly children = new Map<string, ChildProcess>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly stops = new Map<string, Promise<void>>();
  private readonly tailers = new Set<LogTailer>();
  /** Handles found gone without a trace by recover(): wait() says the process vanished while the agent was down. */
  private readonly vanished = new Set<string>();
  private disposed = false;

  constructor(options: ProcessDriverOptions) {
    this.log = options.logger;
    this.opts = {
      pollMs: options.pollMs ?? PROCESS_DRIVER_DEFAULTS.pollMs,
      logPollMs: options.logPollMs ?? PROCESS_DRIVER_DEFAULTS.logPollMs,
      offsetPersistMs: options.offsetPersistMs ?? PROCESS_DRIVER_DEFAULTS.offsetPersistMs,
      shell: options.shell ?? PROCESS_DRIVER_DEFAULTS.shell,
      setpriv: options.setpriv ?? PROCESS_DRIVER_DEFAULTS.setpriv,
      maxLogFileBytes: options.maxLogFileBytes ?? PROCESS_DRIVER_DEFAULTS.maxLogFileBytes,
    };
    this.user = options.user ?? null;
    // Commands always go through setpriv where it exists (Linux): it switches to the job user and, even when it
    // does not switch (jobs.process_user: null), empties the inheritable and ambient capability sets, so a job never
    // inherits the capabilities the agent holds to manage jobs.
    this.canDrop = process.platform === 'linux' && existsSync(this.opts.setpriv);
    for (const k of ['pollMs', 'logPollMs'] as const) {
      if (!(this.opts[k] > 0)) throw new Error(`ProcessDriver: ${k} must be > 0 (got ${this.opts[k]})`);
    }
    if (!(this.opts.offsetPersistMs >= 0)) throw new Error(`ProcessDriver: offsetPersistMs must be >= 0 (got ${this.opts.offsetPersistMs})`);
    if (!isAbsolute(this.opts.shell)) throw new Error(`ProcessDriver: shell must be an absolute path (got ${this.opts.shell})`);
  }

  /** Available on Linux and macOS with a POSIX shell. */
  async fingerprint(): Promise<{ available: boolean; reason: string | null }> {
    if (process.platform !== 'linux' && process.platform !== 'darwin') {
      return { available: false, reason: `the process driver needs Linux or macOS (this node runs ${process.platform})` };
    }
    if (!(await resolveCommand(this.opts.shell, undefined, undefined))) {
      return { available: false, reason: `${this.opts.shell} is missing or not executable` };
    }
    const u = this.user;
    if (u && u.uid !== process.getuid?.()) {
      const who = `${u.name ?? 'uid'} (${u.uid})`;
      if (!canSwitchUsers()) {
        return { available: false, reason: `process jobs run as ${who} (jobs.process_user) but the agent (uid ${process.getuid?.()}) cannot switch users: `
          + 'run it as root or grant it CAP_SETUID, CAP_SETGID and CAP_KILL (see docs/security.md), or set jobs.process_user: null to run them as the agent\'s own user' };
      }
      if (!(await resolveCommand(this.opts.setpriv, undefined, undefined))) {
        return { available: false, reason: `process jobs run as ${who} but ${this.opts.setpriv} is missing (Debian: apt-get install util-linux)` };
      }
    }
    return { available: true, reason: null };
  }

  /** Refuses mounts, a command[0] that cannot be found, and a missing or relative workdir. */
  async validate(spec: JobSpec): Promise<string | null> {
    if (spec.mounts.length > 0) {
      return `the process driver does not support mounts (${spec.mounts.length} given): a process sees the host file system directly; remove "mounts" or use the docker driver`;
    }
    if (spec.network) return 'the process driver does not support "network" (a process uses the host network)';
    if (spec.workdir !== undefined) {
      if (!isAbsolute(spec.workdir)) return `workdir must be an absolute path (got ${spec.workdir})`;
      const st = await stat(spec.workdir).catch(() => null);
      if (!st) return `workdir does not exist: ${spec.workdir}`;
      if (!st.isDirectory()) return `workdir is not a directory: ${spec.workdir}`;
    }
    const cmd = spec.command[0] ?? '';
    if (cmd === '') return 'command is empty';
    const pathVar = spec.env.PATH ?? process.env.PATH;
    if (!(await resolveCommand(cmd, pathVar, spec.workdir))) {
      const hint = cmd.includes('/') ? (isAbsolute(cmd) || spec.workdir ? ' (no executable file there)' : ' (a relative path needs a workdir)') : ' (not on PATH)';
      return `command not found: ${cmd}${hint}`;
    }
    return null;
  }

  /** Spawn the task under the exit-recording wrapper; resolves once the process exists. */
  async findStarted(_jobId: string, _attempt: number, dir: string): Promise<TaskHandle | null | 'unknown'> {
    // start() creates stdout.log right before it spawns: without it the process was never started.
    return existsSync(join(dir, FILES.stdout)) ? 'unknown' : null;
  }

  async start(cfg: TaskConfig): Promise<TaskHandle> {
    if (this.disposed) throw new Error('process driver disposed');
    const reason = await this.validate(cfg.spec);
    if (reason) throw new Error(reason);
    const dir = resolve(cfg.dir);
    mkdirSync(dir, { recursive: true });
    const stale = clearExitRecords(dir);
    if (stale.length > 0) this.log.warn({ dir, files: stale, job: cfg.jobId }, 'removed exit records left in the task dir');

    const env: Record<string, string> = {};
    for (const k of BASE_ENV_KEYS) if (process.env[k] !== undefined) env[k] = process.env[k] as string;
    // Another user: its own home (when it has one it can use), never the agent's, as HOME and default cwd.
    const other = this.user && this.user.uid !== process.getuid?.() ? this.user : null;
    let cwd = cfg.spec.workdir ?? dir;
    if (other) {
      const home = other.home && (await stat(other.home).catch(() => null))?.isDirectory() ? other.home : '/';
      env.HOME = home;
      if (cfg.spec.workdir === undefined) cwd = home;
    }
    Object.assign(env, cfg.spec.env, cfg.env);
    // The wrapper and setpriv run as the agent, with the agent's capabilities (CAP_SETUID… under systemd): the
    // job's variables that steer the dynamic loader or the shell (LD_PRELOAD and friends) must not reach them, or a
    // job would run its code as the agent. They are set again after the drop, by env(1) running as the job user.
    if (other && !this.canDrop) throw new Error(`process jobs run as ${other.name ?? other.uid} but ${this.opts.setpriv} is missing: refusing to run the job as the agent`);
    const { safe, deferred } = splitPrivilegedEnv(env);
    const drop = this.canDrop ? runAsArgs(this.opts.setpriv, other) : [];
    const argv = [...drop, ...(deferred.length > 0 && drop.length > 0 ? [ENV_BIN, ...deferred] : []), ...cfg.spec.command];
    const spawnEnv = drop.length > 0 ? safe : env;

    // The files are opened here and handed over as fds: the process writes to them directly and does not
    // depend on the agent (no pipes that would break, or block, when the agent goes away).
    const out = openSync(join(dir, FILES.stdout), 'a');
    let child: ChildProcess;
    try {
      const err = openSync(join(dir, FILES.stderr), 'a');
      try {
        child = spawn(this.opts.shell, ['-c', WRAPPER_SCRIPT, WRAPPER_NAME, dir, ...argv], {
          cwd, env: spawnEnv, detached: true, stdio: ['ignore', out, err],
        });
      } finally {
        closeSync(err);
      }
    } finally {
      closeSync(out);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const e = await new Promise<Error>((r) => child.once('error', r));
      throw new Error(`could not start the process: ${e.message}`);
    }
    // Read the start time now, synchronously: the event loop cannot reap the wrapper before this line.
    const startTime = identify(pid)?.startTime;
    if (!startTime) {
      // Without it the handle could not tell our process from a stranger later: do not leave it running unmanaged.
      signalGroup(pid, 'SIGKILL');
      throw new Error(`could not read the start time of process ${pid}; killed it`);
    }
    const state: ProcessHandleState = { pid, pgid: pid, startTime, dir };
    const k = key(state);
    this.children.set(k, child);
    child.on('error', (e) => this.log.warn({ err: e, pid }, 'process wrapper error'));
    child.once('exit', () => {
      this.children.delete(k);
      this.waiters.get(k)?.kick();
    });
    child.unref();
    this.log.info({ job: cfg.jobId, attempt: cfg.attempt, pid, dir }, 'process started');
    return { driver: 'process', jobId: cfg.jobId, attempt: cfg.attempt, state };
  }

  /** Resolves with the recorded exit once the task has ended. Pending waits stay pending after dispose(). */
  wait(handle: TaskHandle): Promise<TaskExit> {
    const st = this.decode(handle);
    if (!st) return Promise.resolve(this.invalid(handle));
    const k = key(st);
    const existing = this.waiters.get(k);
    if (existing) return existing.promise;
    let resolveExit!: (e: TaskExit) => void;
    const w: Waiter = { promise: new Promise((r) => { resolveExit = r; }), kick: () => {}, timer: null };
    // One look; reschedules itself. kick() runs a look now (the child 'exit' event) instead of at the next poll.
    const look = () => {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
      if (this.disposed) return;
      const exit = this.probe(st);
      if (exit) {
        this.waiters.delete(k);
        w.kick = () => {};
        resolveExit(exit);
        return;
      }
      w.timer = setTimeout(look, this.opts.pollMs);
    };
    w.kick = look;
    this.waiters.set(k, w);
    look();
    return w.promise;
  }

  /** SIGTERM to the group, SIGKILL after graceS; resolves when the group is gone. Idempotent. */
  stop(handle: TaskHandle, graceS: number): Promise<void> {
    const st = this.decode(handle);
    if (!st) return Promise.resolve();
    const k = key(st);
    const running = this.stops.get(k);
    if (running) return running;
    const p = this.stopGroup(st, graceS).finally(() => this.stops.delete(k));
    this.stops.set(k, p);
    return p;
  }

  private async stopGroup(st: ProcessHandleState, graceS: number): Promise<void> {
    const l = liveness(st.pid, st.pgid, st.startTime);
    // Not ours (pid reused) or nothing left alive: never signal. Checked once: while a live member remains, the
    // group id cannot be reused (proc-identity.ts), so later signals reach only our processes.
    if (!l.ours || !groupAlive(st.pgid)) return;
    if (graceS > 0) {
      // Right after start the wrapper may not have exec'd the command yet; a SIGTERM then would be swallowed by
      // its no-op trap (or by the forked subshell). Wait for the exec, briefly.
      const execDeadline = Date.now() + EXEC_WAIT_MS;
      while (Date.now() < execDeadline && commandStarted(st.pid) === false && groupAlive(st.pgid)) await sleep(10);
      markSignalled(st.dir, 'SIGTERM'); // before the signal: see exit-record.ts
      if (signalGroup(st.pgid, 'SIGTERM')) this.log.info({ pid: st.pid, graceS }, 'sent SIGTERM to the process group');
      const deadline = Date.now() + graceS * 1000;
      while (Date.now() < deadline && groupAlive(st.pgid)) await sleep(STOP_POLL_MS);
    }
    if (!groupAlive(st.pgid)) return;
    markSignalled(st.dir, 'SIGKILL');
    signalGroup(st.pgid, 'SIGKILL');
    this.log.warn({ pid: st.pid, graceS }, 'sent SIGKILL to the process group');
    const killDeadline = Date.now() + KILL_WAIT_MS;
    while (Date.now() < killDeadline && groupAlive(st.pgid)) await sleep(20);
  }

  /** Running, or the exit; never throws (a gone or foreign process reads as exited). */
  async inspect(handle: TaskHandle): Promise<{ running: boolean; exit: TaskExit | null }> {
    const st = this.decode(handle);
    if (!st) return { running: false, exit: this.invalid(handle) };
    const exit = this.probe(st);
    return exit ? { running: false, exit } : { running: true, exit: null };
  }

  /** True while the process runs (and is ours) or has left an exit record or our signal marker; false when it is
   * gone without a trace (the job becomes lost). Starts nothing. */
  async recover(handle: TaskHandle): Promise<boolean> {
    const st = this.decode(handle);
    if (!st) return false;
    if (liveness(st.pid, st.pgid, st.startTime).alive) return true;
    const exit = this.probe(st);
    if (exit && exit.error === null) return true;
    this.vanished.add(key(st));
    this.log.warn({ pid: st.pid, dir: st.dir }, 'process gone without an exit record');
    return false;
  }

  /** Follow stdout.log and stderr.log from the offsets persisted in the task dir (sinceTs is not used: the files
   * carry no timestamps). One attachment per task at a time. */
  attachLogs(handle: TaskHandle, sink: LogSink, _sinceTs?: number): LogDetach {
    const st = this.decode(handle);
    if (!st || this.disposed) return logDetach(() => {}, Promise.resolve());
    let ended = false;
    let drained!: () => void;
    const done = new Promise<void>((r) => { drained = r; });
    // The tailer stops by itself once the task has ended and both files are read to the end: that is `drained`.
    const tailer = new LogTailer(st.dir, sink, () => (ended ||= this.probe(st) !== null), this.log,
      { ...TAILER_DEFAULTS, pollMs: this.opts.logPollMs, persistMs: this.opts.offsetPersistMs, maxFileBytes: this.opts.maxLogFileBytes },
      () => { this.tailers.delete(tailer); drained(); });
    this.tailers.add(tailer);
    tailer.start();
    return logDetach(() => tailer.dispose(), done);
  }

  /** Kill the group if it still runs (no grace: stop() is for that); keeps the files. Idempotent. */
  async destroy(handle: TaskHandle): Promise<void> {
    const st = this.decode(handle);
    if (!st) return;
    await this.stop(handle, 0);
    const w = this.waiters.get(key(st));
    w?.kick();
  }

  /** Stop timers and log tailers; running processes are left alone (they outlive the agent by design). */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const w of this.waiters.values()) if (w.timer) clearTimeout(w.timer);
    this.waiters.clear();
    for (const t of [...this.tailers]) t.dispose();
    this.children.clear();
  }

  /** The exit when the task has ended, else null. */
  private probe(st: ProcessHandleState): TaskExit | null {
    const recorded = readExitRecord(st.dir);
    if (recorded) return recorded;
    if (liveness(st.pid, st.pgid, st.startTime).alive) return null;
    // It ended between the two looks, or without a record.
    return readExitRecord(st.dir) ?? exitWithoutRecord(st.dir, this.vanished.has(key(st)));
  }

  private decode(handle: TaskHandle): ProcessHandleState | null {
    const r = ProcessHandleState.safeParse(handle.state);
    if (!r.success) this.log.warn({ job: handle.jobId, attempt: handle.attempt }, 'malformed process handle');
    return r.success ? r.data : null;
  }

  private invalid(handle: TaskHandle): TaskExit {
    return { exitCode: null, signal: null, oomKilled: false, error: `malformed process handle for job ${handle.jobId}` };
  }
}
