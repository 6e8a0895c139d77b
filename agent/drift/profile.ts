/**
 * Profiles: what a window (or a reference) keeps about each feature so that drift can be judged without raw data.
 *
 * - numeric: counts over bin edges fixed by the reference (+ under/overflow), a quantile sketch (KS compares two
 *   sketches, see compare.ts), moments, min/max and how many values were not integers; no raw values are kept;
 * - categorical: counts per category (capped; the rest fold into OTHER).
 * Missing values (null, NaN) are counted per feature, never dropped. Windows merge by adding, so 5-minute buckets
 * add up to 1 h and 24 h. Pure: data in, data out.
 */
import { QuantileSketch, type AnySketchJson } from './sketch.js';
import type { Cell } from '../serving/tabular.js';

/** A value as captured: number (numeric), string (categorical) or missing (defined with the tabular view of a model). */
export type { Cell };

/** Most categories kept per feature; further ones count as OTHER. */
export const MAX_CATEGORIES = 200;
export const OTHER = '__other__';

/** Numeric accumulator. */
export interface NumAcc {
  t: 'n';
  /** Rows seen (missing included). */
  rows: number;
  missing: number;
  /** Finite present values. */
  n: number;
  sum: number; sumsq: number; min: number; max: number;
  /** Present values that are not integers (type-change check). */
  frac: number;
  /** ±Infinity values (counted in under/overflow, not in the sketch). */
  inf: number;
  /** Counts over the reference edges: [underflow, ...bins, overflow]; null while no edges are known. */
  hist: number[] | null;
  sketch: QuantileSketch;
}

/** Categorical accumulator. */
export interface CatAcc { t: 'c'; rows: number; missing: number; counts: Map<string, number> }

export type FeatureAcc = NumAcc | CatAcc;

export function newAcc(type: 'numeric' | 'categorical', edges: number[] | null): FeatureAcc {
  if (type === 'categorical') return { t: 'c', rows: 0, missing: 0, counts: new Map() };
  return { t: 'n', rows: 0, missing: 0, n: 0, sum: 0, sumsq: 0, min: Infinity, max: -Infinity, frac: 0, inf: 0,
    hist: edges ? new Array<number>(edges.length + 1).fill(0) : null, sketch: new QuantileSketch() };
}

/** Index into [underflow, ...bins, overflow] for v over edges (bins [e_i, e_i+1), the last closed; numpy.histogram). */
export function binIndex(edges: number[], v: number): number {
  const k = edges.length - 1;
  if (v < edges[0]) return 0;
  if (v > edges[k]) return k + 1;
  let lo = 0; let hi = k;
  while (lo < hi) { const mid = (lo + hi + 1) >>> 1; if (edges[mid] <= v) lo = mid; else hi = mid - 1; }
  return Math.min(lo, k - 1) + 1;
}

/** Adds one value. */
export function addValue(a: FeatureAcc, v: Cell, edges: number[] | null): void {
  a.rows++;
  if (a.t === 'c') {
    if (v === null || (typeof v === 'number' && Number.isNaN(v))) { a.missing++; return; }
    const s = String(v);
    const cur = a.counts.get(s);
    if (cur !== undefined) a.counts.set(s, cur + 1);
    else if (a.counts.size < MAX_CATEGORIES) a.counts.set(s, 1);
    else a.counts.set(OTHER, (a.counts.get(OTHER) ?? 0) + 1);
    return;
  }
  const x = typeof v === 'string' ? Number(v) : v;
  if (x === null || Number.isNaN(x)) { a.missing++; return; }
  if (edges && a.hist) a.hist[binIndex(edges, x)]++;
  if (!Number.isFinite(x)) { a.inf++; return; }
  a.n++; a.sum += x; a.sumsq += x * x;
  if (x < a.min) a.min = x;
  if (x > a.max) a.max = x;
  if (!Number.isInteger(x)) a.frac++;
  a.sketch.add(x);
}

/** Adds b into a (same type and edges). */
export function mergeAcc(a: FeatureAcc, b: FeatureAcc): FeatureAcc {
  if (a.t !== b.t) throw new RangeError('mergeAcc: feature types differ');
  if (a.t === 'c' && b.t === 'c') return mergeCounts(a, b.rows, b.missing, b.counts);
  const x = a as NumAcc; const y = b as NumAcc;
  mergeNumFields(x, y.rows, y.missing, y.n, y.inf, y.sum, y.sumsq, y.frac, y.min, y.max, y.hist);
  x.sketch.merge(y.sketch);
  return x;
}

/**
 * Adds a stored accumulator (JSON form, either sketch form) into a: the same result as mergeAcc(a, accFromJson(j))
 * without building the intermediate accumulator and sketch (merging many stored buckets).
 */
export function mergeAccJson(a: FeatureAcc, j: AccJson): FeatureAcc {
  if (a.t !== j.t) throw new RangeError('mergeAcc: feature types differ');
  if (a.t === 'c' && j.t === 'c') return mergeCounts(a, j.rows, j.missing, Object.entries(j.counts));
  const x = a as NumAcc; const y = j as Extract<AccJson, { t: 'n' }>;
  mergeNumFields(x, y.rows, y.missing, y.n, y.inf, y.sum, y.sumsq, y.frac, y.min ?? Infinity, y.max ?? -Infinity, y.hist);
  x.sketch.mergeJSON(y.sketch);
  return x;
}

