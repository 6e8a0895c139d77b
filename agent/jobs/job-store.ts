import { z } from 'zod';
import type { Db } from '../store/db.js';
import { decodeStored, type DecodeWarn } from '../store/decode.js';
import { JobSpec, type Job, type JobState } from '../../shared/protocol/jobs.js';
import type { TaskHandle } from '../runtime/driver.js';

interface Row {
  id: string; name: string | null; spec: string; state: JobState; reason: string | null; exit_code: number | null;
  oom_killed: number; gpus: string; attempt: number; handle: string | null; priority: number; submitted_by: string;
  submitted_at: number; started_at: number | null; finished_at: number | null; cancel_requested: number;
}

const GpuList = z.array(z.string());

/** A job row plus what only the agent needs (handle, cancel flag). */
export interface JobRecord { job: Omit<Job, 'node' | 'history'>; handle: TaskHandle | null; cancelRequested: boolean }

/** Fields a transition may set besides the state. */
export interface TransitionFields {
  reason?: string | null; exit_code?: number | null; oom_killed?: boolean; gpus?: string[]; attempt?: number;
  handle?: TaskHandle | null; started_at?: number | null; finished_at?: number | null; cancel_requested?: boolean;
}

/** Jobs repository: every state change and its history row are written in one transaction (persist before report). */
export class JobStore {
  constructor(private readonly db: Db, private readonly warn?: DecodeWarn) {}

  private toRecord(r: Row): JobRecord {
    return {
      job: {
        id: r.id, name: r.name, spec: decodeStored(JobSpec, r.spec, { table: 'jobs', id: r.id, column: 'spec' }, this.warn), state: r.state, reason: r.reason, exit_code: r.exit_code,
        oom_killed: r.oom_killed === 1, gpus: decodeStored(GpuList, r.gpus, { table: 'jobs', id: r.id, column: 'gpus' }, this.warn), attempt: r.attempt, submitted_by: r.submitted_by,
        submitted_at: r.submitted_at, started_at: r.started_at, finished_at: r.finished_at,
      },
      handle: r.handle ? (JSON.parse(r.handle) as TaskHandle) : null,
      cancelRequested: r.cancel_requested === 1,
    };
  }

  /** Insert a queued job with its first history row. */
  insert(id: string, spec: JobSpec, by: string, now: number, reason: string | null): void {
    this.db.transaction(() => {
      this.db.prepare(`INSERT INTO jobs (id, name, spec, state, reason, priority, submitted_by, submitted_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)`)
        .run(id, spec.name ?? null, JSON.stringify(spec), reason, spec.priority, by, now);
      this.db.prepare('INSERT INTO job_events (job_id, ts, state, reason) VALUES (?, ?, ?, ?)').run(id, now, 'queued', reason);
    })();
  }

  /** Change state (and fields) and append a history row, atomically. */
  transition(id: string, state: JobState, f: TransitionFields, now: number): void {
    const sets = ['state = @state'];
    const p: Record<string, unknown> = { id, state };
    const col = (k: string, v: unknown) => { sets.push(`${k} = @${k}`); p[k] = v; };
    if (f.reason !== undefined) col('reason', f.reason);
    if (f.exit_code !== undefined) col('exit_code', f.exit_code);
    if (f.oom_killed !== undefined) col('oom_killed', f.oom_killed ? 1 : 0);
    if (f.gpus !== undefined) col('gpus', JSON.stringify(f.gpus));
    if (f.attempt !== undefined) col('attempt', f.attempt);
    if (f.handle !== undefined) col('handle', f.handle ? JSON.stringify(f.handle) : null);
    if (f.started_at !== undefined) col('started_at', f.started_at);
    if (f.finished_at !== undefined) col('finished_at', f.finished_at);
    if (f.cancel_requested !== undefined) col('cancel_requested', f.cancel_requested ? 1 : 0);
    this.db.transaction(() => {
      this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = @id`).run(p);
      this.db.prepare('INSERT INTO job_events (job_id, ts, state, reason) VALUES (?, ?, ?, ?)').run(id, now, state, f.reason ?? null);
    })();
  }

  /** queued → starting, only if the job is still queued and no cancel was asked for (a cancel may race a start).
   * Returns false when the job is no longer startable. */
  claimStart(id: string, gpus: string[], attempt: number, reason: string, now: number): boolean {
    return this.db.transaction(() => {
      const r = this.db.prepare(`UPDATE jobs SET state = 'starting', gpus = ?, attempt = ?, reason = ?, handle = NULL, exit_code = NULL, oom_killed = 0
        WHERE id = ? AND state = 'queued' AND cancel_requested = 0`).run(JSON.stringify(gpus), attempt, reason, id);
      if (r.changes === 0) return false;
      this.db.prepare('INSERT INTO job_events (job_id, ts, state, reason) VALUES (?, ?, ?, ?)').run(id, now, 'starting', reason);
      return true;
    })();
  }

  /** Update fields without a state change (no history row): handle saved, reason of a queued job. */
  update(id: string, f: Pick<TransitionFields, 'handle' | 'reason' | 'cancel_requested'>): void {
    if (f.handle !== undefined) this.db.prepare('UPDATE jobs SET handle = ? WHERE id = ?').run(f.handle ? JSON.stringify(f.handle) : null, id);
    if (f.reason !== undefined) this.db.prepare('UPDATE jobs SET reason = ? WHERE id = ?').run(f.reason, id);
    if (f.cancel_requested !== undefined) this.db.prepare('UPDATE jobs SET cancel_requested = ? WHERE id = ?').run(f.cancel_requested ? 1 : 0, id);
  }

  /** Whether a job row of that exact id exists (no decoding). */
  exists(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM jobs WHERE id = ?').get(id) !== undefined;
  }

  get(id: string): JobRecord | null {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? this.toRecord(r) : null;
  }

  /** Jobs with a unique id prefix match (CLI convenience); null when none or ambiguous. */
  resolve(idOrPrefix: string): JobRecord | null {
    const exact = this.get(idOrPrefix);
    if (exact) return exact;
    const rows = this.db.prepare("SELECT * FROM jobs WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(idOrPrefix.replace(/[%_\\]/g, (c) => `\\${c}`) + '%') as Row[];
    return rows.length === 1 ? this.toRecord(rows[0]) : null;
  }

  /** Jobs in the given states (all when omitted), newest first. */
  list(states?: JobState[], limit = 10_000): JobRecord[] {
    const rows = states?.length
      ? this.db.prepare(`SELECT * FROM jobs WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY submitted_at DESC, id DESC LIMIT ?`).all(...states, limit) as Row[]
      : this.db.prepare('SELECT * FROM jobs ORDER BY submitted_at DESC, id DESC LIMIT ?').all(limit) as Row[];
    return rows.map((r) => this.toRecord(r));
  }

  history(id: string): Job['history'] {
    return this.db.prepare('SELECT ts, state, reason FROM job_events WHERE job_id = ? ORDER BY id').all(id) as Job['history'];
  }

  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id).changes > 0;
  }
}
