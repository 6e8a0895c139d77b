import Docker from 'dockerode';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { logDetach, type Driver, type DriverCapabilities, type LogDetach, type LogSink, type TaskClaim, type TaskConfig, type TaskExit, type TaskHandle } from '../driver.js';
import { SWEEP_LIST_MAX, type DriverSweep, type JobSpec, type UnclaimedTask } from '../../../shared/protocol/jobs.js';
import type { Logger } from '../../log.js';
import { buildCreateOptions, containerName, DEFAULT_CONTAINER_USER, LABEL_JOB } from './create-options.js';
import { DockerDriverError, engineMessage, engineStatus, isAbort } from './errors.js';
import { listJobContainers, type JobContainer } from './job-containers.js';
import { LogLineAssembler, splitFrames, parseLogTimestamp, type LogFrame } from './log-lines.js';
import { resolveMounts, type JobIdentity } from './mounts.js';

// The docker task driver: one container per job attempt, on the node's own engine (no registry pull).
//
// Container lifecycle, as this driver drives it:
//   start:   create (name fleetml-<job>-<attempt>, labels, limits) → start → handle {containerId, name}
//            a failed start removes the container again and throws; a name conflict (409) means the attempt
//            already has a container, and it is never started twice
//   wait:    inspect; created → error (never started); running → POST /wait (not-running) → inspect
//            the exit comes from inspect (ExitCode, OOMKilled), never from the exit code alone
//   stop:    POST /stop?t=grace (engine: SIGTERM, SIGKILL after grace); 304/404 are fine
//   recover: the container (by id, else by labels) exists and was started → true; never starts anything
//   destroy: remove force; 404 is fine
// Engine down or restarting: fingerprint() says so, calls throw DockerDriverError('ENGINE_UNREACHABLE'),
// wait() retries until the engine answers again (up to engineDownTimeoutMs), log streams re-attach from the last
// delivered timestamp. No stream is left without an 'error' handler: nothing here throws asynchronously.

/** Options of DockerDriver; defaults in DEFAULTS below. */
export interface DockerDriverOptions {
  /** Engine socket. Default: DOCKER_HOST when it is unix://…, else /var/run/docker.sock. */
  socketPath?: string;
  /** This agent's node name: label fleetml.node, and the node named in messages. */
  node: string;
  /** Host directories under which bind mounts are allowed (resolved with realpath). Empty: no mounts. */
  allowedMountRoots: string[];
  /** Network mode of jobs that do not set spec.network. Only 'none' (default): no network unless asked for. */
  defaultNetwork?: 'none';
  logger: Logger;
  /** HostConfig.PidsLimit of every container. Default 4096. */
  pidsLimit?: number;
  /** User of every container, "uid:gid" (numeric: names would be looked up in the image). Default 65534:65534. */
  user?: string;
  /** Every identity a job may write as (this driver's container user is always added): the mount policy refuses a
   * source on whose path one of them could swap a component (mounts.ts). Default: only the container user. */
  jobIdentities?: JobIdentity[];
  /** How long wait() keeps retrying while the engine does not answer before it reports an error. Default 300 000. */
  engineDownTimeoutMs?: number;
  /** How long recover() waits for the engine to answer before it throws. Default 30 000. */
  recoverEngineWaitMs?: number;
  /** Timeout of one ping. Default 5 000. */
  pingTimeoutMs?: number;
  /** Timeout of every other engine call that is not a stream (create, start, inspect, list, remove, image
   * inspect; stop gets its grace period on top). Long-running ones (wait, follow log streams) have none: they
   * end with the container. Default 30 000 (jobs.docker_call_timeout_ms). */
  callTimeoutMs?: number;
}

const DEFAULTS = { defaultNetwork: 'none', pidsLimit: 4096, engineDownTimeoutMs: 300_000, recoverEngineWaitMs: 30_000, pingTimeoutMs: 5_000, callTimeoutMs: 30_000, user: DEFAULT_CONTAINER_USER } as const;

