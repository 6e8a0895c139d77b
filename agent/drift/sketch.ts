/**
 * A mergeable quantile sketch (DDSketch, Masson et al., VLDB 2019): values go into logarithmic buckets so that every
 * quantile is returned with a relative error of at most `alpha`; two sketches with the same alpha merge by adding
 * bucket counts, which is what lets 5-minute windows add up to 1 h and 24 h without raw data. Memory is bounded by
 * `maxBuckets` per sign: past it the lowest-magnitude buckets collapse into one (those quantiles lose accuracy first,
 * the tails keep it). Pure: no I/O.
 */

/**
 * Default bucket cap per sign. With alpha = 0.02 one bucket spans a factor γ = 1.0408 (ln γ ≈ 0.040), so 2048 buckets
 * cover 2048·0.040/ln 10 ≈ 35 decades: real data never collapse (1e-9 to 1e9 needs ~1040). A cap of 256 covered only
 * ~4.5 decades, and a collapsed current window made the KS statistic against raw reference values wrong (every value
 * of the lowest decades lumped at one bucket value: false drift for any feature spanning more than 4.5 decades).
 * Memory stays bounded: at most 2·2048 buckets per feature and window, only for data that span that range.
 */
export const DEFAULT_MAX_BUCKETS = 2048;

/**
 * Serialised form (JSON-safe), compact: per sign the bucket keys in ascending order (`pk`, `nk`: integers) and their
 * counts (`pc`, `nc`, same length), plus the zero count. Number arrays parse and rebuild several times faster than
 * objects with string keys (a day of 5-minute buckets holds ~1.8 M keys). min/max are ±Infinity in memory and null
 * once through JSON.stringify (empty sketch).
 */
export interface SketchJson { a: number; pk: number[]; pc: number[]; nk: number[]; nc: number[]; zero: number; n: number; min: number | null; max: number | null }
/** The form stored by earlier versions (objects keyed by the bucket key as a string): still read by fromJSON. */
export interface SketchJsonV1 { a: number; pos: Record<string, number>; neg: Record<string, number>; zero: number; n: number; min: number | null; max: number | null }
/** Either stored form. */
export type AnySketchJson = SketchJson | SketchJsonV1;

/** Keys and counts of one sign of a map, keys ascending. */
function sortedArrays(m: Map<number, number>): { k: number[]; c: number[] } {
  const k = [...m.keys()].sort((x, y) => x - y);
  const c = new Array<number>(k.length);
  for (let i = 0; i < k.length; i++) c[i] = m.get(k[i])!;
  return { k, c };
}

/** Adds the [keys, counts] (or the old {key: count} object) of one sign into a map. */
function addInto(m: Map<number, number>, keys: number[] | undefined, counts: number[] | undefined, obj: Record<string, number> | undefined): void {
  if (keys && counts) {
    if (m.size === 0) { for (let i = 0; i < keys.length; i++) m.set(keys[i], counts[i]); return; }
    for (let i = 0; i < keys.length; i++) { const k = keys[i]; m.set(k, (m.get(k) ?? 0) + counts[i]); }
  } else if (obj) {
    for (const k in obj) { const key = Number(k); m.set(key, (m.get(key) ?? 0) + obj[k]); }
  }
}

/** Values whose magnitude is below this count as zero (keys would underflow). */
const MIN_MAGNITUDE = 1e-9;

/** Widest key range summed densely by mergeManyJSON (keys span ~18 000 for all doubles; 1e-9..1e9 needs ~1040). */
const DENSE_RANGE = 1 << 16;

/**
 * Adds sorted compact key/count lists into m through a dense array; false (m untouched) when a list is missing (old
 * form), the key range is too wide, or the union of keys exceeds max (a sequential merge would collapse midway).
 */