/** Adds many stored accumulators into a, in order: the same result as mergeAccJson of each in turn (sketches summed at once). */
export function mergeAccsJson(a: FeatureAcc, js: readonly AccJson[]): FeatureAcc {
  if (a.t === 'c') { for (const j of js) mergeAccJson(a, j); return a; }
  const sketches: AnySketchJson[] = [];
  for (const j of js) {
    if (j.t !== 'n') throw new RangeError('mergeAcc: feature types differ');
    mergeNumFields(a, j.rows, j.missing, j.n, j.inf, j.sum, j.sumsq, j.frac, j.min ?? Infinity, j.max ?? -Infinity, j.hist);
    sketches.push(j.sketch);
  }
  a.sketch.mergeManyJSON(sketches);
  return a;
}

function mergeCounts(a: CatAcc, rows: number, missing: number, counts: Iterable<[string, number]>): CatAcc {
  a.rows += rows; a.missing += missing;
  for (const [k, c] of counts) {
    const key = a.counts.has(k) || a.counts.size < MAX_CATEGORIES ? k : OTHER;
    a.counts.set(key, (a.counts.get(key) ?? 0) + c);
  }
  return a;
}

/** mergeAcc's numeric figures and bins (the sketch is merged by the caller). */
function mergeNumFields(x: NumAcc, rows: number, missing: number, n: number, inf: number, sum: number, sumsq: number, frac: number, min: number, max: number, hist: number[] | null): void {
  x.rows += rows; x.missing += missing;
  // Binned values: finite and infinite ones (missing ones are never binned).
  const xBinned = x.n + x.inf; const yBinned = n + inf;
  if (x.hist && hist && x.hist.length === hist.length) for (let i = 0; i < x.hist.length; i++) x.hist[i] += hist[i];
  else if (yBinned === 0) { /* nothing of b to count: a's bins stay exact */ }
  else if (xBinned === 0 && hist) x.hist = [...hist];
  // One side was never counted into these bins (captured before the reference existed): an exact-looking hist that
  // misses its values would be wrong, so drop it and let histOf estimate all of them from the sketch.
  else x.hist = null;
  x.n += n; x.sum += sum; x.sumsq += sumsq; x.frac += frac; x.inf += inf;
  x.min = Math.min(x.min, min); x.max = Math.max(x.max, max);
}

/** Present values of a numeric accumulator: mean and population std (null when none). */
export function moments(a: NumAcc): { mean: number | null; std: number | null } {
  if (a.n === 0) return { mean: null, std: null };
  const mean = a.sum / a.n;
  return { mean, std: Math.sqrt(Math.max(0, a.sumsq / a.n - mean * mean)) };
}

/** Histogram counts over edges: exact when kept, else estimated from the sketch (windows captured before the reference existed). */
export function histOf(a: NumAcc, edges: number[]): number[] {
  if (a.hist && a.hist.length === edges.length + 1) return a.hist;
  const out = new Array<number>(edges.length + 1).fill(0);
  for (const [v, c] of a.sketch.buckets()) out[binIndex(edges, v)] += c;
  if (a.inf > 0) out[out.length - 1] += a.inf; // sign unknown after the fact: counted as overflow
  return out;
}

// ---------------------------------------------------------------- JSON (SQLite storage)

/**
 * JSON form of an accumulator (category counts become an object, the sketch its compact form — see SketchJson;
 * Infinity becomes null). Profiles stored by older versions hold the sketch as objects (read too) and may also hold
 * `raw` and `rawSeen` (a reservoir of raw values no statistic read): accFromJson ignores them.
 */
export type AccJson =
  | { t: 'n'; rows: number; missing: number; n: number; sum: number; sumsq: number; min: number | null; max: number | null; frac: number; inf: number; hist: number[] | null; sketch: AnySketchJson; raw?: number[]; rawSeen?: number }
  | { t: 'c'; rows: number; missing: number; counts: Record<string, number> };

export function accToJson(a: FeatureAcc): AccJson {
  if (a.t === 'c') return { t: 'c', rows: a.rows, missing: a.missing, counts: Object.fromEntries(a.counts) };
  return { t: 'n', rows: a.rows, missing: a.missing, n: a.n, sum: a.sum, sumsq: a.sumsq, min: Number.isFinite(a.min) ? a.min : null, max: Number.isFinite(a.max) ? a.max : null,
    frac: a.frac, inf: a.inf, hist: a.hist, sketch: a.sketch.toJSON() };
}

export function accFromJson(j: AccJson): FeatureAcc {
  if (j.t === 'c') return { t: 'c', rows: j.rows, missing: j.missing, counts: new Map(Object.entries(j.counts)) };
  return { t: 'n', rows: j.rows, missing: j.missing, n: j.n, sum: j.sum, sumsq: j.sumsq, min: j.min ?? Infinity, max: j.max ?? -Infinity, frac: j.frac, inf: j.inf,
    hist: j.hist, sketch: QuantileSketch.fromJSON(j.sketch) };
}

/** A copy that can be merged into without touching the original (a structural copy: maps, bins and sketch copied). */
export function cloneAcc(a: FeatureAcc): FeatureAcc {
  if (a.t === 'c') return { t: 'c', rows: a.rows, missing: a.missing, counts: new Map(a.counts) };
  return { t: 'n', rows: a.rows, missing: a.missing, n: a.n, sum: a.sum, sumsq: a.sumsq, min: a.min, max: a.max, frac: a.frac, inf: a.inf,
    hist: a.hist ? a.hist.slice() : null, sketch: a.sketch.clone() };
}