/** Where the engine listens when no socketPath is given: DOCKER_HOST (unix:// only) or /var/run/docker.sock. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (!host) return '/var/run/docker.sock';
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  throw new DockerDriverError('ENGINE_UNREACHABLE', `DOCKER_HOST=${host} is not supported: the docker driver talks to a local unix socket (unix:///path) only`);
}

/** One follow stream of attachLogs: its `since`, its assembler, and the last frame it processed. */
interface Session { since: number; lines: LogLineAssembler; last: LogFrame | null }

/** What a docker handle keeps in TaskHandle.state. */
export interface DockerHandleState {
  containerId: string;
  name: string;
}

/** Exit of a container from its inspect data. 137 is SIGKILL (OOM, stop after grace, kill); 143 is reported as
 * SIGTERM only when this driver stopped the container, since a program may exit(143) on its own. */
export function exitFromState(state: { ExitCode: number; OOMKilled: boolean; Error?: string }, stoppedByUs: boolean): TaskExit {
  const code = state.ExitCode;
  const signal = code === 137 ? 'SIGKILL' : code === 143 && stoppedByUs ? 'SIGTERM' : null;
  // OOMKilled is true when ANY process in the container's cgroup was OOM-killed, also a child while the main
  // process went on and exited 0 (cgroup v1). It is reported as is: the job did hit its memory limit.
  return { exitCode: code, signal, oomKilled: state.OOMKilled === true, error: state.Error ? state.Error : null };
}

/** Runs job attempts as containers on the local engine. */
export class DockerDriver implements Driver {
  readonly name = 'docker' as const;
  readonly capabilities: DriverCapabilities = { gpus: true, mounts: true, network: true, oomDetection: true, survivesAgentRestart: true, externalQueue: false };
  /** The socket this driver talks to. */
  readonly socketPath: string;
  private readonly docker: Docker;
  private readonly node: string;
  private readonly roots: string[];
  private readonly log: Logger;
  private readonly o: Required<Omit<DockerDriverOptions, 'socketPath' | 'node' | 'allowedMountRoots' | 'logger' | 'jobIdentities'>>;
  private readonly identities: JobIdentity[];
  /** Aborted by dispose(): cancels pending engine calls and retry sleeps. */
  private readonly life = new AbortController();
  /** Containers this instance asked to stop (143 → SIGTERM). Lost on restart, which only affects the signal name. */
  private readonly stopped = new Set<string>();
  private readonly logStreams = new Set<() => void>();

  constructor(opts: DockerDriverOptions) {
    if (!opts.node) throw new Error('DockerDriver: node is required');
    if (opts.defaultNetwork !== undefined && opts.defaultNetwork !== 'none') throw new Error(`DockerDriver: defaultNetwork must be 'none' (got ${String(opts.defaultNetwork)}); jobs that need a network set spec.network`);
    this.socketPath = opts.socketPath ?? defaultSocketPath();
    this.docker = new Docker({ socketPath: this.socketPath });
    this.node = opts.node;
    this.roots = [...opts.allowedMountRoots];
    this.log = opts.logger.child({ subsystem: 'docker-driver' });
    this.o = {
      defaultNetwork: opts.defaultNetwork ?? DEFAULTS.defaultNetwork,
      pidsLimit: opts.pidsLimit ?? DEFAULTS.pidsLimit,
      engineDownTimeoutMs: opts.engineDownTimeoutMs ?? DEFAULTS.engineDownTimeoutMs,
      recoverEngineWaitMs: opts.recoverEngineWaitMs ?? DEFAULTS.recoverEngineWaitMs,
      pingTimeoutMs: opts.pingTimeoutMs ?? DEFAULTS.pingTimeoutMs,
      callTimeoutMs: opts.callTimeoutMs ?? DEFAULTS.callTimeoutMs,
      user: opts.user ?? DEFAULTS.user,
    };
    // uid AND gid: with a name or a uid alone the engine takes the group from the image's /etc/passwd (gid 0 when
    // the uid is not listed there), and the mount policy would guard the wrong groups.
    const u = /^(\d+):(\d+)$/.exec(this.o.user);
    if (!Number.isInteger(this.o.callTimeoutMs) || this.o.callTimeoutMs < 1) throw new Error(`DockerDriver: callTimeoutMs must be a positive integer (got ${this.o.callTimeoutMs})`);
    if (!u) throw new Error(`DockerDriver: user must be numeric "uid:gid" (got ${this.o.user}); names and a missing gid are resolved in each image`);
    this.identities = [{ uid: Number(u[1]), gids: [Number(u[2])] }, ...(opts.jobIdentities ?? [])];
  }