function denseAdd(m: Map<number, number>, keys: ReadonlyArray<number[] | undefined>, counts: ReadonlyArray<number[] | undefined>, max: number): boolean {
  let lo = Infinity; let hi = -Infinity;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (!k || !counts[i]) return false;
    if (k.length > 0) { if (k[0] < lo) lo = k[0]; if (k[k.length - 1] > hi) hi = k[k.length - 1]; }
  }
  if (lo > hi) return true; // nothing to add
  for (const k of m.keys()) { if (k < lo) lo = k; if (k > hi) hi = k; }
  if (hi - lo >= DENSE_RANGE) return false;
  const sum = new Float64Array(hi - lo + 1);
  const has = new Uint8Array(hi - lo + 1);
  for (const [k, c] of m) { sum[k - lo] += c; has[k - lo] = 1; }
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!; const c = counts[i]!;
    for (let x = 0; x < k.length; x++) { const at = k[x] - lo; sum[at] += c[x]; has[at] = 1; }
  }
  let distinct = 0;
  for (let x = 0; x < has.length; x++) distinct += has[x];
  if (distinct > max) return false;
  m.clear();
  for (let x = 0; x < has.length; x++) if (has[x]) m.set(x + lo, sum[x]);
  return true;
}

export class QuantileSketch {
  private readonly gamma: number;
  private readonly lnGamma: number;
  private pos = new Map<number, number>();
  private neg = new Map<number, number>();
  zero = 0;
  /** Values added (finite only; callers count missing and infinite values themselves). */
  n = 0;
  min = Infinity;
  max = -Infinity;

  constructor(readonly alpha = 0.02, readonly maxBuckets = DEFAULT_MAX_BUCKETS) {
    if (!(alpha > 0 && alpha < 1)) throw new RangeError('QuantileSketch: alpha must be in (0, 1)');
    this.gamma = (1 + alpha) / (1 - alpha);
    this.lnGamma = Math.log(this.gamma);
  }

  private key(m: number): number { return Math.ceil(Math.log(m) / this.lnGamma); }
  /** The value a bucket stands for: within alpha (relative) of every value in it. */
  private valueOf(k: number): number { return (2 * Math.pow(this.gamma, k)) / (this.gamma + 1); }

  /** Adds a finite value (non-finite ones are ignored: count them before calling). */
  add(v: number, count = 1): void {
    if (!Number.isFinite(v)) return;
    this.n += count;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (Math.abs(v) < MIN_MAGNITUDE) { this.zero += count; return; }
    const store = v > 0 ? this.pos : this.neg;
    const k = this.key(Math.abs(v));
    store.set(k, (store.get(k) ?? 0) + count);
    if (store.size > this.maxBuckets) this.collapse(store);
  }

  /** Folds the lowest-magnitude buckets into one so that at most maxBuckets remain. */
  private collapse(store: Map<number, number>): void {
    const keys = [...store.keys()].sort((a, b) => a - b);
    const excess = keys.length - this.maxBuckets;
    if (excess <= 0) return;
    let c = 0;
    for (let i = 0; i <= excess; i++) { c += store.get(keys[i])!; store.delete(keys[i]); }
    store.set(keys[excess], c);
  }

  /** Adds another sketch (same alpha) into this one. */
  merge(o: QuantileSketch): this {
    if (o.alpha !== this.alpha) throw new RangeError('QuantileSketch.merge: alpha differs');
    for (const [k, c] of o.pos) this.pos.set(k, (this.pos.get(k) ?? 0) + c);
    for (const [k, c] of o.neg) this.neg.set(k, (this.neg.get(k) ?? 0) + c);
    if (this.pos.size > this.maxBuckets) this.collapse(this.pos);
    if (this.neg.size > this.maxBuckets) this.collapse(this.neg);
    this.zero += o.zero; this.n += o.n;
    this.min = Math.min(this.min, o.min); this.max = Math.max(this.max, o.max);
    return this;
  }

