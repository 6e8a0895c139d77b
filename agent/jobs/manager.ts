import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RpcError, TERMINAL_STATES } from '../../shared/protocol/index.js';
import type { DriverHealth, DriverName, DriverSweep, Job, JobSpec, JobState, LogLine, NodeResources } from '../../shared/protocol/index.js';
import type { Driver, LogDetach, TaskClaim, TaskExit, TaskHandle, TaskPhase } from '../runtime/driver.js';
import type { Logger } from '../log.js';
import type { JobStore, JobRecord } from './job-store.js';
import type { LogStore } from './log-store.js';
import { admit } from './admission.js';

// The node-local job lifecycle. Invariants:
// - every state change is persisted (with its history row) before it is reported (events, API answers);
// - the driver handle is persisted in the same write that reports the job running;
// - a task is started at most once per (job, attempt): recovery re-attaches and never starts;
// - assigned GPUs are exclusive: a GPU held by a starting/running job is never handed out again;
// - a scheduling pass never awaits a driver's start: claimStart (synchronous) marks the job starting with its GPUs
//   and attempt first, so the next pass counts what it holds, and one slow engine does not hold back other jobs;
// - a driver that becomes unavailable does not end its jobs: they stay running (reason says so) and are followed
//   again once it is back; the sweep for unclaimed tasks runs only after recovery, and treats every active job's
//   current attempt as claimed.

/** A GPU as the manager sees it (from telemetry). */
export interface GpuView { uuid: string; index: number; name: string | null; fb_total_bytes: number | null; busyExternal: boolean }
/** Node capacity from telemetry and the host. */
export interface Capacity { gpus: GpuView[]; cpus: number; memoryBytes: number; simulated: boolean }

/** What the manager is built from (main.ts wires it). */
export interface JobManagerOptions {
  node: string;
  labels: Record<string, string>;
  store: JobStore;
  logs: LogStore;
  drivers: Partial<Record<DriverName, Driver>>;
  capacity: () => Capacity;
  starvationMs: number;
  /** Docker network modes jobs may use. */
  allowedNetworks?: string[];
  /** Driver of a job submitted without one when it has no image (jobs.default_driver, reported in node.resources). */
  defaultDriver?: DriverName;
  /** How often each driver's fingerprint is checked while it is available, ms (every second while one is not). Default 10 000 (jobs.driver_check_s). */
  driverCheckMs?: number;
  /** What the start-up sweep does with this node's tasks that no job claims: remove (default) or report only (jobs.docker_sweep). */
  sweep?: 'remove' | 'report';
  log: Logger;
  now?: () => number;
}

interface Live { handle: TaskHandle; stopLogs: LogDetach; stopPhase: (() => void) | null; timeout: NodeJS.Timeout | null; stopping: boolean; timedOut: boolean }

/** Wait before a start the engine did not confirm is tried again. */
const START_RETRY_MS = 5000;
/** Longest wait for a task's output to be read to its end before its final state is recorded anyway. */
const LOG_DRAIN_MAX_MS = 30_000;
/** Maintenance ticks (1 s) between two sweeps of orphaned job output folders. */
const ORPHAN_SWEEP_TICKS = 3600;
/** Longest setTimeout Node can arm (2^31-1 ms); longer timeouts are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Events: 'job' (Job) after every persisted change, 'removed' (id). */
export class JobManager extends EventEmitter {
  private live = new Map<string, Live>();
  private scheduling = false;
  private rescheduleWanted = false;
  private timer: NodeJS.Timeout | null = null;
  private retryRecover = new Set<string>();
  /** Jobs whose start an engine did not confirm (retryable), and when to try again. */
  private retryAt = new Map<string, number>();
  private disposed = false;
  private readonly now: () => number;
  /** Starts in flight (a pass does not await them); dispose lets them settle. */
  private readonly starts = new Set<Promise<void>>();

  constructor(private readonly o: JobManagerOptions) {
    super();
    this.setMaxListeners(0); // one listener per job.events subscriber
    this.now = o.now ?? Date.now;
  }

  /** Recover what was running before the agent stopped, then start scheduling. */
  async start(): Promise<void> {
    await this.refreshFingerprints();
    // In parallel: one slow engine must not hold up the others (or the API, which listens after this).
    await Promise.all(this.o.store.list(['queued', 'starting', 'running']).filter((r) => r.job.state !== 'queued' || r.handle).map((rec) => this.recoverOne(rec)));
    this.sweepOrphanLogs();
    await this.sweepUnclaimed();
    let ticks = 0;
    this.timer = setInterval(() => {
      try {
        for (const id of [...this.retryRecover]) { this.retryRecover.delete(id); const r = this.o.store.get(id); if (r) void this.recoverOne(r); }
        // a cancel whose stop failed (engine briefly away) is tried again
        for (const [id, l] of this.live) if (!l.stopping && this.o.store.get(id)?.cancelRequested) this.stopLive(id, l);
        // Every driverCheckMs, and every tick while a driver is unavailable (its return is noticed at once).
        const checkEvery = Math.max(1, Math.round((this.o.driverCheckMs ?? 10_000) / 1000));
        const someDown = [...this.fingerprints.values()].some((f) => !f.available);
        if (++ticks % checkEvery === 0 || someDown) void this.refreshFingerprints();
        if (ticks % ORPHAN_SWEEP_TICKS === 0) this.sweepOrphanLogs();
      } catch (e) { this.o.log.error({ err: e }, 'job maintenance failed'); }
      this.schedule();
    }, 1000);
    this.timer.unref();
    this.schedule();
  }