  async fingerprint(): Promise<{ available: boolean; reason: string | null }> {
    try {
      await this.ping();
      return { available: true, reason: null };
    } catch (err) {
      return { available: false, reason: this.unreachable(err).message };
    }
  }

  async validate(spec: JobSpec): Promise<string | null> {
    if (spec.driver !== 'docker') return `the docker driver cannot run a ${spec.driver} job`;
    if (!spec.image) return 'the docker driver needs an image';
    const mounts = await resolveMounts(spec.mounts, this.roots, this.node, this.identities);
    if (mounts.reason !== null) return mounts.reason;
    try {
      await this.ping();
    } catch (err) {
      return this.unreachable(err).message;
    }
    try {
      const image = spec.image;
      await this.call(`GET /images/${image}/json`, (abortSignal) => this.docker.getImage(image).inspect({ abortSignal } as object));
    } catch (err) {
      if (engineStatus(err) === 404) return this.imageMissing(spec.image);
      if (err instanceof DockerDriverError) return err.message;
      return `cannot inspect image ${spec.image} on node ${this.node}: ${engineMessage(err)}`;
    }
    return null;
  }

  async start(cfg: TaskConfig): Promise<TaskHandle> {
    this.assertLive();
    const mounts = await resolveMounts(cfg.spec.mounts, this.roots, this.node, this.identities);
    if (mounts.reason !== null) throw new DockerDriverError('MOUNT_REFUSED', mounts.reason);
    const create = buildCreateOptions({ ...cfg, spec: { ...cfg.spec, mounts: mounts.mounts } }, { node: this.node, defaultNetwork: this.o.defaultNetwork, pidsLimit: this.o.pidsLimit, user: this.o.user });
    const name = containerName(cfg.jobId, cfg.attempt);
    let container: Docker.Container;
    try {
      container = await this.call(`POST /containers/create for ${name}`, (abortSignal) => this.docker.createContainer({ ...create, abortSignal } as Docker.ContainerCreateOptions));
    } catch (err) {
      if (err instanceof DockerDriverError) {
        // A create that timed out may still complete inside the engine: remove what it may leave (best effort; the
        // start-up sweep removes it otherwise, since no job claims it).
        void this.call(`DELETE /containers/${name}`, (abortSignal) => this.docker.getContainer(name).remove({ force: true, abortSignal } as object)).catch(() => undefined);
        throw err;
      }
      const status = engineStatus(err);
      if (status === 409) throw new DockerDriverError('ALREADY_EXISTS', `container ${name} already exists: job ${cfg.jobId} attempt ${cfg.attempt} is not started twice (recover or destroy it)`, { cause: err });
      if (status === 404) throw new DockerDriverError('IMAGE_MISSING', this.imageMissing(cfg.spec.image ?? '?'), { cause: err });
      if (status === null) throw this.unreachable(err);
      throw new DockerDriverError('ENGINE_ERROR', `cannot create container ${name}: ${engineMessage(err)}`, { cause: err });
    }
    try {
      await this.call(`POST /containers/${name}/start`, (abortSignal) => container.start({ abortSignal } as object));
    } catch (err) {
      // Created but not started: remove it so the attempt leaves nothing behind (the manager has no handle yet).
      await this.call(`DELETE /containers/${name}`, (abortSignal) => container.remove({ force: true, abortSignal } as object)).catch(() => undefined);
      if (engineStatus(err) === null) throw this.unreachable(err);
      throw new DockerDriverError('ENGINE_ERROR', `cannot start container ${name}: ${engineMessage(err)}`, { cause: err });
    }
    this.log.info({ job: cfg.jobId, attempt: cfg.attempt, container: container.id, name }, 'container started');
    const state: DockerHandleState = { containerId: container.id, name };
    return { driver: 'docker', jobId: cfg.jobId, attempt: cfg.attempt, state: { ...state } };
  }