  /**
   * Buckets in ascending value order as [value, count], without the min/max clamp of buckets(): two sketches with the
   * same alpha give equal values the same bucket value, so ties stay ties across them (what KS between two sketches needs).
   */
  steps(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const k of [...this.neg.keys()].sort((a, b) => b - a)) out.push([-this.valueOf(k), this.neg.get(k)!]);
    if (this.zero > 0) out.push([0, this.zero]);
    for (const k of [...this.pos.keys()].sort((a, b) => a - b)) out.push([this.valueOf(k), this.pos.get(k)!]);
    return out;
  }

  /** Buckets in ascending value order as [value, count]. */
  buckets(): Array<[number, number]> {
    const out = this.steps();
    // The extremes are known exactly: clamp so that q=0 and q=1 give min and max.
    if (out.length > 0) { out[0][0] = Math.max(out[0][0], this.min); out[out.length - 1][0] = Math.min(out[out.length - 1][0], this.max); }
    return out;
  }

  /** The q-quantile (0 ≤ q ≤ 1), within alpha relative error; NaN when empty. The extremes (rank 0 and n−1) are exact. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    // The clamp in buckets() cannot make the end buckets' values the extremes when a bucket value lies inside
    // [min, max] (or a collapsed bucket holds the minimum): answer the ranks of min and max from the exact fields.
    const i = Math.floor(Math.min(this.n - 1, Math.max(0, q * (this.n - 1))));
    if (i === 0) return this.min;
    if (i === this.n - 1) return this.max;
    return quantilesOf(this.buckets(), this.n, [q])[0];
  }

  /** An independent copy (same alpha, cap, buckets and figures). */
  clone(): QuantileSketch {
    const s = new QuantileSketch(this.alpha, this.maxBuckets);
    s.pos = new Map(this.pos); s.neg = new Map(this.neg);
    s.zero = this.zero; s.n = this.n; s.min = this.min; s.max = this.max;
    return s;
  }

  toJSON(): SketchJson {
    const p = sortedArrays(this.pos);
    const m = sortedArrays(this.neg);
    return { a: this.alpha, pk: p.k, pc: p.c, nk: m.k, nc: m.c, zero: this.zero, n: this.n, min: this.min, max: this.max };
  }

  /**
   * Adds a serialised sketch (either form) into this one: the same result as merge(QuantileSketch.fromJSON(j)) without
   * building the intermediate sketch (what merging many stored buckets does).
   */
  mergeJSON(j: AnySketchJson): this {
    if (j.a !== this.alpha) throw new RangeError('QuantileSketch.merge: alpha differs');
    const c = j as Partial<SketchJson> & Partial<SketchJsonV1>;
    addInto(this.pos, c.pk, c.pc, c.pos);
    addInto(this.neg, c.nk, c.nc, c.neg);
    if (this.pos.size > this.maxBuckets) this.collapse(this.pos);
    if (this.neg.size > this.maxBuckets) this.collapse(this.neg);
    this.zero += j.zero; this.n += j.n;
    this.min = Math.min(this.min, j.min ?? Infinity); this.max = Math.max(this.max, j.max ?? -Infinity);
    return this;
  }

  /**
   * Adds many serialised sketches (either form): the same result as mergeJSON of each in turn, faster for many. Per
   * sign, when every sketch has the compact form and the union of keys fits maxBuckets (so that no collapse could
   * happen midway), the counts are summed in a dense array over the key range and written back once; otherwise the
   * sketches of that sign are added one by one.
   */
  mergeManyJSON(js: readonly AnySketchJson[]): this {
    for (const j of js) if (j.a !== this.alpha) throw new RangeError('QuantileSketch.merge: alpha differs');
    const cs = js as ReadonlyArray<Partial<SketchJson> & Partial<SketchJsonV1>>;
    if (!denseAdd(this.pos, cs.map((c) => c.pk), cs.map((c) => c.pc), this.maxBuckets)) {
      for (const c of cs) { addInto(this.pos, c.pk, c.pc, c.pos); if (this.pos.size > this.maxBuckets) this.collapse(this.pos); }
    }
    if (!denseAdd(this.neg, cs.map((c) => c.nk), cs.map((c) => c.nc), this.maxBuckets)) {
      for (const c of cs) { addInto(this.neg, c.nk, c.nc, c.neg); if (this.neg.size > this.maxBuckets) this.collapse(this.neg); }
    }
    for (const j of js) {
      this.zero += j.zero; this.n += j.n;
      this.min = Math.min(this.min, j.min ?? Infinity); this.max = Math.max(this.max, j.max ?? -Infinity);
    }
    return this;
  }

  /** Reads either serialised form: the compact one (pk/pc/nk/nc) or the one of earlier versions (pos/neg objects). */
  static fromJSON(j: AnySketchJson, maxBuckets = DEFAULT_MAX_BUCKETS): QuantileSketch {
    const s = new QuantileSketch(j.a, maxBuckets);
    const c = j as Partial<SketchJson> & Partial<SketchJsonV1>;
    addInto(s.pos, c.pk, c.pc, c.pos);
    addInto(s.neg, c.nk, c.nc, c.neg);
    s.zero = j.zero; s.n = j.n;
    // JSON has no Infinity: an empty sketch round-trips its min/max as null.
    s.min = j.min ?? Infinity; s.max = j.max ?? -Infinity;
    return s;
  }
}