  /** Remove the output folders of jobs whose row is gone (a crash between job.remove's two deletes). */
  private sweepOrphanLogs(): void {
    try {
      const gone = this.o.logs.sweepOrphans((id) => this.o.store.exists(id));
      if (gone.length > 0) this.o.log.info({ jobs: gone.slice(0, 20), count: gone.length }, 'removed the output of jobs that no longer exist');
    } catch (e) { this.o.log.warn({ err: (e as Error).message }, 'job output orphan sweep failed'); }
  }

  private fingerprints = new Map<DriverName, { available: boolean; reason: string | null; since: number }>();
  private fingerprinting = false;
  private async refreshFingerprints(): Promise<void> {
    if (this.fingerprinting) return; // never overlapping (a ping can take up to its timeout)
    this.fingerprinting = true;
    try {
      await Promise.all((Object.entries(this.o.drivers) as Array<[DriverName, Driver]>).map(async ([n, d]) => {
        let fp: { available: boolean; reason: string | null };
        try { fp = await d.fingerprint(); } catch (e) { fp = { available: false, reason: (e as Error).message }; }
        if (this.disposed) return;
        const was = this.fingerprints.get(n);
        this.fingerprints.set(n, { ...fp, since: was && was.available === fp.available ? was.since : this.now() });
        if (was && was.available !== fp.available) this.onDriverChange(n, fp);
      }));
    } finally { this.fingerprinting = false; }
  }

  /** A driver went away or came back: say so on its live jobs (they are kept either way), re-sweep if needed. */
  private onDriverChange(name: DriverName, fp: { available: boolean; reason: string | null }): void {
    if (fp.available) this.o.log.info({ driver: name }, 'driver available again');
    else this.o.log.warn({ driver: name, reason: fp.reason }, 'driver unavailable; its running jobs are kept');
    for (const [id] of this.live) {
      const rec = this.o.store.get(id);
      if (!rec || rec.job.spec.driver !== name || rec.job.state !== 'running' || rec.cancelRequested) continue;
      const reason = fp.available ? `running (driver ${name} available again; following the task again)` : `running; driver ${name} unavailable (${fp.reason}); the job is kept and followed again when it is back`;
      this.o.store.update(id, { reason });
      this.system(id, fp.available ? `driver ${name} is available again` : `driver ${name} is unavailable: ${fp.reason}; the task is left running`);
      this.emitJob(id);
    }
    if (fp.available && this.sweeps.get(name)?.error) void this.sweepUnclaimed([name]);
    if (fp.available) this.schedule(); // jobs held back while it was away
  }

  /** Each driver's health as last checked (node.stats, node.resources). */
  driverHealth(): DriverHealth[] {
    return (Object.keys(this.o.drivers) as DriverName[]).map((name) => {
      const f = this.fingerprints.get(name);
      return f ? { name, available: f.available, reason: f.reason, since: f.since } : { name, available: true, reason: null, since: null };
    });
  }

  private sweeps = new Map<DriverName, DriverSweep>();
  /** The sweep for tasks no job claims (after recovery; again when a driver whose sweep failed comes back). */
  private async sweepUnclaimed(names?: DriverName[]): Promise<void> {
    const mode = this.o.sweep ?? 'remove';
    await Promise.all((Object.entries(this.o.drivers) as Array<[DriverName, Driver]>).filter(([n, d]) => d.sweepUnclaimed && (!names || names.includes(n))).map(async ([n, d]) => {
      let r: DriverSweep;
      try { r = await d.sweepUnclaimed!(() => this.claims(), mode); } catch (e) {
        r = { at: this.now(), mode, removed: [], kept: [], foreign: [], counts: { removed: 0, kept: 0, foreign: 0 }, error: (e as Error).message };
      }
      this.sweeps.set(n, r);
      const brief = (ts: DriverSweep['removed']) => ts.map((t) => ({ name: t.name, job: t.job_id, node: t.node, state: t.state, ...(t.error ? { err: t.error } : {}) }));
      if (r.error) this.o.log.warn({ driver: n, err: r.error }, 'sweep for unclaimed tasks could not run; it runs again when the driver is available');
      if (r.counts.removed) this.o.log.warn({ driver: n, count: r.counts.removed, tasks: brief(r.removed) }, 'removed tasks of this node that no job claims');
      if (r.counts.kept) this.o.log.warn({ driver: n, count: r.counts.kept, mode, tasks: brief(r.kept) }, mode === 'report' ? 'tasks of this node that no job claims (jobs.docker_sweep: report, left in place)' : 'tasks of this node that no job claims could not be removed');
      if (r.counts.foreign) this.o.log.info({ driver: n, count: r.counts.foreign, tasks: brief(r.foreign) }, 'unclaimed tasks labelled for other nodes, left alone');
    }));
  }

