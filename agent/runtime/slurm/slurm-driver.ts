import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stat, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { JobSpec, SlurmCluster, SlurmJobInfo } from '../../../shared/protocol/jobs.js';
import type { Logger } from '../../log.js';
import { logDetach, type Driver, type DriverCapabilities, type LogDetach, type LogSink, type TaskConfig, type TaskExit, type TaskHandle, type TaskPhase } from '../driver.js';
import { LogTailer, TAILER_DEFAULTS } from '../process/log-tailer.js';
import { SlurmCommands, transientSubmitError } from './commands.js';
import { clusterName, emptyCluster, summarisePartitions, type JobRecordView, type QueueRow } from './parse.js';
import { batchProblem, batchScript, commentOf, sbatchArgs, type BatchContext } from './script.js';
import { exitOfRecord, pendingReason, phaseOfState } from './states.js';

// The slurm task driver: fleetml's jobs become Slurm batch jobs, submitted with sbatch on the login node the agent
// runs on. Slurm queues and places them (capabilities.externalQueue); the agent tracks them by Slurm job id (the
// handle, saved before the job is reported running), with one squeue call per poll for every job it tracks.
//
// Lifecycle: start() writes the batch script into the attempt's folder (under jobs.slurm.work_dir, shared with the
// compute nodes) and runs sbatch → handle {slurm_job_id}. watchPhase() reports pending (Slurm's reason) and running.
// wait() resolves when Slurm says the job ended; its exit comes from accounting (sacct) when the cluster keeps it,
// else the controller's record (scontrol, kept MinJobAge), else the exit record the batch script writes.
// stop() is scancel. Logs are the job's --output/--error files, followed by the process driver's LogTailer.
// After an agent restart recover() finds the job by id; findStarted() finds an attempt submitted just before a
// crash by its --comment (fleetml:<job>:<attempt>).

/** The slurm driver's handle state. */
export const SlurmHandleState = z.object({ slurm_job_id: z.string().regex(/^\d+$/), dir: z.string(), partition: z.string().nullable() });
export type SlurmHandleState = z.infer<typeof SlurmHandleState>;

/** What the driver is built from (jobs.slurm). */
export interface SlurmDriverOptions {
  logger: Logger;
  /** Folder of the attempts' scripts and output (shared with the compute nodes). */
  workDir: string;
  binDir: string | null;
  conf: string | null;
  partition: string | null;
  account: string | null;
  qos: string | null;
  gres: string;
  container: 'pyxis' | 'apptainer' | null;
  pollMs: number;
  commandTimeoutMs: number;
  /** Milliseconds between looks at the output files. */
  logPollMs?: number;
}

interface Tracked {
  id: string;
  state: SlurmHandleState;
  listeners: Set<(p: TaskPhase) => void>;
  phase: TaskPhase | null;
  exit: TaskExit | null;
  waiters: Array<(e: TaskExit) => void>;
  ending: boolean;
}

/** How long a cluster view (and the driver's availability) is reused before scontrol is asked again. */
const FINGERPRINT_FRESH_MS = 3000;

/** Slurm's line in the job's stderr when jobacct_gather's OverMemoryKill ended it (no cgroups on the node). */
const OVER_MEMORY = /slurmstepd[^\n]*Exceeded (job|step) memory limit/;

export class SlurmDriver implements Driver {
  readonly name = 'slurm' as const;
  readonly capabilities: DriverCapabilities = { gpus: true, mounts: false, network: false, oomDetection: true, survivesAgentRestart: true, externalQueue: true };
  private readonly cmd: SlurmCommands;
  private readonly log: Logger;
  private readonly tracked = new Map<string, Tracked>();
  private readonly tailers = new Set<LogTailer>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private disposed = false;
  private view: SlurmCluster = emptyCluster(null);
  private clusterNameCache: string | null = null;
  private pollError: string | null = null;

