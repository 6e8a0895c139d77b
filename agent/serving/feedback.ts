/**
 * The join store: ground truth that arrives later (issue 11). Every answered request has a request id; for each served
 * version the agent keeps just enough of (a sample of) its requests to join a label sent later by that id, and turns
 * the joined labels into live performance (accuracy / F1, MAE / RMSE) per version and window.
 *
 * What is kept per request (table feedback_requests, migration v10): model name, version, request id, request time,
 * the prediction of the first output's first row (the argmax for an output row wider than 1, else its value) with that
 * row's width, and — for tabular models (every input [batch] or [batch, F] numeric, at most 256 values a row) — the
 * first input row as float32, so labelled rows can be exported as a training set. A batch request is one request: only
 * its first row is joined.
 *
 * Which requests are kept, per version: every request while the version serves at most `maxPerSecond` a second; above
 * that a uniform sample whose rate follows the previous second's traffic (rate = budget / requests), never more than
 * the budget in one second. The rest are served as usual; their ids are unknown to model.feedback.
 *
 * Invariants:
 * - The hot path (record) does O(row) work in memory: a copy of at most one output row and one input row, pushed to a
 *   bounded buffer (`maxBuffered`; beyond it a request is not kept, counted in `dropped`). Nothing touches SQLite.
 * - flush() writes the buffer in one transaction, every `flushMs` (1 s) and on dispose; a kill -9 loses at most the
 *   requests of the last unflushed second (their labels are then counted as unknown). Labels are written in the
 *   model.feedback call's own transaction before it answers (persist before acknowledging).
 * - A version keeps at most `maxPerVersion` requests: each flush evicts its oldest beyond that (labelled or not).
 *   Requests older than `retentionMs` are swept every `sweepMs` (1 min) and are never joined or scored, swept or not.
 * - A request id repeated within a version keeps its first request; a label for an id already labelled keeps the
 *   first label (counted as already_labelled).
 * - `now` is the one clock (injectable for tests): request times, windows, expiry.
 */
import { EventEmitter } from 'node:events';
import { randomFillSync } from 'node:crypto';
import type { TensorSpec } from '../../shared/protocol/index.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../log.js';
import type { StoredVersion } from './registry.js';
import { halfToFloat, type RawTensor } from './tensors.js';
import { classificationMetrics, scoreOutputs, type EvalMetrics } from './scoring.js';
import { featuresOf } from './tabular.js';

/** Most input values a row may have for the row to be kept (tabular models only). */
export const MAX_KEPT_INPUTS = 256;

/** Options (agent config `feedback`), with their defaults. */
export interface FeedbackOptions {
  /** Requests kept per second per version before sampling [1000]. */
  maxPerSecond?: number;
  /** Requests kept per version; the oldest beyond it are evicted [100 000]. */
  maxPerVersion?: number;
  /** Requests older than this are removed, ms [7 days]. */
  retentionMs?: number;
  /** Buffer flush interval, ms [1000]. */
  flushMs?: number;
  /** Expiry sweep interval, ms [60 000]. */
  sweepMs?: number;
  /** Requests waiting in memory for the next flush, at most [100 000]. */
  maxBuffered?: number;
  /** The clock (ms epoch) [Date.now]. */
  now?: () => number;
  /** Uniform [0, 1) for sampling [Math.random]. */
  rnd?: () => number;
}

/** Live performance of one version over labelled kept requests. */
export interface Performance {
  task: EvalMetrics['task'] | null;
  accuracy: number | null; f1: number | null; mae: number | null; rmse: number | null;
  /** Kept requests in the window that have a label. */
  labelled: number;
  /** Kept requests in the window. */
  requests: number;
}

/** A labelled training set: input feature names, input rows, their labels. */
export interface LabelledExport { header: string[]; rows: number[][]; labels: number[] }

/** Counts of one model.feedback call. */
export interface FeedbackCounts { matched: number; unknown: number; already_labelled: number }

/** Payload of the 'labels' event, one per version that got labels in a call. */
export interface LabelsEvent { name: string; version: string; count: number }

interface Pending { name: string; version: string; id: string; ts: number; pred: number; width: number; input: Buffer | null }
/** How a version's requests are kept: the output to read, and the inputs of a tabular row (null: not kept). */
interface Plan { out: string; inputs: Array<{ name: string; width: number }> | null; size: number }
interface VersionState { plan: Plan | null; secStart: number; seen: number; kept: number; rate: number }