  /** What claims a task: every job in queued-with-handle, starting or running, with its attempt and handle (the
   * live one first: recovery may have found the task under a new id). */
  private claims(): TaskClaim[] {
    return this.o.store.list(['queued', 'starting', 'running']).filter((r) => r.job.state !== 'queued' || r.handle)
      .map((r) => ({ jobId: r.job.id, attempt: r.job.attempt, handle: this.live.get(r.job.id)?.handle ?? r.handle ?? null }));
  }

  /** Ask the driver to stop a live task; a failed stop is retried by the maintenance loop. */
  private stopLive(id: string, l: Live): void {
    const rec = this.o.store.get(id);
    const d = rec ? this.o.drivers[rec.job.spec.driver] : undefined;
    if (!rec || !d) return;
    l.stopping = true;
    d.stop(l.handle, rec.job.spec.stop_grace_s).catch((e) => {
      l.stopping = false;
      this.o.log.warn({ job: id, err: (e as Error).message }, 'stop failed; will retry');
    });
  }

  private toJob(rec: JobRecord): Job {
    return { ...rec.job, node: this.o.node, history: this.o.store.history(rec.job.id), slurm: rec.handle?.slurm ?? null };
  }

  /** Whether the job's driver queues and places it itself (Slurm). */
  private external(spec: JobSpec): boolean {
    return this.o.drivers[spec.driver]?.capabilities.externalQueue === true;
  }

  private emitJob(id: string): Job | null {
    const rec = this.o.store.get(id);
    if (!rec) return null;
    const job = this.toJob(rec);
    this.emit('job', job);
    return job;
  }

  /** Add an agent line to a job's output. Never throws: a full disk must not stop the job lifecycle. */
  private system(id: string, line: string) {
    try { this.o.logs.append(id, { ts: this.now(), stream: 'system', line }); } catch (e) { this.o.log.warn({ job: id, err: (e as Error).message }, 'cannot write job log'); }
  }

  // ---- API ------------------------------------------------------------------------------------------------

  /** Validate that the job can ever run here, queue it, and schedule. */
  async submit(spec: JobSpec, by: string): Promise<Job> {
    const why = await this.neverFits(spec);
    if (why) throw new RpcError('UNSCHEDULABLE', `cannot run on node ${this.o.node}: ${why}`);
    const id = `j_${randomBytes(6).toString('hex')}`;
    this.o.store.insert(id, spec, by, this.now(), 'waiting for admission');
    this.system(id, `submitted by ${by}`);
    const job = this.emitJob(id)!;
    this.schedule();
    return job;
  }

  private async neverFits(spec: JobSpec): Promise<string | null> {
    const d = this.o.drivers[spec.driver];
    if (!d) return `driver ${spec.driver} is not enabled on this node (enabled: ${Object.keys(this.o.drivers).join(', ') || 'none'})`;
    const fp = await d.fingerprint();
    if (!fp.available) return `driver ${spec.driver} is not available: ${fp.reason}`;
    // An external queue (Slurm) judges the request against its own cluster (validate), not this node's capacity.
    if (d.capabilities.externalQueue) return d.validate(spec);
    const cap = this.o.capacity();
    if (spec.gpus > cap.gpus.length) return `needs ${spec.gpus} GPU${spec.gpus === 1 ? '' : 's'}; the node has ${cap.gpus.length}`;
    if (spec.gpus > 0 && !d.capabilities.gpus) return `driver ${spec.driver} cannot assign GPUs`;
    if (spec.network && this.o.allowedNetworks && !this.o.allowedNetworks.includes(spec.network)) return `network ${spec.network} is not allowed on this node (jobs.allowed_networks: ${this.o.allowedNetworks.join(', ')})`;
    if ((spec.cpus ?? 0) > cap.cpus) return `needs ${spec.cpus} CPUs; the node has ${cap.cpus}`;
    if ((spec.memory_bytes ?? 0) > cap.memoryBytes) return `needs ${spec.memory_bytes} bytes of memory; the node has ${cap.memoryBytes}`;
    return d.validate(spec);
  }

  get(idOrPrefix: string): Job {
    const rec = this.o.store.resolve(idOrPrefix);
    if (!rec) throw new RpcError('NOT_FOUND', `no job ${idOrPrefix.slice(0, 64)} on node ${this.o.node} (list them with: fleetml job list)`);
    return this.toJob(rec);
  }

