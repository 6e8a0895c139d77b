import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BUCKETS, QuantileSketch, ksFromSteps, sketchWasserstein, type SketchJson, type SketchJsonV1 } from '../../../agent/drift/sketch.js';
import { ksPValue, ksStatistic } from '../../../agent/drift/stats.js';
import { KS_EXACT_MAX_PRODUCT, score, type RefFeature } from '../../../agent/drift/compare.js';
import { buildRefFeature } from '../../../agent/drift/reference.js';
import { addValue, newAcc } from '../../../agent/drift/profile.js';
import { mulberry32 } from '../../../shared/util/prng.js';

// Exact values: scripts/drift-reference.py ("sketch" cases; SciPy wasserstein_distance, ks_2samp method=auto, numpy
// quantile method='lower'). The sketch side is ours; SciPy sees the raw samples.
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/drift/reference.json', import.meta.url), 'utf8'));

type Num = number | string;
const num = (v: Num): number => (typeof v === 'number' ? v : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN);

interface SketchCase {
  name: string;
  a: number[];
  b: number[];
  ks: { statistic: Num; pValue: Num; method: 'exact' | 'asymp' };
  clear: boolean;
  wasserstein: Num;
  stdA: Num;
  normalisedWasserstein: Num;
  quantiles: { qs: number[]; a: Num[]; b: Num[] };
}
const cases = fixture.sketch as SketchCase[];

// ---------------------------------------------------------------- the error model the tolerances come from
//
// A value x (|x| ≥ 1e-9) goes to bucket k = ceil(log_γ |x|), γ = (1+α)/(1−α), which stands for r = 2γ^k/(γ+1); since
// |x| ∈ (γ^(k−1), γ^k], r/|x| ∈ [1−α, 1+α): every value is represented within α relative. The map x → r is monotone
// (and the extremes are clamped to the exact min / max, which only moves them closer), so:
//  - the element of sorted index i is represented by the bucket where the cumulative count first exceeds i;
//  - the sketch's quantile function is the raw one pushed through that map.
// Two exceptions widen "α relative" into "α relative or ε absolute":
//  - |x| < 1e-9 counts as exactly 0 (error < 1e-9);
//  - past maxBuckets keys per sign the lowest-magnitude buckets collapse into the lowest key kept, which is at most
//    k_max − maxBuckets + 1, so a collapsed value and its representative are both ≤ γ^(k_max − maxBuckets + 1)
//    ≤ M·γ^(2 − maxBuckets), M = max |x|.
// Hence per value |r − x| ≤ α|x| + ε with ε = max(1e-9, M·γ^(2 − maxBuckets)); ALPHA_SLACK absorbs float rounding of the key.
const ALPHA = 0.02;
const GAMMA = (1 + ALPHA) / (1 - ALPHA);
const MAX_BUCKETS = DEFAULT_MAX_BUCKETS; // what profiles use (newAcc, accFromJson)
const ALPHA_SLACK = 1e-9;
const epsOf = (xs: number[]): number => Math.max(1e-9, Math.max(...xs.map(Math.abs)) * GAMMA ** (2 - MAX_BUCKETS));
const meanAbs = (xs: number[]): number => xs.reduce((s, x) => s + Math.abs(x), 0) / xs.length;

function sketchOf(xs: readonly number[], alpha = ALPHA, maxBuckets = MAX_BUCKETS): QuantileSketch {
  const s = new QuantileSketch(alpha, maxBuckets);
  for (const x of xs) s.add(x);
  return s;
}

/** The sketch's bucket of a value (same formula as QuantileSketch.key): 'z' for |x| < 1e-9, else sign and key. */
const bucketOf = (x: number): string => (Math.abs(x) < 1e-9 ? 'z' : `${x > 0 ? '+' : '-'}${Math.ceil(Math.log(Math.abs(x)) / Math.log(GAMMA))}`);