  constructor(private readonly o: SlurmDriverOptions) {
    this.log = o.logger;
    this.cmd = new SlurmCommands({ binDir: o.binDir, conf: o.conf, timeoutMs: o.commandTimeoutMs });
  }

  /** The attempt's folder: <work_dir>/<job id>/attempt-<n>. */
  private dirOf(jobId: string, attempt: number): string {
    return join(resolve(this.o.workDir), jobId, `attempt-${attempt}`);
  }

  /** Available when the controller answers; also refreshes the cluster view (partitions, free GPUs). A view younger
   * than FINGERPRINT_FRESH_MS answers at once (the job manager asks at every submission). */
  async fingerprint(): Promise<{ available: boolean; reason: string | null }> {
    if (this.lastFingerprint && Date.now() - this.lastFingerprint.at < FINGERPRINT_FRESH_MS) return this.lastFingerprint.result;
    const result = await this.readCluster();
    this.lastFingerprint = { at: Date.now(), result };
    return result;
  }

  private lastFingerprint: { at: number; result: { available: boolean; reason: string | null } } | null = null;

  private async readCluster(): Promise<{ available: boolean; reason: string | null }> {
    try {
      const st = await this.cmd.clusterState(this.clusterNameCache === null);
      if (st.config !== null) this.clusterNameCache ??= clusterName(st.config);
      const partitions = summarisePartitions(st.nodes, st.partitions, this.o.gres);
      const def = this.o.partition ?? partitions.find((p) => p.default)?.name ?? null;
      this.view = { ...this.counts(), cluster: this.clusterNameCache, default_partition: def, partitions, error: null, updated_at: Date.now() };
      return { available: true, reason: null };
    } catch (e) {
      const reason = (e as Error).message;
      this.view = { ...this.view, ...this.counts(), error: reason };
      return { available: false, reason: `Slurm does not answer: ${reason}` };
    }
  }

  private counts(): { pending: number; running: number } {
    let pending = 0, running = 0;
    for (const t of this.tracked.values()) { if (t.exit) continue; if (t.phase?.phase === 'running') running++; else pending++; }
    return { pending, running };
  }

  cluster(): SlurmCluster {
    return { ...this.view, ...this.counts() };
  }

  async validate(spec: JobSpec): Promise<string | null> {
    const p = batchProblem(spec, this.o.container);
    if (p) return p;
    const partition = spec.slurm?.partition ?? this.view.default_partition;
    const part = partition ? this.view.partitions.find((x) => x.name === partition) : undefined;
    if (partition && this.view.updated_at !== null && !part) return `partition ${partition} does not exist in Slurm cluster${this.view.cluster ? ` ${this.view.cluster}` : ''} (partitions: ${this.view.partitions.map((x) => x.name).join(', ') || 'none'})`;
    if (part && spec.gpus > part.gpus_per_node_max) return `needs ${spec.gpus} GPUs on one node; the nodes of partition ${part.name} have at most ${part.gpus_per_node_max} (GRES ${this.o.gres})`;
    if (spec.workdir !== undefined) {
      const st = await stat(spec.workdir).catch(() => null);
      if (!st?.isDirectory()) return `workdir is not a directory on the login node: ${spec.workdir} (it must exist on the file system the compute nodes share)`;
    }
    return null;
  }

  private defaults(): BatchContext['defaults'] {
    return { partition: this.o.partition, account: this.o.account, qos: this.o.qos, gres: this.o.gres, container: this.o.container };
  }