  list(states?: JobState[], labels?: Record<string, string>, limit = 500): Job[] {
    const out: Job[] = [];
    for (const rec of this.o.store.list(states)) {
      if (labels && !Object.entries(labels).every(([k, v]) => rec.job.spec.labels[k] === v)) continue;
      out.push(this.toJob(rec));
      if (out.length >= limit) break;
    }
    return out;
  }

  logs(idOrPrefix: string, since?: number, tail?: number): { lines: LogLine[]; truncated: boolean } {
    const job = this.get(idOrPrefix);
    return this.o.logs.read(job.id, since, tail);
  }

  /** Follow a job's output (the job.logs topic). */
  followLogs(id: string, f: (l: LogLine) => void): () => void { return this.o.logs.subscribe(this.get(id).id, f); }

  /** Cancel: a queued job at once; a running one gets SIGTERM, then SIGKILL after its grace period. */
  async cancel(idOrPrefix: string, by: string, reason?: string): Promise<Job> {
    const job = this.get(idOrPrefix);
    const id = job.id;
    if (TERMINAL_STATES.includes(job.state)) return job;
    const why = `cancelled by ${by}${reason ? `: ${reason}` : ''}`;
    const handedOver = job.state === 'queued' && !!this.o.store.get(id)?.handle; // pending in an external queue
    if (job.state === 'queued' && !handedOver) {
      this.o.store.transition(id, 'cancelled', { reason: why, finished_at: this.now() }, this.now());
      this.system(id, why);
      this.schedule();
      return this.emitJob(id)!;
    }
    this.o.store.update(id, { cancel_requested: true, reason: `${why} (stopping)` });
    this.system(id, `${why}; stopping (grace ${job.spec.stop_grace_s} s)`);
    const l = this.live.get(id);
    if (l && !l.stopping) this.stopLive(id, l);
    // a job still `starting` is stopped by watch() as soon as its handle exists (it reads cancel_requested)
    return this.emitJob(id)!;
  }

  /** Remove a finished job and its logs. */
  remove(idOrPrefix: string): boolean {
    const job = this.get(idOrPrefix);
    if (!TERMINAL_STATES.includes(job.state)) throw new RpcError('CONFLICT', `job ${job.id} is ${job.state}: cancel it first (fleetml job cancel ${job.id})`);
    // Row first, then the folder: a crash (or a failed delete) between the two leaves a folder without a row, which
    // the orphan sweep (start-up, then hourly) removes; the other order could leave a job whose output is gone.
    const ok = this.o.store.remove(job.id);
    try { this.o.logs.remove(job.id); } catch (e) { this.o.log.warn({ job: job.id, err: (e as Error).message }, 'cannot remove job output; the orphan sweep tries again'); }
    this.emit('removed', job.id);
    return ok;
  }

  /** Capacity, what is free and what holds it: for placement and the TUI. */
  resources(): NodeResources {
    const cap = this.o.capacity();
    const active = this.o.store.list(['starting', 'running']);
    const holder = new Map<string, string>();
    let cpus = 0, mem = 0;
    for (const r of active) {
      if (this.external(r.job.spec)) continue; // a Slurm job uses the cluster's resources, not this node's
      for (const g of r.job.gpus) holder.set(g, r.job.id);
      cpus += r.job.spec.cpus ?? 0;
      mem += r.job.spec.memory_bytes ?? 0;
    }
    const gpus = cap.gpus.map((g) => ({ uuid: g.uuid, index: g.index, name: g.name, fb_total_bytes: g.fb_total_bytes, job_id: holder.get(g.uuid) ?? null, busy_external: !holder.has(g.uuid) && g.busyExternal }));
    return {
      node: this.o.node, labels: this.o.labels, gpus,
      gpus_free: gpus.filter((g) => !g.job_id && !g.busy_external).length,
      cpus_total: cap.cpus, cpus_free: Math.max(0, cap.cpus - cpus),
      memory_total_bytes: cap.memoryBytes, memory_free_bytes: Math.max(0, cap.memoryBytes - mem),
      queued: this.o.store.list(['queued']).filter((r) => !r.handle).length, running: active.length,
      drivers: this.driverHealth().map((h) => ({ ...h, sweep: this.sweeps.get(h.name) ?? null })),
      default_driver: this.o.defaultDriver ?? 'process',
      simulated: cap.simulated,
      slurm: this.o.drivers.slurm?.cluster?.() ?? null,
    };
  }

  /** Running jobs' handles (GPU process attribution). */
  handles(): Array<{ jobId: string; handle: TaskHandle }> {
    return [...this.live].map(([jobId, l]) => ({ jobId, handle: l.handle }));
  }

  // ---- scheduling -----------------------------------------------------------------------------------------