  async wait(handle: TaskHandle): Promise<TaskExit> {
    const { containerId } = this.stateOf(handle);
    const c = this.docker.getContainer(containerId);
    const signal = this.life.signal;
    let delay = 250;
    let downSince: number | null = null;
    for (;;) {
      this.assertLive();
      try {
        let info = await this.call(`GET /containers/${containerId.slice(0, 12)}/json`, (abortSignal) => c.inspect({ abortSignal }));
        if (info.State.Status === 'created') return this.neverStarted(containerId);
        if (info.State.Running || info.State.Status === 'restarting' || info.State.Status === 'paused') {
          // Default condition not-running: right for a running container (next-exit is only needed when the
          // wait is registered before start, where not-running is already true).
          await c.wait({ abortSignal: signal }); // no timeout: it ends with the container
          info = await this.call(`GET /containers/${containerId.slice(0, 12)}/json`, (abortSignal) => c.inspect({ abortSignal }));
        }
        return exitFromState(info.State, this.stopped.has(containerId));
      } catch (err) {
        if (signal.aborted || (isAbort(err) && !(err instanceof DockerDriverError))) throw new DockerDriverError('DISPOSED', 'the docker driver was disposed while waiting', { cause: err });
        if (engineStatus(err) === 404) return this.gone(containerId);
        downSince ??= Date.now();
        const downMs = Date.now() - downSince;
        if (downMs >= this.o.engineDownTimeoutMs) {
          return { exitCode: null, signal: null, oomKilled: false, error: `${this.unreachable(err).message} (for ${Math.round(downMs / 1000)} s while waiting for container ${containerId.slice(0, 12)})` };
        }
        this.log.warn({ container: containerId, err: engineMessage(err) }, 'wait failed; retrying');
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  async stop(handle: TaskHandle, graceS: number): Promise<void> {
    const { containerId } = this.stateOf(handle);
    this.stopped.add(containerId);
    try {
      const t = Math.max(0, Math.ceil(graceS));
      // The engine answers only once the container stopped: up to the grace period, on top of the call timeout.
      await this.call(`POST /containers/${containerId.slice(0, 12)}/stop`, (abortSignal) => this.docker.getContainer(containerId).stop({ t, abortSignal } as object), t * 1000);
    } catch (err) {
      const status = engineStatus(err);
      if (status === 304 || status === 404) return; // already stopped, or gone
      if (status === null) throw this.unreachable(err);
      throw new DockerDriverError('ENGINE_ERROR', `cannot stop container ${containerId.slice(0, 12)}: ${engineMessage(err)}`, { cause: err });
    }
  }

  /** Running or exited. A gone container is "exited with an error"; an unreachable engine throws (the task may
   * well be running, and saying it ended would be a lie). */
  async inspect(handle: TaskHandle): Promise<{ running: boolean; exit: TaskExit | null }> {
    const { containerId } = this.stateOf(handle);
    try {
      const info = await this.call(`GET /containers/${containerId.slice(0, 12)}/json`, (abortSignal) => this.docker.getContainer(containerId).inspect({ abortSignal }));
      if (info.State.Status === 'created') return { running: false, exit: this.neverStarted(containerId) };
      if (info.State.Running || info.State.Status === 'restarting') return { running: true, exit: null };
      return { running: false, exit: exitFromState(info.State, this.stopped.has(containerId)) };
    } catch (err) {
      if (engineStatus(err) === 404) return { running: false, exit: this.gone(containerId) };
      if (engineStatus(err) === null) throw this.unreachable(err);
      throw new DockerDriverError('ENGINE_ERROR', `cannot inspect container ${containerId.slice(0, 12)}: ${engineMessage(err)}`, { cause: err });
    }
  }

  /** True when the attempt's container exists and was started (running or exited: wait() gives its real exit).
   * Looks it up by id, then by labels (the id in the handle is updated when found that way). Waits up to
   * recoverEngineWaitMs for the engine, then throws ENGINE_UNREACHABLE rather than declare a running task lost. */
  async recover(handle: TaskHandle): Promise<boolean> {
    const st = this.stateOf(handle);
    await this.waitForEngine(this.o.recoverEngineWaitMs);
    let info: Docker.ContainerInspectInfo | null = null;
    try {
      info = await this.call(`GET /containers/${st.containerId.slice(0, 12)}/json`, (abortSignal) => this.docker.getContainer(st.containerId).inspect({ abortSignal }));
      if (info.Config.Labels?.[LABEL_JOB] !== handle.jobId) info = null; // not ours: never adopt a stranger
    } catch (err) {
      if (engineStatus(err) !== 404) throw engineStatus(err) === null ? this.unreachable(err) : err;
    }
    if (!info) {
      const found = (await this.listJobContainers({ jobId: handle.jobId, attempt: handle.attempt }))[0];
      if (!found) return false;
      handle.state.containerId = found.containerId;
      handle.state.name = found.name;
      if (found.state === 'created') return false;
      this.log.info({ job: handle.jobId, attempt: handle.attempt, container: found.containerId }, 'container recovered by labels');
      return true;
    }
    // Created but never started: the attempt never ran, and recover() must not start it.
    return info.State.Status !== 'created';
  }

  /** Streams the container's output: lines at or before sinceTs are skipped; timestamps are the engine's (ms,
   * microseconds as a fraction). When the stream ends while the container still runs (engine restart with
   * live-restore), it re-attaches from the last delivered line. */
  attachLogs(handle: TaskHandle, sink: LogSink, sinceTs?: number): LogDetach {
    const { containerId } = this.stateOf(handle);
    const c = this.docker.getContainer(containerId);
    let disposed = false;
    let drained!: () => void;
    const done = new Promise<void>((r) => { drained = r; });
    let stream: NodeJS.ReadableStream | null = null;
    let threshold = sinceTs ?? Number.NEGATIVE_INFINITY; // fixed for one stream: stdout/stderr timestamps interleave
    let lastDelivered = threshold;
    let delay = 250;
    const deliver = (s: 'stdout' | 'stderr', line: string, ts: number) => {
      if (disposed || ts <= threshold) return;
      if (ts > lastDelivered) lastDelivered = ts;
      try {
        sink(s, line, ts);
      } catch (err) {
        this.log.error({ container: containerId, err: (err as Error).message }, 'log sink threw');
      }
    };
    // Disposed by the caller, or by the stream itself once the container stopped and its log was read to the end
    // (done() below): either way the attachment has delivered all it will.
    const dispose = () => {
      if (disposed) return;
      disposed = true;
      this.logStreams.delete(dispose);
      if (stream) (stream as unknown as { destroy(): void }).destroy();
      stream = null;
      drained();
    };
    const connect = async (): Promise<void> => {
      if (disposed || this.life.signal.aborted) return;
      const since = Number.isFinite(threshold) ? Math.max(0, Math.floor(threshold / 1000)) : 0;
      let s: NodeJS.ReadableStream;
      try {
        s = await c.logs({ follow: true, stdout: true, stderr: true, timestamps: true, since, abortSignal: this.life.signal } as Docker.ContainerLogsOptions & { follow: true });
      } catch (err) {
        return onEnd(err, null);
      }
      if (disposed) return void (s as unknown as { destroy(): void }).destroy();
      stream = s;
      const session: Session = { since, lines: new LogLineAssembler(deliver), last: null };
      // demuxStream writes each frame with one write(); write() is synchronous here (the callback is called at
      // once), so when the stream ends every frame it carried is in the assembler.
      const sinkOf = (which: 'stdout' | 'stderr') => new Writable({ write(chunk: Buffer, _enc, cb) { session.last = { stream: which, payload: chunk }; session.lines.frame(which, chunk); cb(); } });
      const out = sinkOf('stdout');
      const errw = sinkOf('stderr');
      out.on('error', () => undefined);
      errw.on('error', () => undefined);
      c.modem.demuxStream(s, out, errw);
      let ended = false;
      const finish = (err?: unknown) => {
        if (ended) return;
        ended = true;
        if (stream === s) stream = null;
        void onEnd(err, session);
      };
      s.on('error', (err) => finish(err));
      s.on('end', () => finish());
      s.on('close', () => finish());
    };
    const onEnd = async (err: unknown, session: Session | null): Promise<void> => {
      if (disposed || this.life.signal.aborted) return;
      // Unfinished lines of an ended stream are delivered before the sink is cut off.
      const done = () => { session?.lines.flush(); dispose(); };
      if (err !== undefined && engineStatus(err) === 404) return done();
      // Ended because the container exited (the normal case), or because the engine went away?
      try {
        const info = await this.call(`GET /containers/${containerId.slice(0, 12)}/json`, (abortSignal) => c.inspect({ abortSignal }));
        if (!info.State.Running && info.State.Status !== 'restarting' && err === undefined) {
          // A follow stream can end before it carried the container's last messages (seen with 20.10: a final
          // line without newline, written when stdout closes, goes missing). The container has stopped, so its
          // log is complete now: read what came after the last frame this stream delivered.
          if (session) await this.catchUp(c, session);
          return done();
        }
      } catch (e) {
        if (engineStatus(e) === 404 || isAbort(e)) return done();
      }
      if (disposed) return;
      session?.lines.flush();
      this.log.warn({ container: containerId, err: err === undefined ? null : engineMessage(err) }, 'log stream ended early; re-attaching');
      threshold = lastDelivered;
      await sleep(delay, undefined, { signal: this.life.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 5_000);
      return connect();
    };
    this.logStreams.add(dispose);
    void connect().catch((err) => this.log.error({ container: containerId, err: (err as Error).message }, 'log attach failed'));
    return logDetach(dispose, done);
  }

  /** Feeds a stopped container's log frames that came after `session.last` into the session's assembler. */
  private async catchUp(c: Docker.Container, session: Session): Promise<void> {
    const last = session.last;
    const lastTs = last ? parseLogTimestamp(last.payload.subarray(0, last.payload.indexOf(0x20)).toString('latin1')) : null;
    // From 1 s before the last frame (timestamps of the two streams interleave slightly), or the session's start.
    const since = lastTs !== null ? Math.max(0, Math.floor(lastTs / 1000) - 1) : session.since;
    const buf = await this.call(`GET /containers/${c.id.slice(0, 12)}/logs`, (abortSignal) => c.logs({ follow: false, stdout: true, stderr: true, timestamps: true, since, abortSignal } as Docker.ContainerLogsOptions & { follow?: false }));
    const frames = splitFrames(Buffer.isBuffer(buf) ? buf : Buffer.from(buf as unknown as string, 'latin1'));
    let from = 0;
    if (last) {
      // Frames carry nanosecond timestamps, so the last processed frame is found again by its bytes.
      let at = frames.length - 1;
      while (at >= 0 && !(frames[at].stream === last.stream && frames[at].payload.equals(last.payload))) at--;
      if (at >= 0) from = at + 1;
      else from = lastTs === null ? frames.length : frames.findIndex((f) => (parseLogTimestamp(f.payload.subarray(0, f.payload.indexOf(0x20)).toString('latin1')) ?? 0) > lastTs);
      if (from < 0) from = frames.length;
    }
    for (const f of frames.slice(from)) session.lines.frame(f.stream, f.payload);
  }

  async destroy(handle: TaskHandle): Promise<void> {
    const { containerId } = this.stateOf(handle);
    try {
      await this.call(`DELETE /containers/${containerId.slice(0, 12)}`, (abortSignal) => this.docker.getContainer(containerId).remove({ force: true, v: true, abortSignal } as object));
    } catch (err) {
      const status = engineStatus(err);
      if (status === 404 || (status === 409 && /already in progress/.test(engineMessage(err)))) return;
      if (status === null) throw this.unreachable(err);
      throw new DockerDriverError('ENGINE_ERROR', `cannot remove container ${containerId.slice(0, 12)}: ${engineMessage(err)}`, { cause: err });
    } finally {
      this.stopped.delete(containerId);
    }
  }

  async dispose(): Promise<void> {
    for (const d of [...this.logStreams]) d();
    this.life.abort();
  }

  /** This node's fleetml containers (or one job's / attempt's), for recovery and orphan cleanup. */
  async findStarted(jobId: string, attempt: number): Promise<TaskHandle | null | 'unknown'> {
    const [c] = await this.listJobContainers({ jobId, attempt });
    if (!c) return null;
    return { driver: 'docker', jobId, attempt, state: { containerId: c.containerId, name: c.name } };
  }

  async listJobContainers(filter: { jobId?: string; attempt?: number } = {}): Promise<JobContainer[]> {
    try {
      return await this.call('GET /containers/json', (abortSignal) => listJobContainers(this.docker, this.node, filter, abortSignal));
    } catch (err) {
      if (engineStatus(err) === null) throw this.unreachable(err);
      throw err;
    }
  }

  /** One engine call that is not a stream, cancelled after callTimeoutMs (+ extraMs): a hung engine makes it throw
   * ENGINE_TIMEOUT instead of stalling its caller (a job's start, recovery, the sweep). dispose() cancels it too. */
  private async call<T>(what: string, f: (signal: AbortSignal) => Promise<T>, extraMs = 0): Promise<T> {
    const ms = this.o.callTimeoutMs + extraMs;
    const timeout = AbortSignal.timeout(ms);
    try {
      return await f(AbortSignal.any([this.life.signal, timeout]));
    } catch (err) {
      if (timeout.aborted && !this.life.signal.aborted) {
        throw new DockerDriverError('ENGINE_TIMEOUT', `container engine on node ${this.node} did not answer in ${ms} ms (${what}) at ${this.socketPath}: is dockerd hung? (jobs.docker_call_timeout_ms; docs/jobs-docker.md#engine-outages)`, { cause: err });
      }
      throw err;
    }
  }

  /** The start-up sweep: every fleetml container on this engine (any node) that no claim names. This node's are
   * removed (mode remove) or listed (report); other nodes' are listed and never touched — an engine may be shared
   * by several agents, and only the one whose name a container carries may decide it is stale. */
  async sweepUnclaimed(claims: () => TaskClaim[], mode: 'remove' | 'report'): Promise<DriverSweep> {
    const out: DriverSweep = { at: Date.now(), mode, removed: [], kept: [], foreign: [], counts: { removed: 0, kept: 0, foreign: 0 }, error: null };
    const add = (group: 'removed' | 'kept' | 'foreign', t: UnclaimedTask) => { out.counts[group]++; if (out[group].length < SWEEP_LIST_MAX) out[group].push(t); };
    let all: JobContainer[];
    try {
      all = await this.call('GET /containers/json', (abortSignal) => listJobContainers(this.docker, null, {}, abortSignal));
    } catch (err) {
      out.error = this.unreachable(err).message;
      return out;
    }
    // Claims read after the listing: a container listed above was created by a job already claimed (claimStart
    // sets the attempt before create), so it cannot be mistaken for an orphan.
    const ids = new Set<string>();
    const attempts = new Set<string>();
    for (const c of claims()) {
      attempts.add(`${c.jobId}\u0000${c.attempt}`);
      const id = c.handle?.driver === 'docker' ? c.handle.state.containerId : undefined;
      if (typeof id === 'string' && id) ids.add(id);
    }
    const claimed = (c: JobContainer) => ids.has(c.containerId) || [...ids].some((id) => id.length >= 12 && c.containerId.startsWith(id)) || attempts.has(`${c.jobId}\u0000${c.attempt}`);
    for (const c of all) {
      if (claimed(c)) continue;
      const t: UnclaimedTask = { id: c.containerId, name: c.name, job_id: c.jobId, attempt: Number.isInteger(c.attempt) ? c.attempt : null, node: c.node, state: c.state, error: null };
      if (c.node !== this.node) { add('foreign', t); continue; }
      if (mode === 'report') { add('kept', t); continue; }
      try {
        await this.call(`DELETE /containers/${c.containerId.slice(0, 12)}`, (abortSignal) => this.docker.getContainer(c.containerId).remove({ force: true, v: true, abortSignal } as object));
        add('removed', t);
      } catch (err) {
        if (engineStatus(err) === 404) { add('removed', t); continue; } // gone meanwhile
        add('kept', { ...t, error: err instanceof DockerDriverError ? err.message : engineMessage(err) });
      }
    }
    return out;
  }

  private async ping(): Promise<void> {
    const signal = AbortSignal.any([this.life.signal, AbortSignal.timeout(this.o.pingTimeoutMs)]);
    await (this.docker.ping as (opts: object) => Promise<unknown>).call(this.docker, { abortSignal: signal });
  }

  private async waitForEngine(maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
      this.assertLive();
      try {
        return await this.ping();
      } catch (err) {
        if (Date.now() + delay > deadline) throw this.unreachable(err);
        await sleep(delay, undefined, { signal: this.life.signal }).catch(() => undefined);
      }
    }
  }

  private stateOf(handle: TaskHandle): DockerHandleState {
    const id = handle.state.containerId;
    if (handle.driver !== 'docker' || typeof id !== 'string' || id === '') {
      throw new DockerDriverError('BAD_HANDLE', `not a docker task handle (driver ${handle.driver}, job ${handle.jobId})`);
    }
    return { containerId: id, name: typeof handle.state.name === 'string' ? handle.state.name : containerName(handle.jobId, handle.attempt) };
  }

  private assertLive(): void {
    if (this.life.signal.aborted) throw new DockerDriverError('DISPOSED', 'the docker driver was disposed');
  }

  private unreachable(err: unknown): DockerDriverError {
    if (err instanceof DockerDriverError) return err; // already says what happened (ENGINE_TIMEOUT, …)
    const why = isAbort(err) ? `no answer within ${this.o.pingTimeoutMs} ms` : engineMessage(err);
    return new DockerDriverError('ENGINE_UNREACHABLE', `container engine not reachable on node ${this.node} at ${this.socketPath}: ${why} (is dockerd running? scripts/container-engine.sh start)`, { cause: err });
  }

  private imageMissing(image: string): string {
    return `image ${image} is not present on node ${this.node} (no registry pull is assumed): load it with docker load/import`;
  }

  private gone(containerId: string): TaskExit {
    return { exitCode: null, signal: null, oomKilled: false, error: `container ${containerId.slice(0, 12)} is gone (removed outside fleetml?)` };
  }

  private neverStarted(containerId: string): TaskExit {
    return { exitCode: null, signal: null, oomKilled: false, error: `container ${containerId.slice(0, 12)} was created but never started` };
  }
}
