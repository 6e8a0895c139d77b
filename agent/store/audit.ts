import { createHash } from 'node:crypto';
import type { Db } from './db.js';

/** One audit row: who did what, a digest of the params (not the params: they may hold secrets or tensors), and the outcome.
 * Rows the agent writes for its own decisions (rollouts) also carry a JSON `detail` (why, and the figures). */
export interface AuditEntry { ts: number; token_name: string; role: string; method: string; params_digest: string; outcome: string; remote: string | null }

/** The same text as JSON.stringify(value) for JSON data (what JSON.parse returns), written without recursion: params
 * nested thousands of levels deep (a 1 MiB frame of `[[[[…]]]]`) overflow JSON.stringify's stack, and the audit row
 * of such a call must still be written. */
export function stringifyFlat(value: unknown): string {
  const out: string[] = [];
  // Work items: a value to write, or a literal piece of text (brackets, commas, keys).
  const stack: Array<{ v: unknown } | string> = [{ v: value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') { out.push(item); continue; }
    const v = item.v;
    if (v === null || typeof v !== 'object') {
      out.push(v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : typeof v === 'bigint' ? JSON.stringify(v.toString()) : JSON.stringify(v));
      continue;
    }
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') { out.push(JSON.stringify(v) ?? 'null'); continue; }
    if (Array.isArray(v)) {
      const parts: Array<{ v: unknown } | string> = ['['];
      v.forEach((x, i) => { if (i > 0) parts.push(','); parts.push({ v: x }); });
      parts.push(']');
      for (let i = parts.length - 1; i >= 0; i--) stack.push(parts[i]);
      continue;
    }
    const parts: Array<{ v: unknown } | string> = ['{'];
    let first = true;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
      parts.push(`${first ? '' : ','}${JSON.stringify(k)}:`, { v: x });
      first = false;
    }
    parts.push('}');
    for (let i = parts.length - 1; i >= 0; i--) stack.push(parts[i]);
  }
  return out.join('');
}

/** sha256 of the canonical JSON of params (also for params too deeply nested for JSON.stringify). */
export function digestParams(params: unknown): string {
  let text: string;
  try { text = JSON.stringify(params ?? null); } catch { text = stringifyFlat(params ?? null); }
  return createHash('sha256').update(text).digest('hex');
}

/** One caller's refusals of one method, aggregated over a window. */
interface RefusalWindow { since: number; last: number; repeated: number; token_name: string; role: string; method: string; remote: string | null }

/** Window over which repeated refusals of (token, method, remote) are aggregated into one row. */
export const REFUSAL_WINDOW_MS = 60_000;
/** Most open refusal windows; beyond, the oldest is written out early. */
const MAX_REFUSAL_WINDOWS = 1000;

/** Retention of the audit table (agent config audit.*, in ms). */
export interface AuditRetention { retentionMs: number; maxRows: number; minAgeMs: number }
/** What one sweep removed: by age (ts before cutoff_ts) and by the row cap (the newest of those had rows_cutoff_ts). */
export interface AuditSweep { removed: number; by_age: number; by_rows: number; cutoff_ts: number; rows_cutoff_ts: number | null; retention_ms: number; max_rows: number; min_age_ms: number }
/** Interval of the periodic audit retention sweep. */
export const AUDIT_SWEEP_MS = 600_000;