  /** Run admission soon; never overlapping. */
  schedule(): void {
    if (this.disposed) return;
    if (this.scheduling) { this.rescheduleWanted = true; return; }
    this.scheduling = true;
    setImmediate(() => {
      void this.scheduleOnce().catch((e) => this.o.log.error({ err: e }, 'scheduling failed')).finally(() => {
        this.scheduling = false;
        if (this.rescheduleWanted) { this.rescheduleWanted = false; this.schedule(); }
      });
    });
  }

  private async scheduleOnce(): Promise<void> {
    const waiting = this.o.store.list(['queued']).filter((r) => !r.handle); // a queued job with a handle waits in an external queue
    if (waiting.length === 0) return;
    // A job whose driver is unavailable (engine away) waits instead of failing its start; it is admitted once the
    // driver is back (checked every second while it is not).
    const all: JobRecord[] = [];
    for (const r of waiting) {
      const fp = this.fingerprints.get(r.job.spec.driver);
      if (!fp || fp.available) { all.push(r); continue; }
      const reason = `waiting: driver ${r.job.spec.driver} unavailable (${fp.reason})`;
      if (r.job.reason !== reason) { this.o.store.update(r.job.id, { reason }); this.emitJob(r.job.id); }
    }
    if (all.length === 0) return;
    // Jobs of an external queue (Slurm) are handed over at once: its scheduler, not this node's admission, decides.
    const queued: JobRecord[] = [];
    for (const r of all) {
      if (!this.external(r.job.spec)) { queued.push(r); continue; }
      if ((this.retryAt.get(r.job.id) ?? 0) > this.now()) continue; // its last start was not confirmed: not yet again
      this.retryAt.delete(r.job.id);
      this.launch(r, []);
    }
    if (queued.length === 0) return;
    const res = this.resources();
    const free = { gpus: res.gpus.filter((g) => !g.job_id && !g.busy_external).map((g) => g.uuid), cpus: res.cpus_free, memoryBytes: res.memory_free_bytes };
    const now = this.now();
    const decision = admit(queued.map((r) => ({ id: r.job.id, gpus: r.job.spec.gpus, cpus: r.job.spec.cpus ?? 0, memoryBytes: r.job.spec.memory_bytes ?? 0, priority: r.job.spec.priority, submittedAt: r.job.submitted_at })), free, now, this.o.starvationMs);
    const byId = new Map(queued.map((r) => [r.job.id, r]));
    for (const w of decision.waiting) {
      const r = byId.get(w.id)!;
      if (r.job.reason !== w.reason) { this.o.store.update(w.id, { reason: w.reason }); this.emitJob(w.id); }
    }
    for (const s of decision.start) this.launch(byId.get(s.id)!, s.gpus);
  }

  /** Start a job without holding up the pass: startJob's synchronous part (claimStart) has run when this returns,
   * so the job already holds its GPUs, CPUs and memory for the next pass. */
  private launch(rec: JobRecord, gpus: string[]): void {
    const p = this.startJob(rec, gpus).catch((e) => this.o.log.error({ job: rec.job.id, err: e }, 'starting a job failed'));
    this.starts.add(p);
    void p.finally(() => this.starts.delete(p));
  }