  async start(cfg: TaskConfig): Promise<TaskHandle> {
    if (this.disposed) throw new Error('slurm driver disposed');
    const problem = batchProblem(cfg.spec, this.o.container);
    if (problem) throw new Error(problem);
    const dir = this.dirOf(cfg.jobId, cfg.attempt);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ctx: BatchContext = { jobId: cfg.jobId, attempt: cfg.attempt, spec: cfg.spec, env: cfg.env, dir, defaults: this.defaults() };
    const script = join(dir, 'job.sh');
    if (existsSync(script)) {
      // this attempt was tried before (an sbatch that failed without a clear answer): adopt it if Slurm has it
      let rows;
      try { rows = await this.cmd.queueAll(); } catch (e) { throw Object.assign(new Error(`${(e as Error).message}; will try again`), { retryable: true }); }
      const row = rows.find((r) => r.comment === commentOf(cfg.jobId, cfg.attempt));
      if (row) return { driver: 'slurm', jobId: cfg.jobId, attempt: cfg.attempt, state: { slurm_job_id: row.id, dir, partition: row.partition }, slurm: { job_id: row.id, partition: row.partition, state: row.state, reason: row.reason, nodes: row.nodes } };
    }
    // The script's existence marks "sbatch may have run" for findStarted() after a crash.
    writeFileSync(script, batchScript(ctx), { mode: 0o700 });
    let id: string;
    try {
      id = await this.cmd.submit(sbatchArgs(ctx, script));
    } catch (e) {
      // sbatch can fail after the controller took the job (a timeout on the answer): find it by its comment before
      // reporting a failure, so that it is tracked, not left running unseen or submitted again
      if (!transientSubmitError(e)) throw e;
      const found = await this.findStarted(cfg.jobId, cfg.attempt, dir).catch(() => 'unknown' as const);
      if (found && found !== 'unknown') { this.log.warn({ job: cfg.jobId, slurm_job_id: found.state.slurm_job_id }, 'sbatch failed but the job reached Slurm; tracking it'); return found; }
      // not found (or Slurm cannot be asked): the same attempt is tried again later, and looked up first (above)
      throw Object.assign(new Error(`${(e as Error).message}; will try again`), { retryable: true });
    }
    const partition = cfg.spec.slurm?.partition ?? this.view.default_partition;
    this.log.info({ job: cfg.jobId, attempt: cfg.attempt, slurm_job_id: id, partition }, 'submitted to Slurm');
    const state: SlurmHandleState = { slurm_job_id: id, dir, partition };
    return { driver: 'slurm', jobId: cfg.jobId, attempt: cfg.attempt, state, slurm: { job_id: id, partition, state: 'PENDING', reason: null, nodes: null } };
  }

  private st(handle: TaskHandle): SlurmHandleState {
    return SlurmHandleState.parse(handle.state);
  }

  private track(handle: TaskHandle): Tracked {
    const state = this.st(handle);
    let t = this.tracked.get(state.slurm_job_id);
    if (!t) {
      t = { id: state.slurm_job_id, state, listeners: new Set(), phase: null, exit: null, waiters: [], ending: false };
      this.tracked.set(t.id, t);
    }
    this.arm(0);
    return t;
  }

  private arm(ms: number): void {
    if (this.disposed || this.timer || this.polling) return;
    this.timer = setTimeout(() => { this.timer = null; void this.poll(); }, ms);
    this.timer.unref();
  }