/** Audit log repository (append only, but for the retention sweep). */
export class AuditLog {
  private readonly refusals = new Map<string, RefusalWindow>();
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly db: Db, private readonly refusalWindowMs = REFUSAL_WINDOW_MS) {}
  /** Append a row; written before the mutation is acknowledged. */
  record(e: Omit<AuditEntry, 'ts' | 'params_digest'> & { params: unknown; ts?: number; detail?: unknown }): void {
    this.db.prepare('INSERT INTO audit (ts, token_name, role, method, params_digest, outcome, remote, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(e.ts ?? Date.now(), e.token_name, e.role, e.method, digestParams(e.params), e.outcome, e.remote, e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  /**
   * A refused call (FORBIDDEN). The first refusal of (token, method, remote) in a window is written at once, like any
   * row; the repeats inside the window are only counted, and written as ONE row (outcome FORBIDDEN, params digest of
   * null, detail {repeated, first_ts, last_ts}) when the window ends — on the next refusal after it, on the window
   * timer, or on flush(). A read token calling a forbidden method in a loop costs one or two rows a minute instead
   * of thousands a second, and no refusal goes uncounted.
   */
  recordRefusal(e: { token_name: string; role: string; method: string; params: unknown; remote: string | null }, now = Date.now()): void {
    const key = `${e.token_name}\u0000${e.method}\u0000${e.remote ?? ''}`;
    const w = this.refusals.get(key);
    if (w && now - w.since < this.refusalWindowMs) { w.repeated++; w.last = now; return; }
    if (w) { this.refusals.delete(key); this.writeRepeats(w); }
    this.record({ ...e, outcome: 'FORBIDDEN', ts: now });
    this.refusals.set(key, { since: now, last: now, repeated: 0, token_name: e.token_name, role: e.role, method: e.method, remote: e.remote });
    while (this.refusals.size > MAX_REFUSAL_WINDOWS) {
      const [k, old] = this.refusals.entries().next().value as [string, RefusalWindow];
      this.refusals.delete(k);
      this.writeRepeats(old);
    }
    if (!this.timer) { this.timer = setInterval(() => this.flush(false), this.refusalWindowMs); this.timer.unref(); }
  }

  /** Write the counted repeats of refusal windows: the ended ones, or all of them (`all`, at shutdown). */
  flush(all = true, now = Date.now()): void {
    for (const [k, w] of [...this.refusals]) {
      if (!all && now - w.since < this.refusalWindowMs) continue;
      this.refusals.delete(k);
      this.writeRepeats(w);
    }
    if (this.refusals.size === 0 && this.timer) { clearInterval(this.timer); this.timer = null; }
  }

  private writeRepeats(w: RefusalWindow): void {
    if (w.repeated === 0) return;
    this.record({ ts: w.last, token_name: w.token_name, role: w.role, method: w.method, params: null, outcome: 'FORBIDDEN', remote: w.remote,
      detail: { repeated: w.repeated, first_ts: w.since, last_ts: w.last } });
  }

  /**
   * Retention sweep. Two rules, in this order:
   * 1. age: every row with ts before now − retentionMs goes;
   * 2. cap: if more than maxRows are left, the oldest (by id, i.e. write order) beyond the newest maxRows go — but only
   *    those with ts before now − minAgeMs. A row younger than minAgeMs is never removed, so the table can stay above
   *    maxRows during a burst; it comes down once the burst ages.
   * A sweep that removed anything writes ONE audit row (token agent, method audit.retention, detail: the counts and
   * the cut-offs), after the delete: what the sweep left is always the evidence that a sweep ran. Returns null when
   * nothing was removed.
   */
  sweep(p: AuditRetention, now = Date.now()): AuditSweep | null {
    const cutoff = now - p.retentionMs;
    const youngest = now - p.minAgeMs;
    let out: AuditSweep | null = null;
    this.db.transaction(() => {
      const byAge = this.db.prepare('DELETE FROM audit WHERE ts < ?').run(cutoff).changes;
      let byRows = 0;
      let rowsCutoff: number | null = null;
      const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number };
      if (n > p.maxRows) {
        // the newest row beyond the cap: it and every older row are over the cap
        const edge = this.db.prepare('SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?').get(p.maxRows) as { id: number };
        rowsCutoff = (this.db.prepare('SELECT MAX(ts) AS t FROM audit WHERE id <= ? AND ts < ?').get(edge.id, youngest) as { t: number | null }).t;
        byRows = this.db.prepare('DELETE FROM audit WHERE id <= ? AND ts < ?').run(edge.id, youngest).changes;
      }
      if (byAge + byRows === 0) return;
      out = { removed: byAge + byRows, by_age: byAge, by_rows: byRows, cutoff_ts: cutoff, rows_cutoff_ts: byRows > 0 ? rowsCutoff : null,
        retention_ms: p.retentionMs, max_rows: p.maxRows, min_age_ms: p.minAgeMs };
      this.record({ ts: now, token_name: 'agent', role: 'admin', method: 'audit.retention', params: { removed: out.removed, cutoff_ts: cutoff }, outcome: 'ok', remote: null, detail: out });
    })();
    return out;
  }

  /** Sweep now and then every `everyMs` (errors go to `onError`, the timer goes on); returns the stop function. */
  retain(p: AuditRetention, onSwept: (r: AuditSweep) => void, onError: (e: unknown) => void, everyMs = AUDIT_SWEEP_MS): () => void {
    const run = () => { try { const r = this.sweep(p); if (r) onSwept(r); } catch (e) { onError(e); } };
    run();
    const t = setInterval(run, everyMs);
    t.unref();
    return () => clearInterval(t);
  }

  /** Latest rows first. */
  list(limit = 100): AuditEntry[] {
    return this.db.prepare('SELECT ts, token_name, role, method, params_digest, outcome, remote FROM audit ORDER BY id DESC LIMIT ?').all(limit) as AuditEntry[];
  }
}