  private async startJob(rec: JobRecord, gpus: string[]): Promise<void> {
    const { id, spec } = { id: rec.job.id, spec: rec.job.spec };
    const d = this.o.drivers[spec.driver];
    const attempt = rec.job.attempt + 1;
    const now = this.now();
    if (this.disposed) return;
    // Conditional: a cancel (or remove) that raced this pass wins, and the job is not started.
    if (!this.o.store.claimStart(id, gpus, attempt, gpus.length ? `starting on ${gpus.length} GPU${gpus.length === 1 ? '' : 's'}` : 'starting', now)) return;
    this.emitJob(id);
    if (!d) return this.finish(id, 'failed', { reason: `driver ${spec.driver} is not enabled`, exit_code: null });
    const env: Record<string, string> = { FLEETML_JOB_ID: id, FLEETML_NODE: this.o.node, FLEETML_ATTEMPT: String(attempt) };
    // The job sees only its GPUs (by UUID: index order can differ between NVML and CUDA); an external queue binds its own.
    if (!d.capabilities.externalQueue) Object.assign(env, { NVIDIA_VISIBLE_DEVICES: gpus.length ? gpus.join(',') : 'void', CUDA_VISIBLE_DEVICES: gpus.join(',') });
    let handle: TaskHandle;
    try {
      handle = await d.start({ jobId: id, attempt, node: this.o.node, spec, gpuUuids: gpus, env, dir: join(this.o.logs.dir(id), `attempt-${attempt}`) });
    } catch (e) {
      if (this.disposed) return; // shutting down mid-start: the next agent's recovery decides (findStarted)
      if ((e as { retryable?: unknown }).retryable === true) {
        // the engine did not answer: queue again with the same attempt (the driver looks it up before submitting again)
        this.retryAt.set(id, this.now() + START_RETRY_MS);
        this.o.store.transition(id, 'queued', { attempt: rec.job.attempt, gpus: [], handle: null, reason: `${spec.driver} did not answer: ${(e as Error).message}` }, this.now());
        this.system(id, `start not confirmed: ${(e as Error).message}`);
        this.emitJob(id);
        return;
      }
      this.o.log.warn({ job: id, driver: spec.driver, err: (e as Error).message }, 'job start failed');
      this.system(id, `start failed: ${(e as Error).message}`);
      return this.finish(id, 'failed', { reason: `start failed: ${(e as Error).message}`, exit_code: null });
    }
    if (this.disposed) {
      // Stopping meanwhile: save the handle so that the next agent recovers the task; follow nothing here.
      try { this.o.store.update(id, { handle }); } catch { /* store closed: the next agent's findStarted adopts the task */ }
      return;
    }
    const cur = this.o.store.get(id);
    if (d.capabilities.externalQueue) {
      // Handed to the external queue: the handle is saved now; the job is reported queued (Slurm's reason) or running
      // as the driver's phase reports say (watch).
      this.o.store.transition(id, 'queued', { handle, reason: cur?.cancelRequested ? cur.job.reason : `submitted to ${spec.driver}${handle.slurm ? ` as job ${handle.slurm.job_id}` : ''}` }, this.now());
      this.system(id, `submitted to ${spec.driver} (attempt ${attempt})${handle.slurm ? `: Slurm job ${handle.slurm.job_id}${handle.slurm.partition ? `, partition ${handle.slurm.partition}` : ''}` : ''}`);
      this.emitJob(id);
      this.watch(id, spec, handle, undefined);
      return;
    }
    // Persist the handle in the same write that reports the job running (keep a cancel's reason if one came in).
    this.o.store.transition(id, 'running', { handle, started_at: this.now(), reason: cur?.cancelRequested ? cur.job.reason : gpus.length ? `running on ${gpus.join(', ')}` : 'running' }, this.now());
    this.system(id, `started (attempt ${attempt})${gpus.length ? ` on GPUs ${gpus.join(', ')}` : ''}`);
    this.emitJob(id);
    this.watch(id, spec, handle, undefined);
  }

  /** Attach logs, arm the timeout and wait for the exit of a started or recovered task. */
  private watch(id: string, spec: JobSpec, handle: TaskHandle, sinceTs: number | undefined): void {
    const d = this.o.drivers[spec.driver]!;
    const stopLogs = d.attachLogs(handle, (stream, line, ts) => this.o.logs.append(id, { ts, stream, line }), sinceTs);
    const rec = this.o.store.get(id)!;
    const l: Live = { handle, stopLogs, stopPhase: null, timeout: null, stopping: false, timedOut: false };
    this.live.set(id, l);
    if (d.watchPhase) l.stopPhase = d.watchPhase(handle, (p) => this.onPhase(id, spec, l, p));
    if (!d.capabilities.externalQueue) this.armTimeout(id, spec, l, rec.job.started_at);
    if (rec.cancelRequested && !l.stopping) this.stopLive(id, l);
    d.wait(handle)
      .then((exit) => this.onExit(id, spec, handle, exit), (e) => this.onExit(id, spec, handle, { exitCode: null, signal: null, oomKilled: false, error: (e as Error).message }))
      .catch((e) => { this.o.log.error({ err: e, job: id }, 'recording a job exit failed; retrying by recovery'); this.live.delete(id); this.retryRecover.add(id); });
  }

  /** An external queue's report: pending (queued, with its reason) or running (from its start time). */
  private onPhase(id: string, spec: JobSpec, l: Live, p: TaskPhase): void {
    if (this.live.get(id) !== l || this.disposed) return;
    const rec = this.o.store.get(id);
    if (!rec || TERMINAL_STATES.includes(rec.job.state)) return;
    const handle: TaskHandle = { ...l.handle, ...(p.slurm ? { slurm: p.slurm } : {}) };
    l.handle = handle;
    const keepCancel = rec.cancelRequested ? rec.job.reason : null;
    if (p.phase === 'running' && rec.job.state !== 'running') {
      // this run's start (a requeued job runs again from its new StartTime)
      const startedAt = p.startedAt ?? this.now();
      this.o.store.transition(id, 'running', { handle, started_at: startedAt, reason: keepCancel ?? p.reason }, this.now());
      this.system(id, `started: ${p.reason}`);
      this.armTimeout(id, spec, l, startedAt);
    } else if (p.phase === 'running' && !l.timeout) {
      // running when the agent (re)attached: the timeout counts from when it started
      this.o.store.update(id, { handle, ...(keepCancel ? {} : { reason: p.reason }) });
      this.armTimeout(id, spec, l, rec.job.started_at ?? p.startedAt ?? this.now());
    } else if (p.phase === 'pending' && rec.job.state !== 'queued') {
      // pending again after running: requeued by the engine (node failure, preemption)
      this.o.store.transition(id, 'queued', { handle, reason: keepCancel ?? p.reason }, this.now());
      if (l.timeout) { clearTimeout(l.timeout); l.timeout = null; }
      if (rec.job.state === 'running') this.system(id, `requeued: ${p.reason}`);
    } else {
      this.o.store.update(id, { handle, ...(keepCancel ? {} : { reason: p.reason }) });
    }
    this.emitJob(id);
  }

