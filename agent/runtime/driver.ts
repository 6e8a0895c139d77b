import type { DriverName, DriverSweep, JobSpec, SlurmCluster, SlurmJobInfo } from '../../shared/protocol/jobs.js';

// The task-driver contract, shaped like Nomad's (plugins/drivers/driver.go).
//
// Lifecycle, as the job manager drives it:
//   validate(spec)            at submission: refuse what can never run here (unknown image, …)
//   start(cfg) → handle       the manager persists the handle BEFORE it reports the job running
//   wait(handle) → exit       resolves once, when the task has exited (also for a recovered task)
//   stop(handle, grace)       SIGTERM, then SIGKILL after grace seconds; idempotent
//   inspect(handle)           running or exited (with the exit) — never throws for a gone task
//   recover(handle)           after an agent restart: re-attach, or report the task gone (→ job lost)
//   destroy(handle)           free everything the task left (container, files the driver owns); idempotent
//   sweepUnclaimed(claims)    optional, after recovery: find tasks no job claims, remove this node's, report all
// Invariant: a task is never started twice for the same (job id, attempt); recover() never starts anything.

/** What a driver can do. */
export interface DriverCapabilities {
  /** Can pass exactly the assigned GPUs to the task. */
  gpus: boolean;
  /** Honours bind mounts. */
  mounts: boolean;
  /** Honours spec.network. */
  network: boolean;
  /** Tells an OOM kill apart from other exits. */
  oomDetection: boolean;
  /** The task keeps running while the agent restarts. */
  survivesAgentRestart: boolean;
  /** The engine behind the driver queues and places tasks itself (Slurm): the node-local admission does not hold
   * them back or give them local GPUs; start() submits at once, and watchPhase() reports pending and running. */
  externalQueue: boolean;
}

/** Where a task of an external queue is (watchPhase): waiting in the engine's queue, or running. */
export interface TaskPhase {
  phase: 'pending' | 'running';
  /** Why it waits (the engine's reason, in words), or where it runs. */
  reason: string;
  /** When it started running (engine clock), if known. */
  startedAt: number | null;
  /** What is shown of the task's engine side (Slurm id, partition, state, reason). */
  slurm: SlurmJobInfo | null;
}

/** Everything a driver needs to start one attempt of a job. */
export interface TaskConfig {
  jobId: string;
  attempt: number;
  node: string;
  spec: JobSpec;
  /** GPU UUIDs assigned to this attempt (exclusive); the task must see only these. */
  gpuUuids: string[];
  /** Environment to add on top of spec.env (NVIDIA_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES, FLEETML_JOB_ID, …). */
  env: Record<string, string>;
  /** A directory owned by this attempt (the driver may keep stdout/stderr files and exit markers there). */
  dir: string;
}

/** A started task, as persisted in SQLite: JSON-serialisable, enough to recover after an agent restart. */
export interface TaskHandle {
  driver: DriverName;
  jobId: string;
  attempt: number;
  /** Driver-specific: container id, pid + start time + file paths, … */
  state: Record<string, unknown>;
  /** The engine side as last seen (slurm driver), reported with the job. */
  slurm?: SlurmJobInfo;
}

/** How a task ended. */
export interface TaskExit {
  exitCode: number | null;
  /** Signal name when killed by one (SIGKILL, SIGTERM). */
  signal: string | null;
  oomKilled: boolean;
  /** A driver-level failure (engine gone, …), else null. */
  error: string | null;
  /** An engine that ended the task itself says why (slurm driver): its time limit, a cancel from outside fleetml, or a
   * node failure (the job becomes lost). Absent: the task exited by itself (or was stopped by the agent). */
  endedBy?: 'timeout' | 'cancelled' | 'lost';
  /** The engine's own words for the end, e.g. "Slurm TIMEOUT (time limit 00:01:00)". */
  detail?: string;
}

/** Receives output lines of a task (split on \n, without it). */
export type LogSink = (stream: 'stdout' | 'stderr', line: string, ts: number) => void;

/** What attachLogs returns: call it to detach. `drained` resolves once the attachment has delivered everything the
 * task wrote — the task has exited and its output was read to the end — or once it was detached. The job manager
 * waits for it before it records a final state, so output written just before the exit is never cut off. */
export type LogDetach = (() => void) & { readonly drained: Promise<void> };

/** A LogDetach from a detach function and the drained promise. */
export function logDetach(stop: () => void, drained: Promise<void>): LogDetach {
  return Object.assign(() => stop(), { drained });
}

/** A job that claims a task: one in queued-with-handle, starting or running, with its current attempt and handle
 * (null while starting, or after a crash between start() and the handle being saved). */
export interface TaskClaim { jobId: string; attempt: number; handle: TaskHandle | null }

/** One task driver. Implementations: docker/, process/, fake/, slurm/. */
export interface Driver {
  readonly name: DriverName;
  readonly capabilities: DriverCapabilities;
  /** Whether the driver can run tasks here now (e.g. the container engine answers), and why not. */
  fingerprint(): Promise<{ available: boolean; reason: string | null }>;
  /** A reason the spec can never run on this node, or null. Called at submission. */
  validate(spec: JobSpec): Promise<string | null>;
  /** Throws on failure; an error with `retryable: true` (an engine that did not answer) puts the job back in the
   * queue to be tried again with the same attempt number, instead of failing it. */
  start(cfg: TaskConfig): Promise<TaskHandle>;
  wait(handle: TaskHandle): Promise<TaskExit>;
  stop(handle: TaskHandle, graceS: number): Promise<void>;
  inspect(handle: TaskHandle): Promise<{ running: boolean; exit: TaskExit | null }>;
  /** Re-attach after an agent restart; false when the task is gone without a trace (the job becomes lost). */
  recover(handle: TaskHandle): Promise<boolean>;
  /** Stream the task's output to sink; returns a disposer. After a re-attach, lines already delivered must not be
   * delivered again: drivers with engine timestamps skip lines at or before `sinceTs`; drivers without them
   * (process) persist their own read offsets in the task dir and resume from there. */
  attachLogs(handle: TaskHandle, sink: LogSink, sinceTs?: number): LogDetach;
  destroy(handle: TaskHandle): Promise<void>;
  /** External queues (capabilities.externalQueue): report the task's phase, at once and on every change, until the
   * returned function is called. */
  watchPhase?(handle: TaskHandle, onPhase: (p: TaskPhase) => void): () => void;
  /** External queues: the cluster as last read (partitions, free GPUs), for node.resources and placement. */
  cluster?(): SlurmCluster | null;
  /** After a crash between start() and the handle being saved: the task of (job, attempt) if it exists (adopt it),
   * null if it certainly never started (safe to queue again), 'unknown' if it may have started untraceably. */
  findStarted(jobId: string, attempt: number, dir: string): Promise<TaskHandle | null | 'unknown'>;
  /** Find the driver's tasks that no job claims — neither by the task named in its handle nor by (job, attempt) —
   * and remove this node's ones (mode remove), leaving other nodes' alone; report all of them. `claims` is read
   * after the engine was listed, so a task started meanwhile is claimed. Never throws: a failure is `error`. */
  sweepUnclaimed?(claims: () => TaskClaim[], mode: 'remove' | 'report'): Promise<DriverSweep>;
  /** Release engine connections, timers. */
  dispose(): Promise<void>;
}
