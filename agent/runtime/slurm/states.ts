// Slurm job states → fleetml: pending → queued (with Slurm's reason), running, and the ways a job ends. Pure.
//
//   PENDING, REQUEUED, REQUEUE_HOLD, REQUEUE_FED, RESV_DEL_HOLD  → pending ("queued", reason: Slurm's)
//   CONFIGURING, RUNNING, COMPLETING, SUSPENDED, STOPPED, RESIZING, SIGNALING, STAGE_OUT → running
//   COMPLETED → exit (0 → succeeded); FAILED → exit with its code → failed
//   OUT_OF_MEMORY → failed, OOM killed;   TIMEOUT, DEADLINE → failed, timed out
//   CANCELLED → cancelled (by fleetml's cancel, or "cancelled in Slurm" from outside)
//   NODE_FAIL, BOOT_FAIL, PREEMPTED (not requeued), SPECIAL_EXIT, REVOKED → lost / failed with Slurm's words

import type { TaskExit } from '../driver.js';
import type { JobRecordView } from './parse.js';

const PENDING = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);
const RUNNING = new Set(['CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'UPDATE_DB', 'POWER_UP_NODE']);

/** Where a Slurm state puts a job. */
export function phaseOfState(state: string): 'pending' | 'running' | 'ended' {
  const s = state.toUpperCase();
  if (PENDING.has(s)) return 'pending';
  if (RUNNING.has(s)) return 'running';
  return 'ended';
}

/** Slurm's pending reasons in words a user acts on (the code is kept: users search for it). */
export function pendingReason(reason: string | null): string {
  const r = reason ?? 'None';
  const words: Record<string, string> = {
    Resources: 'waiting for resources (the GPUs, CPUs or memory it asks for are taken)',
    Priority: 'waiting behind jobs of higher priority',
    None: 'waiting to be scheduled',
    Dependency: 'waiting for a dependency',
    JobHeldUser: 'held by its user (scontrol release)',
    JobHeldAdmin: 'held by an administrator',
    BeginTime: 'waiting for its begin time',
    ReqNodeNotAvail: 'a node it needs is not available',
    PartitionDown: 'its partition is down',
    PartitionInactive: 'its partition is inactive',
    QOSMaxGRESPerUser: 'at its QOS limit of GPUs per user',
    AssocGrpGRES: 'at its account\'s GPU limit',
    BadConstraints: 'its constraints can never be met',
  };
  const w = words[r] ?? (r.startsWith('QOS') || r.startsWith('Assoc') ? 'at a limit of its QOS or account' : null);
  return w ? `${r}: ${w}` : r;
}

/** The exit of an ended job, from Slurm's record (scontrol or sacct). */
export function exitOfRecord(j: JobRecordView): TaskExit {
  const code = j.exit?.code ?? null;
  const sig = j.exit && j.exit.signal > 0 ? j.exit.signal : null;
  const signal = sig === null ? null : SIGNALS[sig] ?? `signal ${sig}`;
  const base: TaskExit = { exitCode: code, signal, oomKilled: false, error: null };
  const state = j.state.toUpperCase();
  switch (state) {
    case 'COMPLETED':
    case 'FAILED':
      // OverMemoryKill (jobacct_gather, no cgroups) ends the job as FAILED (JobLaunchFailure) after SIGKILL; the
      // driver tells that apart by Slurm's own line in the job's stderr (see SlurmDriver).
      return base;
    case 'OUT_OF_MEMORY':
      return { ...base, oomKilled: true, detail: 'Slurm OUT_OF_MEMORY' };
    case 'TIMEOUT':
      return { ...base, endedBy: 'timeout', detail: `Slurm TIMEOUT${j.timeLimit ? ` (time limit ${j.timeLimit})` : ''}` };
    case 'DEADLINE':
      return { ...base, endedBy: 'timeout', detail: 'Slurm DEADLINE (its deadline passed)' };
    case 'CANCELLED':
      return { ...base, endedBy: 'cancelled', detail: 'Slurm CANCELLED' };
    case 'NODE_FAIL':
      return { ...base, endedBy: 'lost', detail: `Slurm NODE_FAIL${j.nodes ? ` (node ${j.nodes})` : ''}` };
    case 'BOOT_FAIL':
      return { ...base, endedBy: 'lost', detail: 'Slurm BOOT_FAIL (its node failed to boot)' };
    default:
      // PREEMPTED (not requeued), SPECIAL_EXIT, REVOKED, …: an end the job did not choose
      return { ...base, exitCode: code ?? null, error: `ended by Slurm: ${state}${j.reason ? ` (${j.reason})` : ''}` };
  }
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM', 10: 'SIGUSR1', 12: 'SIGUSR2' };