  /** One squeue call for every tracked job; phases and ends from there. Never overlapping. */
  private async poll(): Promise<void> {
    const live = [...this.tracked.values()].filter((t) => !t.exit && !t.ending);
    if (live.length === 0) return;
    this.polling = true;
    try {
      const rows = await this.cmd.queue(live.map((t) => t.id));
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const t of live) {
        const r = byId.get(t.id);
        if (r && phaseOfState(r.state) !== 'ended') this.setPhase(t, r);
        else void this.end(t, r ?? null);
      }
      if (this.pollError) this.log.info({ after: this.pollError }, 'squeue answers again');
      this.pollError = null;
    } catch (e) {
      // logged once per distinct failure, not at every poll while the controller is away
      const msg = (e as Error).message;
      if (msg !== this.pollError) this.log.warn({ err: msg }, 'squeue failed; will retry');
      this.pollError = msg;
    } finally {
      this.polling = false;
      if ([...this.tracked.values()].some((t) => !t.exit)) this.arm(this.o.pollMs);
    }
  }

  private info(t: Tracked, r: { state: string; reason: string | null; partition: string | null; nodes: string | null }): SlurmJobInfo {
    return { job_id: t.id, partition: r.partition ?? t.state.partition, state: r.state, reason: r.reason, nodes: r.nodes };
  }

  private setPhase(t: Tracked, r: QueueRow): void {
    const phase = phaseOfState(r.state) === 'running' ? 'running' : 'pending';
    const slurm = this.info(t, r);
    const reason = phase === 'pending'
      ? `pending in Slurm (job ${t.id}${slurm.partition ? `, partition ${slurm.partition}` : ''}): ${pendingReason(r.reason)}`
      : `running in Slurm (job ${t.id}) on ${r.nodes ?? '?'}`;
    const p: TaskPhase = { phase, reason, startedAt: phase === 'running' ? r.start : null, slurm };
    const prev = t.phase;
    if (prev && prev.phase === p.phase && prev.reason === p.reason && prev.slurm?.state === p.slurm?.state) return;
    t.phase = p;
    for (const f of t.listeners) { try { f(p); } catch (e) { this.log.error({ err: e }, 'phase listener failed'); } }
  }

  /** The job left squeue's running states (or the controller forgot it): find its exit, once. */
  private async end(t: Tracked, row: QueueRow | null): Promise<void> {
    if (t.ending || t.exit) return;
    t.ending = true;
    try {
      // accounting first; while slurmdbd is away (sacct fails), the controller's record
      const acct = await this.cmd.accounting(t.id).catch((e: Error) => { this.log.warn({ slurm_job_id: t.id, err: e.message }, 'sacct failed; asking scontrol'); return null; });
      const rec = acct ?? (await this.cmd.job(t.id));
      const exit = rec && phaseOfState(rec.state) === 'ended' ? await this.exitFrom(t, rec) : rec ? null : this.fromExitRecord(t);
      if (!exit) { t.ending = false; return; } // accounting still says running: look again next poll
      // a job that ran and ended between two polls was never reported running (one cancelled while pending has a
      // StartTime too, but no nodes)
      if (rec?.start && rec.nodes && t.phase?.phase !== 'running') this.setPhase(t, { id: t.id, state: 'RUNNING', partition: rec.partition, nodes: rec.nodes, start: rec.start, comment: null, reason: null });
      // the final Slurm state (COMPLETED, TIMEOUT, …) is shown with the job
      if (rec && t.phase) {
        const p: TaskPhase = { ...t.phase, slurm: this.info(t, rec) };
        t.phase = p;
        for (const f of t.listeners) { try { f(p); } catch (e) { this.log.error({ err: e }, 'phase listener failed'); } }
      }
      t.exit = exit;
      for (const w of t.waiters.splice(0)) w(exit);
    } catch (e) {
      t.ending = false;
      this.log.warn({ slurm_job_id: t.id, err: (e as Error).message, row: row?.state }, 'reading a finished Slurm job failed; will retry');
    }
  }

  private async exitFrom(t: Tracked, rec: JobRecordView): Promise<TaskExit> {
    const exit = exitOfRecord(rec);
    if (rec.state === 'FAILED' && (exit.signal === 'SIGKILL' || exit.exitCode === 0) && (await this.stderrTail(t)).match(OVER_MEMORY)) {
      return { ...exit, oomKilled: true, detail: 'Slurm: exceeded the job\'s memory limit' };
    }
    return exit;
  }

  /** The last 64 KiB of the job's stderr file. */
  private async stderrTail(t: Tracked): Promise<string> {
    try {
      const fh = await open(join(t.state.dir, 'stderr.log'), 'r');
      try {
        const { size } = await fh.stat();
        const len = Math.min(size, 65_536);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, size - len);
        return buf.toString('utf8');
      } finally { await fh.close(); }
    } catch { return ''; }
  }

  /** Slurm no longer knows the job (no accounting, older than MinJobAge): the exit the batch script recorded. */
  private fromExitRecord(t: Tracked): TaskExit {
    try {
      const m = /^exit (\d+)/.exec(readFileSync(join(t.state.dir, 'exit'), 'utf8'));
      if (m) return { exitCode: Number(m[1]), signal: null, oomKilled: false, error: null, detail: 'from the job\'s exit record (Slurm no longer holds the job)' };
    } catch { /* none */ }
    return { exitCode: null, signal: null, oomKilled: false, error: null, endedBy: 'lost', detail: `Slurm no longer knows job ${t.id} and it left no exit record (it ended while the agent was away for longer than the controller's MinJobAge, and the cluster keeps no accounting)` };
  }

  watchPhase(handle: TaskHandle, onPhase: (p: TaskPhase) => void): () => void {
    const t = this.track(handle);
    t.listeners.add(onPhase);
    if (t.phase) queueMicrotask(() => { if (t.listeners.has(onPhase) && t.phase) onPhase(t.phase); });
    return () => { t.listeners.delete(onPhase); };
  }

  wait(handle: TaskHandle): Promise<TaskExit> {
    const t = this.track(handle);
    if (t.exit) return Promise.resolve(t.exit);
    return new Promise((r) => t.waiters.push(r));
  }

  async stop(handle: TaskHandle, _graceS: number): Promise<void> {
    // Slurm's own grace: SIGTERM, then SIGKILL after the cluster's KillWait
    await this.cmd.cancel(this.st(handle).slurm_job_id);
    this.arm(0);
  }

  async inspect(handle: TaskHandle): Promise<{ running: boolean; exit: TaskExit | null }> {
    const t = this.track(handle);
    if (t.exit) return { running: false, exit: t.exit };
    const [row] = await this.cmd.queue([t.id]);
    if (row && phaseOfState(row.state) !== 'ended') return { running: true, exit: null };
    await this.end(t, row ?? null);
    return { running: !t.exit, exit: t.exit };
  }

  async recover(handle: TaskHandle): Promise<boolean> {
    const st = this.st(handle);
    const [row] = await this.cmd.queue([st.slurm_job_id]);
    const known = !!row || !!(await this.cmd.accounting(st.slurm_job_id)) || !!(await this.cmd.job(st.slurm_job_id)) || existsSync(join(st.dir, 'exit'));
    if (known) this.track(handle);
    return known;
  }

  attachLogs(handle: TaskHandle, sink: LogSink, _sinceTs?: number): LogDetach {
    const t = this.track(handle);
    let drained!: () => void;
    const done = new Promise<void>((r) => { drained = r; });
    // The tailer stops by itself once Slurm said the job ended and both files are read to the end.
    const tailer = new LogTailer(t.state.dir, sink, () => t.exit !== null, this.log, { ...TAILER_DEFAULTS, pollMs: this.o.logPollMs ?? TAILER_DEFAULTS.pollMs },
      () => { this.tailers.delete(tailer); drained(); });
    this.tailers.add(tailer);
    tailer.start();
    return logDetach(() => tailer.dispose(), done);
  }

  async destroy(handle: TaskHandle): Promise<void> {
    this.tracked.delete(this.st(handle).slurm_job_id);
  }

  async findStarted(jobId: string, attempt: number, _dir: string): Promise<TaskHandle | null | 'unknown'> {
    const dir = this.dirOf(jobId, attempt);
    if (!existsSync(join(dir, 'job.sh'))) return null; // sbatch never ran for this attempt
    const want = commentOf(jobId, attempt);
    const row = (await this.cmd.queueAll()).find((r) => r.comment === want);
    if (!row) return 'unknown';
    const state: SlurmHandleState = { slurm_job_id: row.id, dir, partition: row.partition };
    return { driver: 'slurm', jobId, attempt, state, slurm: { job_id: row.id, partition: row.partition, state: row.state, reason: row.reason, nodes: row.nodes } };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const t of [...this.tailers]) t.dispose();
    this.tracked.clear();
  }
}