/**
 * KS tolerance when both sides go through the same bucket map (compare.ts: ksFromSteps(ref.sketch.steps(),
 * cur.sketch.steps())). The map is monotone and shared, so the CDFs of the mapped samples at a bucket value are the raw
 * CDFs at the top of that bucket: D' is the exact statistic restricted to bucket boundaries. Hence D' ≤ D, and for the
 * data point y where D is attained, moving to the top of y's bucket changes F_a and F_b by the shares of a and b in
 * that bucket above y: D − D' ≤ ω = max over data y of max(share of a, share of b) in y's bucket strictly above y.
 * Computed from the data (0 when every bucket holds one distinct value, e.g. small integers, or constants).
 */
function ksTolerance(a: number[], b: number[]): number {
  const above = (xs: number[], y: number) => { const k = bucketOf(y); let c = 0; for (const x of xs) if (x > y && bucketOf(x) === k) c++; return c / xs.length; };
  let w = 0;
  for (const y of new Set([...a, ...b])) w = Math.max(w, above(a, y), above(b, y));
  return w;
}

const stepsOf = (xs: number[]) => Array.from(Float64Array.from(xs).sort(), (v) => [v, 1] as [number, number]);

describe('QuantileSketch / sketchWasserstein / KS against SciPy (fixture "sketch" cases)', () => {
  it('fixture has the sketch cases, clear drift and clear no-drift among them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
    expect(cases.some((c) => c.clear && num(c.ks.pValue) < 0.05)).toBe(true);
    expect(cases.some((c) => c.clear && num(c.ks.pValue) >= 0.05)).toBe(true);
  });

  for (const c of cases) {
    describe(`${c.name} (n=${c.a.length}/${c.b.length})`, () => {
      it('quantiles within α relative (+ε) of numpy quantile(method="lower"), i.e. index floor(q·(n−1))', () => {
        for (const [xs, exp] of [[c.a, c.quantiles.a], [c.b, c.quantiles.b]] as const) {
          const s = sketchOf(xs);
          const eps = epsOf(xs);
          c.quantiles.qs.forEach((q, i) => {
            const e = num(exp[i]);
            const got = s.quantile(q);
            const tol = (ALPHA + ALPHA_SLACK) * Math.abs(e) + eps;
            expect(Math.abs(got - e), `q=${q}: sketch ${got} numpy ${e} tol ${tol}`).toBeLessThanOrEqual(tol);
          });
          // The extremes are exact.
          expect(s.quantile(0)).toBe(Math.min(...xs));
          expect(s.quantile(1)).toBe(Math.max(...xs));
        }
      });

      // |W(a', b') − W(a, b)| ≤ ∫|Q'_a − Q_a| + ∫|Q'_b − Q_b| ≤ α·(E|a| + E|b|) + ε_a + ε_b (triangle inequality on
      // the quantile functions; W1 = ∫₀¹ |Q_a − Q_b| du in 1-D).
      it('sketchWasserstein within α·(E|a|+E|b|) + ε_a + ε_b of scipy wasserstein_distance', () => {
        const exp = num(c.wasserstein);
        const got = sketchWasserstein(sketchOf(c.a), sketchOf(c.b));
        const tol = (ALPHA + ALPHA_SLACK) * (meanAbs(c.a) + meanAbs(c.b)) + epsOf(c.a) + epsOf(c.b) + 1e-12 * exp;
        expect(Math.abs(got - exp), `sketch ${got} scipy ${exp} tol ${tol}`).toBeLessThanOrEqual(tol);
        // Symmetric, and 0 against itself.
        expect(sketchWasserstein(sketchOf(c.b), sketchOf(c.a))).toBeCloseTo(got, 12);
        expect(sketchWasserstein(sketchOf(c.a), sketchOf(c.a))).toBe(0);
      });

      it('KS as compare.ts does it (both sketches\' steps) within [D − ω, D] of scipy ks_2samp; same decision at 0.05 when clear', () => {
        const d = ksFromSteps(sketchOf(c.a).steps(), sketchOf(c.b).steps());
        const exp = num(c.ks.statistic);
        const tol = ksTolerance(c.a, c.b);
        expect(d, `D' ${d} scipy D ${exp}`).toBeLessThanOrEqual(exp + 1e-12);
        expect(exp - d, `D' ${d} scipy D ${exp} ω ${tol}`).toBeLessThanOrEqual(tol + 1e-12);
        // ω is one bucket's share (a bucket spans 4% of |x|): at most 0.056 here (N(5, 2), n=400, near the mode);
        // 0 for small integers and constants, so those match SciPy exactly. Bounded so the check is not vacuous.
        expect(tol).toBeLessThanOrEqual(0.06);
        if (tol === 0) expect(Math.abs(d - exp)).toBeLessThanOrEqual(1e-12);
        const p = ksPValue(d, c.a.length, c.b.length, c.a.length * c.b.length <= KS_EXACT_MAX_PRODUCT).pValue;
        if (c.clear) expect(p < 0.05, `p ${p} scipy ${num(c.ks.pValue)}`).toBe(num(c.ks.pValue) < 0.05);
        // D' ≤ D: the sketch can only make the test more conservative, never a false drift.
        expect(p).toBeGreaterThanOrEqual(num(c.ks.pValue) * (1 - 1e-9));
        if (tol === 0) expect(Math.abs(p - num(c.ks.pValue))).toBeLessThanOrEqual(1e-9 * num(c.ks.pValue) + 1e-300);
        // The p-value of SciPy's own statistic is SciPy's p-value (same exact recursion; stats.test.ts tolerance 1e-9 rel).
        const pe = ksPValue(exp, c.a.length, c.b.length);
        expect(pe.method).toBe(c.ks.method);
        expect(Math.abs(pe.pValue - num(c.ks.pValue))).toBeLessThanOrEqual(1e-9 * num(c.ks.pValue) + 1e-300);
      });

      it('score() ks (small reference) and wasserstein (normalised) follow the same tolerances', () => {
        const ref: RefFeature = buildRefFeature('x', 'input', 'numeric', c.a);
        const cur = newAcc('numeric', ref.edges);
        for (const v of c.b) addValue(cur, v, ref.edges);
        // KS: the p-value of D' (checked above); the path through score() must give the same.
        const d = ksFromSteps(sketchOf(c.a).steps(), sketchOf(c.b).steps());
        expect(score('ks', ref, cur)).toBe(ksPValue(d, c.a.length, c.b.length, c.a.length * c.b.length <= KS_EXACT_MAX_PRODUCT).pValue);
        if (c.clear) expect(score('ks', ref, cur) < 0.05).toBe(num(c.ks.pValue) < 0.05);
        // Wasserstein ÷ max(std_ref, 0.001): the std comes from sums (not two-pass), hence the extra 1e-9 relative.
        const std = Math.max(num(c.stdA), 0.001);
        const tol = ((ALPHA + ALPHA_SLACK) * (meanAbs(c.a) + meanAbs(c.b)) + epsOf(c.a) + epsOf(c.b)) / std + 1e-9 * num(c.normalisedWasserstein) + 1e-9;
        const got = score('wasserstein', ref, cur);
        expect(Math.abs(got - num(c.normalisedWasserstein)), `got ${got} scipy ${num(c.normalisedWasserstein)} tol ${tol}`).toBeLessThanOrEqual(tol);
      });
    });
  }

  it('ksFromSteps on raw [v, 1] steps equals ksStatistic exactly (ties, negatives, zeros, unequal sizes)', () => {
    const rnd = mulberry32(11);
    const samples: Array<[number[], number[]]> = cases.map((c) => [c.a, c.b]);
    samples.push([[1, 1, 1, 2, 2, 3], [1, 2, 2, 2, 3, 3, 3, 4]]);
    samples.push([[0], [0]]);
    samples.push([[-1, 0, 1], [5]]);
    samples.push([Array.from({ length: 97 }, () => Math.round(rnd() * 10) - 5), Array.from({ length: 61 }, () => Math.round(rnd() * 10) - 4)]);
    for (const [a, b] of samples) {
      expect(ksFromSteps(stepsOf(a), stepsOf(b))).toBe(ksStatistic(a, b));
      // Grouped ties ([v, count]) give the same statistic.
      const grouped = (xs: number[]) => { const m = new Map<number, number>(); for (const x of [...xs].sort((p, q) => p - q)) m.set(x, (m.get(x) ?? 0) + 1); return [...m.entries()]; };
      expect(ksFromSteps(grouped(a), grouped(b))).toBe(ksStatistic(a, b));
    }
    expect(() => ksFromSteps([], [[1, 1]])).toThrow(/empty window/);
  });
});

