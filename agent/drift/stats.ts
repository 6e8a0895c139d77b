/**
 * Pure drift statistics: data in, numbers out, no I/O and no clocks.
 *
 * Each function mirrors a reference implementation (SciPy / Evidently); the matching
 * method and tolerance are checked in test/unit/drift/stats.test.ts against
 * test/fixtures/drift/reference.json, produced by scripts/drift-reference.py.
 *
 * Conventions:
 * - Missing values (null, undefined, NaN) are never dropped silently: `splitMissing` and
 *   `histogram` count them; the sample-based tests below reject NaN so that a caller cannot
 *   forget to count them.
 * - Empty inputs are a caller error: every statistic throws a `RangeError` whose message
 *   names the statistic ("empty window" for the caller to report as "no data").
 */

/** Result of a hypothesis test: the statistic and its p-value. */
export interface TestResult {
  statistic: number;
  pValue: number;
}

/** A raw cell value as captured from inference: numbers, or missing (null/undefined/NaN). */
export type MaybeNumber = number | null | undefined;

/** Binned counts of one numeric feature over fixed edges; windows merge by adding counts. */
export interface Histogram {
  /** The bin edges (ascending, length k+1 ≥ 2); interior bin i is [edges[i], edges[i+1]), the last one closed. */
  edges: number[];
  /** Counts of the k interior bins. */
  counts: number[];
  /** Values below edges[0] (including -Infinity). */
  underflow: number;
  /** Values above edges[k] (including +Infinity). */
  overflow: number;
  /** null, undefined and NaN values — counted, never dropped. */
  missing: number;
  /** Every value seen, missing included (= underflow + Σcounts + overflow + missing). */
  total: number;
}

// ---------------------------------------------------------------- helpers

/** Throws a RangeError for an empty sample, naming the statistic. */
function requireNonEmpty(name: string, ...samples: ArrayLike<unknown>[]): void {
  for (const s of samples) if (s.length === 0) throw new RangeError(`${name}: empty window (no values)`);
}

/** Throws a RangeError when a sample contains NaN (missing values must be split off and counted first). */
function requireNoNaN(name: string, ...samples: number[][]): void {
  for (const s of samples) for (const v of s) if (Number.isNaN(v)) throw new RangeError(`${name}: NaN in sample; split missing values off with splitMissing() first`);
}

/** Ascending numeric sort of a copy. */
function sorted(a: number[]): Float64Array {
  return Float64Array.from(a).sort();
}

/** Index of the first element > x in ascending `s` (numpy searchsorted side='right'). */
function searchRight(s: Float64Array, x: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Greatest common divisor of two non-negative integers. */
function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Splits raw values into the present numbers and a count of missing ones (null, undefined, NaN). */
export function splitMissing(values: readonly MaybeNumber[]): { values: number[]; missing: number } {
  const out: number[] = [];
  let missing = 0;
  for (const v of values) {
    if (v === null || v === undefined || Number.isNaN(v)) missing++;
    else out.push(v);
  }
  return { values: out, missing };
}

/** Population mean (throws on empty). */
export function mean(a: number[]): number {
  requireNonEmpty('mean', a);
  let s = 0;
  for (const v of a) s += v;
  return s / a.length;
}

/** Population standard deviation, ddof = 0 (numpy.std default), two-pass. */
export function stdPopulation(a: number[]): number {
  const m = mean(a);
  let s = 0;
  for (const v of a) s += (v - m) * (v - m);
  return Math.sqrt(s / a.length);
}

// ---------------------------------------------------------------- Kolmogorov–Smirnov

/** Two-sided two-sample KS statistic D = sup |F_a − F_b| (SciPy ks_2samp, ties handled by side='right'). */
export function ksStatistic(a: number[], b: number[]): number {
  requireNonEmpty('ksStatistic', a, b);
  requireNoNaN('ksStatistic', a, b);
  const sa = sorted(a);
  const sb = sorted(b);
  let d = 0;
  for (const arr of [sa, sb]) {
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i];
      const diff = Math.abs(searchRight(sa, x) / sa.length - searchRight(sb, x) / sb.length);
      if (diff > d) d = diff;
    }
  }
  return d;
}

/** Pr(D_{n,n} ≥ h/n) for equal sample sizes (SciPy _compute_prob_outside_square, Horner form). */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/**
 * Pr(D_{m,n} ≥ h/lcm) for unequal sizes: proportion of lattice paths leaving the band
 * |i·n/g − j·m/g| < h (SciPy _compute_outer_prob_inside_method), as probabilities so nothing overflows.
 */