  /** Stop the task timeout_s after it started (re-armed in steps beyond Node's longest timer). */
  private armTimeout(id: string, spec: JobSpec, l: Live, startedAt: number | null): void {
    if (spec.timeout_s && startedAt) {
      const deadline = startedAt + spec.timeout_s * 1000;
      const arm = () => {
        const left = deadline - this.now();
        l.timeout = setTimeout(() => {
          if (deadline - this.now() > 0) return arm(); // a step of a timeout longer than Node's longest timer
          l.timedOut = true;
          if (l.stopping) return;
          this.system(id, `timed out after ${spec.timeout_s} s; stopping`);
          this.stopLive(id, l);
        }, Math.min(MAX_TIMER_MS, Math.max(0, left)));
        l.timeout.unref();
      };
      arm();
    }
  }

  private describeExit(exit: TaskExit): string {
    if (exit.error) return exit.error;
    const detail = exit.detail ? `, ${exit.detail}` : '';
    if (exit.endedBy === 'timeout') return `time limit reached${detail}`;
    if (exit.endedBy === 'cancelled') return `cancelled outside fleetml${detail}`;
    if (exit.endedBy === 'lost') return `lost${detail}`;
    if (exit.oomKilled) return `OOM killed${exit.exitCode !== null ? ` (exit code ${exit.exitCode})` : ''}${detail}`;
    if (exit.signal) return `killed by ${exit.signal}${exit.exitCode !== null ? ` (exit code ${exit.exitCode})` : ''}${detail}`;
    return `exit code ${exit.exitCode}${detail}`;
  }

  private async onExit(id: string, spec: JobSpec, handle: TaskHandle, exit: TaskExit): Promise<void> {
    const l = this.live.get(id);
    if (this.disposed) return; // the agent is stopping: the task's end is recorded by the next agent's recovery
    const d = this.o.drivers[spec.driver];
    if (exit.error && d) {
      // An engine that went away is not a job failure: keep the job running and re-attach when it is back.
      const fp = await d.fingerprint().catch((e) => ({ available: false, reason: (e as Error).message }));
      if (!fp.available) {
        if (l) { if (l.timeout) clearTimeout(l.timeout); l.stopLogs(); l.stopPhase?.(); this.live.delete(id); }
        this.o.store.update(id, { reason: `driver ${spec.driver} unavailable (${fp.reason}); will re-attach` });
        this.emitJob(id);
        this.retryRecover.add(id);
        return;
      }
    }
    if (l) {
      if (l.timeout) clearTimeout(l.timeout);
      l.stopPhase?.();
      this.live.delete(id);
      // The final state is recorded only once the driver delivered everything the task wrote (its log attachment
      // is drained), so output written just before the exit is never cut off. Bounded, so that a driver that cannot
      // finish reading (an engine gone at that moment) does not hold the job in running.
      let bound: NodeJS.Timeout | undefined;
      const drained = await Promise.race([l.stopLogs.drained.then(() => true), new Promise<false>((r) => { bound = setTimeout(() => r(false), LOG_DRAIN_MAX_MS); bound.unref(); })]);
      clearTimeout(bound);
      if (this.disposed) return; // the agent stopped meanwhile: the next agent's recovery records the end
      if (!drained) this.o.log.warn({ job: id, waitedMs: LOG_DRAIN_MAX_MS }, 'job output not drained in time; recording the exit anyway');
      l.stopLogs();
    }
    const rec = this.o.store.get(id);
    if (!rec || TERMINAL_STATES.includes(rec.job.state)) return;
    const now = this.now();
    const what = this.describeExit(exit);
    const fields = { exit_code: exit.exitCode, oom_killed: exit.oomKilled };
    this.system(id, `exited: ${what}`);
    if (l) this.o.store.update(id, { handle: l.handle }); // the engine's last word on the task (Slurm's final state)
    if (rec.cancelRequested) await this.finish(id, 'cancelled', { ...fields, reason: (rec.job.reason ?? 'cancelled').replace(/ \(stopping\)$/, '') + ` (${what})` });
    else if (l?.timedOut) await this.finish(id, 'failed', { ...fields, reason: `timed out after ${spec.timeout_s} s (${what})` });
    else if (exit.endedBy === 'timeout') await this.finish(id, 'failed', { ...fields, reason: `timed out: ${what}` });
    else if (exit.endedBy === 'cancelled') await this.finish(id, 'cancelled', { ...fields, reason: what });
    else if (exit.endedBy === 'lost') await this.finish(id, 'lost', { ...fields, reason: what });
    else if (exit.exitCode === 0 && !exit.error && !exit.oomKilled) await this.finish(id, 'succeeded', { ...fields, reason: 'exit code 0' });
    else if (spec.restart.policy === 'on-failure' && rec.job.attempt <= spec.restart.max_retries) {
      this.o.store.transition(id, 'queued', { ...fields, gpus: [], handle: null, reason: `restarting after ${what} (attempt ${rec.job.attempt + 1} of ${spec.restart.max_retries + 1})` }, now);
      this.emitJob(id);
    } else await this.finish(id, 'failed', { ...fields, reason: what });
    d?.destroy(handle).catch(() => undefined);
    this.schedule();
  }