/** Quantiles (ascending qs not required) from ascending [value, count] buckets holding n values. */
function quantilesOf(b: Array<[number, number]>, n: number, qs: number[]): number[] {
  if (n === 0 || b.length === 0) return qs.map(() => NaN);
  return qs.map((q) => {
    const rank = Math.min(n - 1, Math.max(0, q * (n - 1)));
    let seen = 0;
    for (const [v, c] of b) { seen += c; if (seen > rank) return v; }
    return b[b.length - 1][0];
  });
}

/**
 * First Wasserstein distance between the distributions two sketches summarise, as ∫₀¹ |Qa(u) − Qb(u)| du evaluated
 * exactly over the piecewise-constant quantile functions of the buckets. Each bucket value is within alpha (relative)
 * of the values it stands for, so the result is within about alpha·E|x| of the exact distance of the raw samples.
 */
export function sketchWasserstein(a: QuantileSketch, b: QuantileSketch): number {
  const ba = a.buckets();
  const bb = b.buckets();
  if (a.n === 0 || b.n === 0) throw new RangeError('sketchWasserstein: empty window (no values)');
  // Walk both step functions over u in [0, 1].
  let i = 0; let j = 0;
  let ua = ba[0][1] / a.n; let ub = bb[0][1] / b.n;
  let u = 0; let w = 0;
  while (i < ba.length && j < bb.length) {
    const next = Math.min(ua, ub);
    w += (next - u) * Math.abs(ba[i][0] - bb[j][0]);
    u = next;
    if (ua <= next + 1e-15) { i++; if (i < ba.length) ua += ba[i][1] / a.n; }
    if (ub <= next + 1e-15) { j++; if (j < bb.length) ub += bb[j][1] / b.n; }
  }
  return w;
}

/**
 * The KS statistic sup |Fa(x) − Fb(x)| between two step distributions given as ascending [value, count] pairs
 * (raw sorted values as [v, 1], or a sketch's steps()). Two sketches' steps() put every value through the same
 * monotone bucket map, so the result is the exact statistic evaluated at bucket boundaries only: never above it, and
 * below it by at most the share of one bucket. (Raw values on one side against a sketch on the other must not be
 * mixed: a value tied on both sides then lands on different points, which inflates the statistic by the tie's share.)
 */
export function ksFromSteps(a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>): number {
  let na = 0; let nb = 0;
  for (const [, c] of a) na += c;
  for (const [, c] of b) nb += c;
  if (na === 0 || nb === 0) throw new RangeError('ksFromSteps: empty window (no values)');
  let i = 0; let j = 0; let ca = 0; let cb = 0; let d = 0;
  while (i < a.length || j < b.length) {
    const x = Math.min(i < a.length ? a[i][0] : Infinity, j < b.length ? b[j][0] : Infinity);
    while (i < a.length && a[i][0] <= x) ca += a[i++][1];
    while (j < b.length && b[j][0] <= x) cb += b[j++][1];
    d = Math.max(d, Math.abs(ca / na - cb / nb));
  }
  return d;
}