function probOutsideBand(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  // A[j] = probability that a random path to (i, j) has already left the band; 1 outside the band.
  const A = new Float64Array(n + 1).fill(1);
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastMin = minj;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    for (let j = lastMin; j < minj; j++) A[j] = 1;
    for (let j = minj; j < maxj; j++) {
      const left = A[j]; // column i-1, row j (1 when it was outside that column's band)
      const below = j === 0 ? 0 : A[j - 1]; // column i, row j-1 (already updated)
      A[j] = (i * left + j * below) / (i + j);
    }
  }
  return A[n];
}

/** Kolmogorov limiting survival function Q_KS(λ) = 2 Σ (−1)^{k−1} e^{−2k²λ²}. */
export function kolmogorovSf(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    // Jacobi-theta form, converges fast for small λ: 1 − √(2π)/λ Σ e^{−(2k−1)²π²/(8λ²)}.
    const w = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let s = 0;
    for (let k = 1; k <= 20; k++) s += Math.exp(-(2 * k - 1) * (2 * k - 1) * w);
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s));
  }
  let s = 0;
  for (let k = 1; k <= 100; k++) {
    const t = Math.exp(-2 * k * k * lambda * lambda);
    s += (k % 2 === 1 ? 1 : -1) * t;
    if (t < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * s));
}

/** Largest sample size for which ksTwoSample computes the exact p-value (SciPy's MAX_AUTO_N). */
export const KS_EXACT_MAX_N = 10000;

/**
 * Two-sided two-sample Kolmogorov–Smirnov test, p-value as SciPy ks_2samp(method='auto'):
 * exact when max(n_a, n_b) ≤ 10000 (ties do not change the method, as in SciPy), otherwise
 * asymptotic. SciPy's 'asymp' uses kstwo.sf(D, round(n_a·n_b/(n_a+n_b))); here the asymptotic
 * branch uses the Kolmogorov limit with Stephens' small-sample correction, which agrees with
 * SciPy to ~1e-3 relative at these sizes (2.3e-5 absolute in the fixture; see the test). Throws RangeError on an empty sample.
 */
export function ksTwoSample(a: number[], b: number[]): TestResult & { method: 'exact' | 'asymp' } {
  return ksPValue(ksStatistic(a, b), a.length, b.length);
}

/**
 * The two-sided p-value of a KS statistic d between samples of sizes n1 and n2 (the distribution ksTwoSample uses):
 * exact when both sizes are at most KS_EXACT_MAX_N (and allowExact: the exact path costs O(n1·n2)), else asymptotic.
 * Used directly when the current side is a sketch.
 */
export function ksPValue(d: number, n1: number, n2: number, allowExact = true): TestResult & { method: 'exact' | 'asymp' } {
  if (allowExact && Math.max(n1, n2) <= KS_EXACT_MAX_N) {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = Math.round(d * lcm);
    const dd = h / lcm;
    if (h === 0) return { statistic: dd, pValue: 1, method: 'exact' };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
    if (Number.isFinite(p) && p >= 0 && p <= 1) return { statistic: dd, pValue: p, method: 'exact' };
  }
  const en = (n1 * n2) / (n1 + n2);
  const sq = Math.sqrt(en);
  const p = kolmogorovSf((sq + 0.12 + 0.11 / sq) * d);
  return { statistic: d, pValue: Math.min(1, Math.max(0, p)), method: 'asymp' };
}

// ---------------------------------------------------------------- Wasserstein

/** 1-D first Wasserstein (earth mover's) distance between two unweighted samples (SciPy wasserstein_distance). */
export function wassersteinDistance(a: number[], b: number[]): number {
  requireNonEmpty('wassersteinDistance', a, b);
  requireNoNaN('wassersteinDistance', a, b);
  const sa = sorted(a);
  const sb = sorted(b);
  const all = new Float64Array(sa.length + sb.length);
  all.set(sa);
  all.set(sb, sa.length);
  all.sort();
  // ∫ |F_a − F_b| dx, both CDFs right-continuous step functions evaluated on the merged support.
  let ia = 0;
  let ib = 0;
  let w = 0;
  for (let k = 0; k < all.length - 1; k++) {
    const x = all[k];
    while (ia < sa.length && sa[ia] <= x) ia++;
    while (ib < sb.length && sb[ib] <= x) ib++;
    const dx = all[k + 1] - x;
    if (dx !== 0) w += Math.abs(ia / sa.length - ib / sb.length) * dx;
  }
  return w;
}

