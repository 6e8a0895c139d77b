import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine } from '../../shared/protocol/jobs.js';

/** Folder names that are job ids (j_ and hex, as JobManager.submit makes them). */
const JOB_DIR = /^j_[0-9a-f]{1,64}$/;

/** Listener of new lines of one job. */
export type LineListener = (l: LogLine) => void;

/**
 * Output of every job, stored under <jobsDir>/<id>/output.jsonl (one JSON line per output line) with a size cap:
 * past maxBytes the file rotates to output.1.jsonl (one older generation kept), so a chatty job costs at most
 * about 2 × maxBytes. Kept after the job ends, until the job is removed. Lines longer than 16 KiB are cut.
 * A job's folder is created only after its row exists and removed only after its row is gone, so a folder without a
 * row is what a crash (or a failed delete) left between the two: sweepOrphans removes those.
 */
export class LogStore {
  private listeners = new Map<string, Set<LineListener>>();
  private sizes = new Map<string, number>();
  constructor(private readonly jobsDir: string, private readonly maxBytes: number) {}

  /** The job's own directory (drivers keep their files in per-attempt subfolders). */
  dir(id: string): string { return join(this.jobsDir, id); }

  append(id: string, l: LogLine): void {
    const line = l.line.length > 16_384 ? l.line.slice(0, 16_384) + '…[cut]' : l.line;
    const rec = { ...l, line };
    const text = JSON.stringify(rec) + '\n';
    const dir = this.dir(id);
    const file = join(dir, 'output.jsonl');
    let size = this.sizes.get(id);
    if (size === undefined) { mkdirSync(dir, { recursive: true }); size = existsSync(file) ? statSync(file).size : 0; }
    if (size + text.length > this.maxBytes && size > 0) { renameSync(file, join(dir, 'output.1.jsonl')); size = 0; }
    appendFileSync(file, text);
    this.sizes.set(id, size + text.length);
    for (const f of this.listeners.get(id) ?? []) { try { f(rec); } catch { /* a listener bug must not stop logging */ } }
  }

  /** Stored lines, oldest first: newer than `since`, the last `tail` of them. `truncated` when rotation dropped lines. */
  read(id: string, since?: number, tail?: number): { lines: LogLine[]; truncated: boolean } {
    const dir = this.dir(id);
    const lines: LogLine[] = [];
    const old = join(dir, 'output.1.jsonl');
    for (const f of [old, join(dir, 'output.jsonl')]) {
      if (!existsSync(f)) continue;
      for (const t of readFileSync(f, 'utf8').split('\n')) {
        if (!t) continue;
        try { const l = JSON.parse(t) as LogLine; if (since === undefined || l.ts > since) lines.push(l); } catch { /* torn last line after a crash */ }
      }
    }
    const out = tail !== undefined && lines.length > tail ? lines.slice(-tail) : lines;
    return { lines: out, truncated: existsSync(old) };
  }

  /** Timestamp of the last stored line of the task's own output (to resume a driver's log stream without repeats;
   * the agent's `system` lines do not count: they are stamped with the agent's clock, not the task's). */
  lastTs(id: string): number | undefined {
    const r = this.read(id).lines;
    for (let i = r.length - 1; i >= 0; i--) if (r[i].stream !== 'system') return r[i].ts;
    return undefined;
  }

  subscribe(id: string, f: LineListener): () => void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(f);
    return () => { set!.delete(f); if (set!.size === 0) this.listeners.delete(id); };
  }

  /** Remove the folders of jobs that no longer exist (`exists` says which do); returns the ids removed. Only names
   * shaped like a job id are touched: anything else an operator put under the jobs folder stays. */
  sweepOrphans(exists: (id: string) => boolean): string[] {
    let names: string[];
    try { names = readdirSync(this.jobsDir); } catch { return []; } // no job ever ran: no folder
    const gone: string[] = [];
    for (const n of names) {
      if (!JOB_DIR.test(n) || exists(n)) continue;
      this.remove(n);
      gone.push(n);
    }
    return gone;
  }

  /** Delete a job's stored output and its drivers' files (throws when the folder cannot be removed). */
  remove(id: string): void {
    this.sizes.delete(id);
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}