  private async finish(id: string, state: JobState, f: { reason: string; exit_code: number | null; oom_killed?: boolean }): Promise<void> {
    this.o.store.transition(id, state, { reason: f.reason, exit_code: f.exit_code, oom_killed: f.oom_killed ?? false, finished_at: this.now(), cancel_requested: false }, this.now());
    this.emitJob(id);
    this.schedule();
  }

  // ---- recovery -------------------------------------------------------------------------------------------

  private async recoverOne(rec: JobRecord): Promise<void> {
    const id = rec.job.id;
    try {
      await this.recoverInner(rec);
    } catch (e) {
      // A bad row or handle must not keep the agent from starting, nor stop the other jobs' recovery.
      this.o.log.error({ job: id, err: (e as Error).message }, 'recovery failed');
      await this.finish(id, 'lost', { reason: `recovery failed: ${(e as Error).message}`, exit_code: null }).catch(() => undefined);
    }
  }

  private async recoverInner(rec: JobRecord): Promise<void> {
    const id = rec.job.id;
    const d = this.o.drivers[rec.job.spec.driver];
    if (!d) return this.finish(id, 'lost', { reason: `driver ${rec.job.spec.driver} is no longer enabled`, exit_code: null });
    let handle = rec.handle;
    if (!handle) {
      // The agent died between asking the driver to start and saving the handle. Never start the attempt twice:
      // adopt the task if the driver finds it, queue again only if it certainly never started.
      let found: TaskHandle | null | 'unknown';
      try { found = await d.findStarted(id, rec.job.attempt, join(this.o.logs.dir(id), `attempt-${rec.job.attempt}`)); } catch (e) {
        this.retryRecover.add(id);
        this.o.store.update(id, { reason: `cannot check the driver yet: ${(e as Error).message}` });
        return;
      }
      if (found === null) {
        this.system(id, 'the agent stopped before this job started; queued again');
        this.o.store.transition(id, 'queued', { gpus: [], reason: 'queued again: the agent stopped before the job started' }, this.now());
        this.emitJob(id);
        return;
      }
      if (found === 'unknown') {
        this.system(id, 'the agent stopped while this job was starting; it may have run and is not restarted');
        return this.finish(id, 'lost', { reason: 'agent stopped while the job was starting', exit_code: null });
      }
      handle = found;
      this.o.store.update(id, { handle });
    }
    let ok: boolean;
    try { ok = await d.recover(handle); } catch (e) {
      // engine restarting or down: report, retry, never fatal
      const reason = `cannot re-attach yet: ${(e as Error).message}`;
      if (rec.job.reason !== reason) { this.o.store.update(id, { reason }); this.emitJob(id); }
      this.retryRecover.add(id);
      return;
    }
    if (!ok) {
      this.system(id, 'task not found after the agent restarted');
      return this.finish(id, 'lost', { reason: 'task not found after the agent restarted', exit_code: null });
    }
    const sinceTs = this.o.logs.lastTs(id);
    this.system(id, 're-attached after an agent restart');
    // an external queue's phase report says whether a recovered job is pending or running
    if (rec.job.state === 'starting' && !d.capabilities.externalQueue) {
      this.o.store.transition(id, 'running', { started_at: rec.job.started_at ?? this.now(), reason: 'running (recovered)' }, this.now());
    }
    this.emitJob(id);
    this.watch(id, rec.job.spec, handle, sinceTs);
  }

  /** Stop scheduling and detach from tasks (they keep running; the next agent recovers them). */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    // let a pass and the starts in flight settle (bounded: a hung engine call ends at its own timeout, and the next
    // agent's recovery decides about a start that did not settle: findStarted)
    for (let i = 0; i < 50 && (this.scheduling || this.starts.size > 0); i++) await new Promise((r) => setTimeout(r, 20));
    for (const l of this.live.values()) { if (l.timeout) clearTimeout(l.timeout); l.stopLogs(); l.stopPhase?.(); }
    this.live.clear();
  }
}