// Request ids: 16 hex characters from a pooled random buffer (one randomFillSync per 512 ids, not one per request).
const POOL = Buffer.alloc(8 * 512);
let poolAt = POOL.length;
/** A fresh request id: 16 random hex characters. */
export function newRequestId(): string {
  if (poolAt >= POOL.length) { randomFillSync(POOL); poolAt = 0; }
  const s = POOL.toString('hex', poolAt, poolAt + 8);
  poolAt += 8;
  return s;
}

const NUMERIC = new Set(['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'float16']);

/** The keeping plan of a version from its signature: null when its first output is not numeric. */
export function planOf(v: Pick<StoredVersion, 'inputs' | 'outputs'>): Plan | null {
  const out = v.outputs[0];
  if (!out || !NUMERIC.has(out.dtype)) return null;
  let inputs: Plan['inputs'] = [];
  let size = 0;
  for (const s of v.inputs) {
    const w = s.shape.length === 1 ? 1 : s.shape.length === 2 && typeof s.shape[1] === 'number' && s.shape[1] > 0 ? s.shape[1] : null;
    if (w === null || !NUMERIC.has(s.dtype)) { inputs = null; break; }
    inputs.push({ name: s.name, width: w });
    size += w;
  }
  if (inputs && (size === 0 || size > MAX_KEPT_INPUTS)) inputs = null;
  return { out: out.name, inputs, size: inputs ? size : 0 };
}

const num = (t: RawTensor, i: number): number => {
  const x = (t.data as ArrayLike<number | bigint | string>)[i];
  return t.dtype === 'float16' ? halfToFloat(x as number) : Number(x);
};

/** Metrics of kept predictions against labels (width > 1: stored argmax; width 1: the value, scored as scoreOutputs does). */
export function scoreKept(preds: readonly number[], width: number, labels: readonly number[]): EvalMetrics {
  if (width > 1) return classificationMetrics(preds.map((p) => (Number.isFinite(p) ? p : -1)), labels);
  return scoreOutputs(preds, 1, labels);
}

/** Events: 'labels' (LabelsEvent) after each model.feedback call, per version that got labels. */
export class FeedbackStore extends EventEmitter {
  private readonly o: Required<Omit<FeedbackOptions, 'now' | 'rnd'>>;
  private readonly now: () => number;
  private readonly rnd: () => number;
  private readonly states = new Map<string, VersionState>();
  /** Rows in the database per version key (name@version), known once start() counted them. */
  private readonly counts = new Map<string, { name: string; version: string; rows: number }>();
  private buf: Pending[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Requests not kept: sampled out (above the per-second budget), or the buffer was full. */
  skipped = 0;
  dropped = 0;

  constructor(private readonly db: Db, opts: FeedbackOptions, private readonly log: Logger,
    /** The signature of a version (newest when none is named), for the export header; null when unknown. */
    private readonly inputsOf: (name: string, version?: string) => { version: string; inputs: TensorSpec[] } | null = () => null) {
    super();
    this.o = { maxPerSecond: opts.maxPerSecond ?? 1000, maxPerVersion: opts.maxPerVersion ?? 100_000, retentionMs: opts.retentionMs ?? 7 * 86_400_000,
      flushMs: opts.flushMs ?? 1000, sweepMs: opts.sweepMs ?? 60_000, maxBuffered: opts.maxBuffered ?? 100_000 };
    this.now = opts.now ?? Date.now;
    this.rnd = opts.rnd ?? Math.random;
  }

  /** Count what is kept, sweep what expired while the agent was down, and start the flush and sweep timers. */
  start(): void {
    const rows = this.db.prepare('SELECT name, version, COUNT(*) AS n FROM feedback_requests GROUP BY name, version').all() as Array<{ name: string; version: string; n: number }>;
    for (const r of rows) this.counts.set(`${r.name}@${r.version}`, { name: r.name, version: r.version, rows: r.n });
    this.sweep();
    this.flushTimer = setInterval(() => this.flushSafe(), this.o.flushMs);
    this.flushTimer.unref();
    this.sweepTimer = setInterval(() => { try { this.sweep(); } catch (e) { this.log.error({ err: (e as Error).message }, 'feedback sweep failed'); } }, this.o.sweepMs);
    this.sweepTimer.unref();
  }

  /**
   * The hot path: maybe keep one answered request (see the sampling rule at the top). Copies what it keeps (the
   * tensors may be views of buffers reused after the answer); never throws into the request.
   */
  record(v: StoredVersion, id: string, feeds: Readonly<Record<string, RawTensor>>, outputs: Readonly<Record<string, RawTensor>>): void {
    const k = `${v.name}@${v.version}`;
    let st = this.states.get(k);
    if (!st) this.states.set(k, (st = { plan: planOf(v), secStart: 0, seen: 0, kept: 0, rate: 1 }));
    const plan = st.plan;
    if (!plan) return;
    const now = this.now();
    if (now - st.secStart >= 1000) {
      st.rate = st.seen > this.o.maxPerSecond ? this.o.maxPerSecond / st.seen : 1;
      st.secStart = now; st.seen = 0; st.kept = 0;
    }
    st.seen++;
    if (st.kept >= this.o.maxPerSecond || (st.rate < 1 && this.rnd() >= st.rate)) { this.skipped++; return; }
    if (this.buf.length >= this.o.maxBuffered) { this.dropped++; return; }
    const out = outputs[plan.out];
    const rows = out?.dims[0] ?? 0;
    if (!out || rows === 0 || typeof (out.data as ArrayLike<unknown>)[0] === 'string') return;
    const width = Math.max(1, Math.floor(out.data.length / rows));
    let pred: number;
    if (width > 1) {
      let best = 0; let nan = false; let top = -Infinity;
      const plain = out.dtype === 'float32' || out.dtype === 'float64';
      const d = out.data as Float32Array;
      for (let c = 0; c < width; c++) { const x = plain ? d[c] : num(out, c); if (!Number.isFinite(x)) nan = true; else if (x > top) { top = x; best = c; } }
      pred = nan ? NaN : best;
    } else pred = num(out, 0);
    let input: Buffer | null = null;
    if (plan.inputs) {
      const row = new Float32Array(plan.size);
      let at = 0;
      for (const s of plan.inputs) {
        const t = feeds[s.name];
        if (!t || t.data.length < s.width) { at = -1; break; }
        if (t.dtype === 'float32') { row.set((t.data as Float32Array).subarray(0, s.width), at); at += s.width; continue; }
        for (let i = 0; i < s.width; i++) row[at++] = num(t, i);
      }
      if (at === plan.size) input = Buffer.from(row.buffer);
    }
    st.kept++;
    this.buf.push({ name: v.name, version: v.version, id, ts: now, pred, width, input });
  }

  private flushSafe(): void {
    try { this.flush(); } catch (e) { this.log.error({ err: (e as Error).message }, 'feedback flush failed'); }
  }

  /** Write the buffered requests in one transaction and evict beyond the per-version bound; returns rows written. */
  flush(): number {
    if (this.buf.length === 0) return 0;
    const batch = this.buf;
    this.buf = [];
    const ins = this.db.prepare('INSERT OR IGNORE INTO feedback_requests (name, version, request_id, ts, pred, width, input) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const evict = this.db.prepare('DELETE FROM feedback_requests WHERE rowid IN (SELECT rowid FROM feedback_requests WHERE name = ? AND version = ? ORDER BY ts, rowid LIMIT ?)');
    let written = 0;
    this.db.transaction(() => {
      for (const p of batch) {
        const r = ins.run(p.name, p.version, p.id, p.ts, Number.isFinite(p.pred) ? p.pred : null, p.width, p.input);
        if (r.changes === 0) continue;
        written++;
        const k = `${p.name}@${p.version}`;
        const c = this.counts.get(k);
        if (c) c.rows++; else this.counts.set(k, { name: p.name, version: p.version, rows: 1 });
      }
      for (const c of this.counts.values()) {
        if (c.rows <= this.o.maxPerVersion) continue;
        c.rows -= evict.run(c.name, c.version, c.rows - this.o.maxPerVersion).changes;
      }
    })();
    return written;
  }

  /** Remove the requests older than the retention; returns rows removed. */
  sweep(): number {
    const cutoff = this.now() - this.o.retentionMs;
    const del = this.db.prepare('DELETE FROM feedback_requests WHERE name = ? AND version = ? AND ts < ?');
    let n = 0;
    this.db.transaction(() => {
      for (const [k, c] of this.counts) {
        const d = del.run(c.name, c.version, cutoff).changes;
        n += d; c.rows -= d;
        if (c.rows <= 0) this.counts.delete(k);
      }
    })();
    return n;
  }

  /** Join labels by request id (of one version, or of whichever version answered each id); persisted before it returns. */
  label(name: string, version: string | undefined, labels: ReadonlyArray<{ id: string; label: number }>): FeedbackCounts {
    this.flush(); // an id answered in the last second is still in the buffer
    const now = this.now();
    const cutoff = now - this.o.retentionMs;
    const v = version !== undefined;
    const upd = this.db.prepare(`UPDATE feedback_requests SET label = ?, labelled_at = ? WHERE name = ? AND request_id = ?${v ? ' AND version = ?' : ''} AND ts >= ? AND label IS NULL RETURNING version`);
    const has = this.db.prepare(`SELECT 1 FROM feedback_requests WHERE name = ? AND request_id = ?${v ? ' AND version = ?' : ''} AND ts >= ? LIMIT 1`);
    const out: FeedbackCounts = { matched: 0, unknown: 0, already_labelled: 0 };
    const per = new Map<string, number>();
    this.db.transaction(() => {
      for (const l of labels) {
        const key = v ? [name, l.id, version, cutoff] : [name, l.id, cutoff];
        const hit = upd.all(l.label, now, ...key) as Array<{ version: string }>;
        if (hit.length > 0) { out.matched++; for (const h of hit) per.set(h.version, (per.get(h.version) ?? 0) + 1); continue; }
        if (has.get(...key)) out.already_labelled++; else out.unknown++;
      }
    })();
    for (const [ver, count] of per) this.emit('labels', { name, version: ver, count } satisfies LabelsEvent);
    return out;
  }

  /** Live performance of one version over its kept requests made at or after `sinceMs` (and within the retention). */
  performance(name: string, version: string, sinceMs: number): Performance {
    const since = Math.max(sinceMs, this.now() - this.o.retentionMs);
    const rows = this.db.prepare('SELECT pred, width, label FROM feedback_requests WHERE name = ? AND version = ? AND ts >= ? AND label IS NOT NULL').all(name, version, since) as Array<{ pred: number | null; width: number; label: number }>;
    const requests = (this.db.prepare('SELECT COUNT(*) AS n FROM feedback_requests WHERE name = ? AND version = ? AND ts >= ?').get(name, version, since) as { n: number }).n;
    if (rows.length === 0) return { task: null, accuracy: null, f1: null, mae: null, rmse: null, labelled: 0, requests };
    const m = scoreKept(rows.map((r) => r.pred ?? NaN), rows[0].width, rows.map((r) => r.label));
    return { ...m, labelled: rows.length, requests };
  }

  /** Versions of a model (or of every model) with kept requests, in name then version order. */
  versions(name?: string): Array<{ name: string; version: string }> {
    return [...this.counts.values()].filter((c) => !name || c.name === name).map((c) => ({ name: c.name, version: c.version }))
      .sort((a, b) => (a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1));
  }

  /**
   * Labelled requests that kept their input row, newest first, at most `limit`: a training set (the header names the
   * input features as drift does: `x[0]`, `x[1]`, …). Without a version: every version whose input row has the width
   * of the newest version's.
   */
  exportLabelled(name: string, version: string | null, limit: number): LabelledExport {
    this.flush();
    const sig = this.inputsOf(name, version ?? undefined);
    const header = sig ? featuresOf(sig.inputs, [], MAX_KEPT_INPUTS).features.map((f) => f.name) : [];
    const since = this.now() - this.o.retentionMs;
    const rows = (version !== null
      ? this.db.prepare('SELECT input, label FROM feedback_requests WHERE name = ? AND version = ? AND ts >= ? AND label IS NOT NULL AND input IS NOT NULL ORDER BY ts DESC LIMIT ?').all(name, version, since, limit)
      : this.db.prepare('SELECT input, label FROM feedback_requests WHERE name = ? AND ts >= ? AND label IS NOT NULL AND input IS NOT NULL AND length(input) = ? ORDER BY ts DESC LIMIT ?').all(name, since, header.length * 4, limit)) as Array<{ input: Buffer; label: number }>;
    const out: LabelledExport = { header, rows: [], labels: [] };
    for (const r of rows) {
      const f = new Float32Array(new Uint8Array(r.input).buffer); // a copy: the blob's bytes need not be 4-aligned
      out.rows.push(Array.from(f));
      out.labels.push(r.label);
    }
    return out;
  }

  /** Stop the timers and write what is buffered (agent shutdown; before the database closes). */
  dispose(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.flushTimer = this.sweepTimer = null;
    this.flushSafe();
  }
}