describe('QuantileSketch structure', () => {
  const rnd = mulberry32(2024);
  const data = Array.from({ length: 5000 }, () => (rnd() - 0.3) * 10 ** (rnd() * 6 - 2) * (rnd() < 0.05 ? 0 : 1));

  it('merge of two sketches equals the sketch of the union, bucket for bucket', () => {
    const a = data.slice(0, 2100);
    const b = data.slice(2100);
    const merged = sketchOf(a).merge(sketchOf(b));
    const whole = sketchOf(data);
    expect(merged.buckets()).toEqual(whole.buckets());
    expect(merged.toJSON()).toEqual(whole.toJSON());
    expect(merged.n).toBe(data.length);
    expect(merged.zero).toBeGreaterThan(0);
    // Merging an empty sketch changes nothing.
    expect(sketchOf(data).merge(new QuantileSketch()).toJSON()).toEqual(whole.toJSON());
    expect(new QuantileSketch().merge(sketchOf(data)).toJSON()).toEqual(whole.toJSON());
    expect(() => new QuantileSketch(0.02).merge(new QuantileSketch(0.01))).toThrow(RangeError);
  });

  it('JSON round trip (through a string) keeps every bucket, count, min and max; empty sketches too', () => {
    const s = sketchOf(data);
    const back = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(s)) as SketchJson);
    expect(back.toJSON()).toEqual(s.toJSON());
    expect(back.buckets()).toEqual(s.buckets());
    for (const q of [0, 0.1, 0.5, 0.99, 1]) expect(back.quantile(q)).toBe(s.quantile(q));
    const e = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(new QuantileSketch())) as SketchJson);
    expect(e.n).toBe(0);
    expect(e.min).toBe(Infinity);
    expect(e.max).toBe(-Infinity);
    expect(Number.isNaN(e.quantile(0.5))).toBe(true);
    // A round-tripped sketch merges like the original.
    expect(back.merge(sketchOf([1, 2, 3])).toJSON()).toEqual(sketchOf([...data, 1, 2, 3]).toJSON());
  });

  it('compact JSON: sorted integer keys and counts as number arrays per sign, round trip through a string', () => {
    const s = sketchOf(data);
    const j = JSON.parse(JSON.stringify(s)) as SketchJson;
    expect(Object.keys(j).sort()).toEqual(['a', 'max', 'min', 'n', 'nc', 'nk', 'pc', 'pk', 'zero']);
    for (const [k, c] of [[j.pk, j.pc], [j.nk, j.nc]]) {
      expect(k.length).toBe(c.length);
      expect(k.length).toBeGreaterThan(0);
      expect(k.every((x) => Number.isInteger(x))).toBe(true);
      expect(k.every((x, i) => i === 0 || x > k[i - 1])).toBe(true);
      expect(c.every((x) => Number.isInteger(x) && x > 0)).toBe(true);
    }
    expect(j.pc.reduce((t, x) => t + x, 0) + j.nc.reduce((t, x) => t + x, 0) + j.zero).toBe(data.length);
    const back = QuantileSketch.fromJSON(j);
    expect(back.steps()).toEqual(s.steps());
    expect(back.buckets()).toEqual(s.buckets());
    expect([back.n, back.zero, back.min, back.max]).toEqual([s.n, s.zero, s.min, s.max]);
  });

  it('fromJSON reads the old stored form (pos/neg objects keyed by strings) like the compact one', () => {
    const s = sketchOf(data);
    const j = s.toJSON();
    const old: SketchJsonV1 = { a: j.a, pos: Object.fromEntries(j.pk.map((k, i) => [String(k), j.pc[i]])), neg: Object.fromEntries(j.nk.map((k, i) => [String(k), j.nc[i]])),
      zero: j.zero, n: j.n, min: j.min, max: j.max };
    const back = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(old)) as SketchJsonV1);
    expect(back.toJSON()).toEqual(s.toJSON());
    expect(back.buckets()).toEqual(s.buckets());
    for (const q of [0, 0.1, 0.5, 0.99, 1]) expect(back.quantile(q)).toBe(s.quantile(q));
    // An empty sketch of the old form (min/max null).
    const e = QuantileSketch.fromJSON({ a: ALPHA, pos: {}, neg: {}, zero: 0, n: 0, min: null, max: null });
    expect([e.n, e.min, e.max]).toEqual([0, Infinity, -Infinity]);
    // mergeJSON of either form equals merge of the parsed sketch.
    const base = sketchOf([1, -2, 0, 3.5]);
    const viaOld = sketchOf([1, -2, 0, 3.5]).mergeJSON(JSON.parse(JSON.stringify(old)) as SketchJsonV1);
    const viaNew = sketchOf([1, -2, 0, 3.5]).mergeJSON(JSON.parse(JSON.stringify(s)) as SketchJson);
    const expected = base.merge(s).toJSON();
    expect(viaOld.toJSON()).toEqual(expected);
    expect(viaNew.toJSON()).toEqual(expected);
    expect(() => new QuantileSketch(0.01).mergeJSON(j)).toThrow(RangeError);
    // Empty serialised sketch (min/max null) merges as nothing.
    const emptyJ = JSON.parse(JSON.stringify(new QuantileSketch())) as SketchJson;
    expect(sketchOf(data).mergeJSON(emptyJ).toJSON()).toEqual(s.toJSON());
  });

  it('mergeManyJSON equals mergeJSON of each in turn: dense path, old form, and when collapses happen midway', () => {
    const parts = [data.slice(0, 1000), data.slice(1000, 1100), [], data.slice(1100, 4000), data.slice(4000)];
    for (const cap of [MAX_BUCKETS, 40, 8]) {
      const build = (xs: readonly number[]) => { const q = new QuantileSketch(ALPHA, cap); for (const x of xs) q.add(x); return q; };
      const js = parts.map((p) => JSON.parse(JSON.stringify(build(p))) as SketchJson);
      const seq = build([5, -5]); for (const j of js) seq.mergeJSON(j);
      expect(build([5, -5]).mergeManyJSON(js).toJSON(), `cap ${cap}`).toEqual(seq.toJSON());
      // A mix with the old form takes the sequential path for that sign.
      const mixed: Array<SketchJson | SketchJsonV1> = [...js];
      const j0 = js[0];
      mixed[0] = { a: j0.a, pos: Object.fromEntries(j0.pk.map((k, i) => [String(k), j0.pc[i]])), neg: Object.fromEntries(j0.nk.map((k, i) => [String(k), j0.nc[i]])), zero: j0.zero, n: j0.n, min: j0.min, max: j0.max };
      expect(build([5, -5]).mergeManyJSON(mixed).toJSON(), `cap ${cap}, old form`).toEqual(seq.toJSON());
    }
    expect(new QuantileSketch().mergeManyJSON([]).toJSON()).toEqual(new QuantileSketch().toJSON());
    expect(() => new QuantileSketch(0.01).mergeManyJSON([new QuantileSketch(0.02).toJSON()])).toThrow(RangeError);
  });

  it('clone is an independent copy with the same buckets, figures and cap', () => {
    const s = new QuantileSketch(ALPHA, 32);
    for (const x of data) s.add(x);
    const c = s.clone();
    expect(c.toJSON()).toEqual(s.toJSON());
    expect(c.maxBuckets).toBe(32);
    expect(c.alpha).toBe(ALPHA);
    const before = s.toJSON();
    c.add(12345); c.add(-0.5); c.merge(sketchOf([1, 2, 3]));
    expect(s.toJSON()).toEqual(before);
    expect(c.n).toBe(s.n + 5);
    const e = new QuantileSketch().clone();
    expect([e.n, e.min, e.max]).toEqual([0, Infinity, -Infinity]);
  });

  it('collapse bounds the buckets (1e6 values over 12 decades, maxBuckets 32) while the top quantiles stay within α', () => {
    const r = mulberry32(99);
    const n = 1_000_000;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = 10 ** (r() * 12 - 6);
    const s = new QuantileSketch(ALPHA, 32);
    for (const x of xs) s.add(x);
    const j = s.toJSON();
    expect(j.pk.length).toBeLessThanOrEqual(32);
    expect(s.buckets().length).toBeLessThanOrEqual(32);
    expect(s.n).toBe(n);
    expect(s.buckets().reduce((t, [, c]) => t + c, 0)).toBe(n);
    xs.sort();
    // 32 buckets of factor γ (ln γ ≈ 0.040) span 32·0.040/ln 10 ≈ 0.556 decades of the 12: quantiles above
    // 1 − 0.55/12 ≈ 0.954 keep α relative accuracy.
    for (const q of [0.96, 0.98, 0.99, 0.999, 1]) {
      const e = xs[Math.floor(q * (n - 1))];
      expect(Math.abs(s.quantile(q) - e) / e, `q=${q}`).toBeLessThanOrEqual(ALPHA + ALPHA_SLACK);
    }
    // The low ones lose accuracy (collapsed), but stay ordered and within [min, max].
    expect(s.quantile(0.01)).toBeGreaterThanOrEqual(s.min);
    expect(s.quantile(0.01)).toBeLessThanOrEqual(s.quantile(0.5));
    // Merging collapsed sketches stays bounded too.
    const m = QuantileSketch.fromJSON(j, 32).merge(s);
    expect(m.toJSON().pk.length).toBeLessThanOrEqual(32);
    expect(m.n).toBe(2 * n);
  });

  it('collapse applies to negative values too', () => {
    const s = new QuantileSketch(ALPHA, 16);
    for (let i = 0; i < 2000; i++) s.add(-(10 ** (i / 200)));
    expect(s.toJSON().nk.length).toBeLessThanOrEqual(16);
    expect(s.quantile(0)).toBe(-(10 ** (1999 / 200)));
    // sorted[i] = −10^((1999 − i)/200); 16 buckets span ~0.27 decades of the largest magnitudes (the lowest quantiles).
    for (const q of [0.005, 0.01]) {
      const e = -(10 ** ((1999 - Math.floor(q * 1999)) / 200));
      expect(Math.abs(s.quantile(q) - e) / Math.abs(e), `q=${q}`).toBeLessThanOrEqual(ALPHA + ALPHA_SLACK);
    }
  });

  it('empty sketch: quantiles NaN, wasserstein throws empty window', () => {
    const e = new QuantileSketch();
    expect(Number.isNaN(e.quantile(0))).toBe(true);
    expect(Number.isNaN(e.quantile(0.5))).toBe(true);
    expect(e.buckets()).toEqual([]);
    expect(() => sketchWasserstein(e, sketchOf([1]))).toThrow(/empty window/);
    expect(() => sketchWasserstein(sketchOf([1]), e)).toThrow(/empty window/);
  });

  it('min / max exact; non-finite values ignored; zeros and tiny magnitudes counted as zero', () => {
    const s = sketchOf([3.14159, -2.71828, 0, 1e-12, 1e6 + 0.5, NaN, Infinity, -Infinity]);
    expect(s.n).toBe(5);
    expect(s.min).toBe(-2.71828);
    expect(s.max).toBe(1e6 + 0.5);
    expect(s.quantile(0)).toBe(-2.71828);
    expect(s.quantile(1)).toBe(1e6 + 0.5);
    expect(s.zero).toBe(2);
    expect(s.quantile(0.5)).toBe(0);
    // A single value: every quantile is that value exactly.
    const one = sketchOf([42.42]);
    for (const q of [0, 0.3, 1]) expect(one.quantile(q)).toBe(42.42);
    expect(sketchWasserstein(one, sketchOf([40]))).toBeCloseTo(2.42, 12);
    expect(() => new QuantileSketch(0)).toThrow(RangeError);
    expect(() => new QuantileSketch(1)).toThrow(RangeError);
  });

  it('add with a count equals adding the value that many times', () => {
    const a = new QuantileSketch();
    a.add(5, 7); a.add(-1, 3);
    const b = sketchOf([5, 5, 5, 5, 5, 5, 5, -1, -1, -1]);
    expect(a.toJSON()).toEqual(b.toJSON());
  });
});
