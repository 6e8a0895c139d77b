// Slurm's commands, run by the agent on the login node: each with a deadline, no shell, and the config file the
// agent was given (SLURM_CONF). Errors say which command failed and what Slurm printed.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { SQUEUE_FORMAT, SACCT_FORMAT, parseSqueue, parseScontrol, jobFromScontrol, jobFromSacct, type QueueRow, type JobRecordView } from './parse.js';

/** Slurm no longer (or never) knew the job: "Invalid job id specified". */
const invalidJobId = (e: unknown) => e instanceof SlurmCommandError && /Invalid job id/i.test(e.message);

/** Job ids per squeue call: one -j argument stays far below Linux's 128 KiB per argument. */
const QUEUE_CHUNK = 1000;

/** Whether a failed sbatch may still have reached the controller, or could not have (the controller is away):
 * either way it is worth another try later, unlike a refusal ("Batch job submission failed: Invalid partition"). */
export function transientSubmitError(e: unknown): boolean {
  if (!(e instanceof SlurmCommandError) || e.missing) return false;
  return /did not answer|Unable to contact|Socket timed out|Connection refused|Zero Bytes were transmitted|Communication connection failure|temporarily unavailable/i.test(e.message);
}

/** How the commands are found and run. */
export interface SlurmCommandOptions { binDir: string | null; conf: string | null; timeoutMs: number }

/** A Slurm command that failed (exit code, timeout, missing binary), with Slurm's own message. */
export class SlurmCommandError extends Error {
  constructor(readonly command: string, message: string, readonly stderr: string, readonly missing = false) { super(message); }
}

/** The commands the slurm driver uses. */
export class SlurmCommands {
  private accountingOff = false;

  constructor(private readonly o: SlurmCommandOptions) {}

  /** Run one command; stdout on success. */
  run(cmd: string, args: string[]): Promise<string> {
    const file = this.o.binDir ? join(this.o.binDir, cmd) : cmd;
    const env = { ...process.env, ...(this.o.conf ? { SLURM_CONF: this.o.conf } : {}) };
    return new Promise((resolve, reject) => {
      execFile(file, args, { env, timeout: this.o.timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const said = String(stderr).trim().split('\n').slice(-3).join(' ').slice(0, 500);
        if (e.code === 'ENOENT') return reject(new SlurmCommandError(cmd, `${cmd} not found${this.o.binDir ? ` in ${this.o.binDir}` : ' on PATH'} (install Slurm's client commands, or set jobs.slurm.bin_dir)`, said, true));
        if (e.killed) return reject(new SlurmCommandError(cmd, `${cmd} did not answer in ${this.o.timeoutMs} ms (jobs.slurm.command_timeout_ms): is slurmctld up?`, said));
        reject(new SlurmCommandError(cmd, `${cmd} failed (exit ${e.code})${said ? `: ${said}` : ''}`, said));
      });
    });
  }

  /** sbatch: the new job's id. */
  async submit(args: string[]): Promise<string> {
    const out = (await this.run('sbatch', args)).trim();
    // --parsable prints "id" or "id;cluster"
    const id = out.split('\n').pop()!.split(';')[0].trim();
    if (!/^\d+$/.test(id)) throw new SlurmCommandError('sbatch', `sbatch printed no job id (${out.slice(0, 200)})`, '');
    return id;
  }

  /** squeue for these jobs (all states the controller still holds), QUEUE_CHUNK ids per call. */
  async queue(ids: string[]): Promise<QueueRow[]> {
    if (ids.length === 0) return [];
    if (ids.length > QUEUE_CHUNK) {
      const rows: QueueRow[] = [];
      for (let i = 0; i < ids.length; i += QUEUE_CHUNK) rows.push(...(await this.queue(ids.slice(i, i + QUEUE_CHUNK))));
      return rows;
    }
    // squeue fails for the whole list when one id is unknown to the controller (aged out): then ask one by one
    try {
      return parseSqueue(await this.run('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', SQUEUE_FORMAT]));
    } catch (e) {
      if (!invalidJobId(e)) throw e;
      if (ids.length === 1) return [];
      const rows: QueueRow[] = [];
      for (const id of ids) rows.push(...(await this.queue([id])));
      return rows;
    }
  }

  /** Jobs of this user with a comment, for finding an attempt submitted just before a crash. */
  async queueAll(): Promise<QueueRow[]> {
    return parseSqueue(await this.run('squeue', ['-h', '--me', '-t', 'all', '-o', SQUEUE_FORMAT]));
  }

  /** The controller's record of one job, or null when it no longer holds it (older than MinJobAge). */
  async job(id: string): Promise<JobRecordView | null> {
    try {
      const recs = parseScontrol(await this.run('scontrol', ['-o', 'show', 'job', id]));
      return recs.map(jobFromScontrol).find((j) => j?.id === id) ?? null;
    } catch (e) {
      if (invalidJobId(e)) return null;
      throw e;
    }
  }

  /** The accounting record of one job, or null (no accounting, or not recorded). */
  async accounting(id: string): Promise<JobRecordView | null> {
    if (this.accountingOff) return null;
    try {
      return jobFromSacct(await this.run('sacct', ['-n', '-P', '-X', '-j', id, '-o', SACCT_FORMAT]), id);
    } catch (e) {
      if (e instanceof SlurmCommandError && /accounting storage is disabled/i.test(e.message)) { this.accountingOff = true; return null; }
      if (e instanceof SlurmCommandError && e.missing) { this.accountingOff = true; return null; }
      throw e;
    }
  }

  /** scancel (SIGTERM, then SIGKILL after the cluster's KillWait). A job already gone is not an error. */
  async cancel(id: string): Promise<void> {
    try { await this.run('scancel', [id]); } catch (e) {
      if (e instanceof SlurmCommandError && /Invalid job id|already completing or completed/i.test(e.message)) return;
      throw e;
    }
  }

  /** scontrol -d -o show node, show partition, and (withConfig) show config, for ClusterName. */
  async clusterState(withConfig: boolean): Promise<{ nodes: Array<Record<string, string>>; partitions: Array<Record<string, string>>; config: string | null }> {
    const [nodes, partitions, config] = await Promise.all([
      this.run('scontrol', ['-d', '-o', 'show', 'node']), this.run('scontrol', ['-o', 'show', 'partition']), withConfig ? this.run('scontrol', ['show', 'config']) : Promise.resolve(null),
    ]);
    return { nodes: parseScontrol(nodes), partitions: parseScontrol(partitions), config };
  }
}