/** Floor for the reference std in normalisedWasserstein (Evidently's `max(np.std(reference), 0.001)`). */
export const WASSERSTEIN_STD_FLOOR = 0.001;

/**
 * Normalised Wasserstein distance W(ref, cur) / max(std(ref), 0.001) as Evidently's
 * wasserstein stat test; std is the population std (ddof = 0, np.std default). A constant
 * reference therefore divides by 0.001 (identical constants give 0, a moved constant a large score).
 */
export function normalisedWasserstein(ref: number[], cur: number[]): number {
  const w = wassersteinDistance(ref, cur);
  return w / Math.max(stdPopulation(ref), WASSERSTEIN_STD_FLOOR);
}

// ---------------------------------------------------------------- chi-square

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let s = c[0];
  for (let i = 1; i < 9; i++) s += c[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Regularised lower incomplete gamma P(a, x) by its series (use for x < a + 1). */
function gammaPSeries(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  for (let n = 0; n < 10000; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Regularised upper incomplete gamma Q(a, x) by its continued fraction, modified Lentz (use for x ≥ a + 1). */
function gammaQContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** Regularised upper incomplete gamma Q(a, x) = Γ(a, x)/Γ(a) (SciPy gammaincc), series or continued fraction. */
export function gammaincc(a: number, x: number): number {
  if (!(a > 0) || Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return 1 - gammaPSeries(a, x);
  return gammaQContinuedFraction(a, x);
}

/** Chi-square survival function with k degrees of freedom: Q(k/2, x/2). */
export function chiSquareSf(x: number, k: number): number {
  if (x === Infinity) return 0;
  return gammaincc(k / 2, x / 2);
}

/**
 * Pearson chi-square goodness of fit of the current counts against the reference shares, as
 * Evidently's chisquare stat test: over the union of categories (sorted keys),
 * expected = refCount × (current total / reference total), then SciPy chisquare(f_obs, f_exp)
 * with df = categories − 1. No epsilon: a category unseen in the reference but present now has
 * expected 0, so the statistic is +Infinity and the p-value 0 (SciPy gives the same), i.e. drift.
 * Categories with zero count in both are ignored. A single category gives df = 0: statistic 0, p-value 1.
 * Throws RangeError when either total is 0 (empty window).
 */
export function chiSquareCategorical(refCounts: Record<string, number>, curCounts: Record<string, number>): TestResult {
  const keys = [...new Set([...Object.keys(refCounts), ...Object.keys(curCounts)])]
    .filter((k) => (refCounts[k] ?? 0) > 0 || (curCounts[k] ?? 0) > 0)
    .sort();
  let refTotal = 0;
  let curTotal = 0;
  for (const k of keys) {
    refTotal += refCounts[k] ?? 0;
    curTotal += curCounts[k] ?? 0;
  }
  if (refTotal === 0 || curTotal === 0) throw new RangeError('chiSquareCategorical: empty window (no counts)');
  const scale = curTotal / refTotal;
  let stat = 0;
  for (const k of keys) {
    const obs = curCounts[k] ?? 0;
    const exp = (refCounts[k] ?? 0) * scale;
    stat += exp === 0 ? (obs === 0 ? 0 : Infinity) : ((obs - exp) * (obs - exp)) / exp;
  }
  const df = keys.length - 1;
  if (df <= 0) return { statistic: 0, pValue: 1 };
  return { statistic: stat, pValue: chiSquareSf(stat, df) };
}

// ---------------------------------------------------------------- Jensen–Shannon, PSI

/** x·ln(x/y) with SciPy rel_entr conventions (0 when x = 0, +Infinity when y = 0 < x). */
function relEntr(x: number, y: number): number {
  if (x === 0 && y >= 0) return 0;
  if (x > 0 && y > 0) return x * Math.log(x / y);
  return Infinity;
}

/**
 * Jensen–Shannon distance (SciPy spatial.distance.jensenshannon): both vectors normalised to sum 1,
 * returns sqrt(JS divergence) in the given log base. Note SciPy's own default is base e; the
 * default here is 2 so the distance lies in [0, 1]. Throws RangeError on length mismatch or a zero sum.
 */
export function jensenShannonDistance(p: number[], q: number[], base = 2): number {
  if (p.length !== q.length) throw new RangeError('jensenShannonDistance: vectors differ in length');
  requireNonEmpty('jensenShannonDistance', p);
  const sp = p.reduce((s, v) => s + v, 0);
  const sq = q.reduce((s, v) => s + v, 0);
  if (!(sp > 0) || !(sq > 0)) throw new RangeError('jensenShannonDistance: empty window (sum is 0)');
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    const m = (pi + qi) / 2;
    js += relEntr(pi, m) + relEntr(qi, m);
  }
  js /= Math.log(base);
  return Math.sqrt(Math.max(0, js / 2));
}

/**
 * Population stability index: PSI = Σ_i (cur_i − ref_i) · ln(cur_i / ref_i), where ref_i and cur_i
 * are bin (or category) shares, each first clipped below at eps (share_i := max(share_i, eps)) so
 * empty bins stay finite. Shares are used as given (not renormalised after clipping).
 */
export function psi(refShares: number[], curShares: number[], eps = 1e-4): number {
  if (refShares.length !== curShares.length) throw new RangeError('psi: vectors differ in length');
  requireNonEmpty('psi', refShares);
  let s = 0;
  for (let i = 0; i < refShares.length; i++) {
    const r = Math.max(refShares[i], eps);
    const c = Math.max(curShares[i], eps);
    s += (c - r) * Math.log(c / r);
  }
  return s;
}

/** Counts → shares (count / Σ counts); throws RangeError when the sum is 0. */
export function toShares(counts: number[]): number[] {
  const total = counts.reduce((s, v) => s + v, 0);
  if (!(total > 0)) throw new RangeError('toShares: empty window (sum is 0)');
  return counts.map((c) => c / total);
}

// ---------------------------------------------------------------- histograms

/** Quantile of an ascending array with linear interpolation (numpy.quantile default method 'linear'). */
export function quantileSorted(s: ArrayLike<number>, q: number): number {
  requireNonEmpty('quantileSorted', s);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  const frac = pos - lo;
  return frac === 0 ? s[lo] : s[lo] + (s[hi] - s[lo]) * frac;
}

/**
 * Bin edges fixed from the reference: the 0, 1/bins, …, 1 quantiles (numpy 'linear') of the finite
 * present reference values, duplicates removed, so each bin holds ~1/bins of the reference even for
 * skewed data. A constant reference yields [c, c] (one closed bin holding exactly c). Missing and
 * ±Infinity values are ignored for the edges. Throws RangeError when no finite value is present.
 */
export function binEdgesFromReference(ref: readonly MaybeNumber[], bins = 10): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError('binEdgesFromReference: bins must be a positive integer');
  const finite = splitMissing(ref).values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) throw new RangeError('binEdgesFromReference: empty reference (no finite values)');
  const s = sorted(finite);
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const e = quantileSorted(s, i / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  if (edges.length === 1) edges.push(edges[0]);
  return edges;
}

/**
 * Counts values into fixed edges: interior bins [e_i, e_{i+1}) with the last one closed (numpy.histogram),
 * plus underflow (< e_0), overflow (> e_k) and missing (null, undefined, NaN) — nothing is dropped.
 */
export function histogram(values: readonly MaybeNumber[], edges: number[]): Histogram {
  if (edges.length < 2) throw new RangeError('histogram: need at least two edges');
  for (let i = 1; i < edges.length; i++) if (!(edges[i] >= edges[i - 1])) throw new RangeError('histogram: edges must ascend');
  const k = edges.length - 1;
  const counts = new Array<number>(k).fill(0);
  let underflow = 0;
  let overflow = 0;
  let missing = 0;
  const last = edges[k];
  for (const v of values) {
    if (v === null || v === undefined || Number.isNaN(v)) missing++;
    else if (v < edges[0]) underflow++;
    else if (v > last) overflow++;
    else {
      // largest i with edges[i] <= v, clamped into the last (closed) bin
      let lo = 0;
      let hi = k;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (edges[mid] <= v) lo = mid;
        else hi = mid - 1;
      }
      counts[Math.min(lo, k - 1)]++;
    }
  }
  return { edges: [...edges], counts, underflow, overflow, missing, total: values.length };
}

/** Bin vector [underflow, ...counts, overflow] of the present values, the one PSI / JS compare. */
export function histogramBins(h: Histogram): number[] {
  return [h.underflow, ...h.counts, h.overflow];
}

/** Adds two histograms over the same edges (windows merge by adding). */
export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  if (a.edges.length !== b.edges.length || a.edges.some((e, i) => e !== b.edges[i])) throw new RangeError('mergeHistograms: edges differ');
  return {
    edges: [...a.edges],
    counts: a.counts.map((c, i) => c + b.counts[i]),
    underflow: a.underflow + b.underflow,
    overflow: a.overflow + b.overflow,
    missing: a.missing + b.missing,
    total: a.total + b.total,
  };
}
