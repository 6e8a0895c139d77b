import { describe, expect, it } from 'vitest';
import { ALL_MISSING_SCORE, datasetFigures, histogramView, judgeFeature, methodFor, psiOf, qualityFlags, score, trafficDistance, type EffectiveSettings, type RefFeature } from '../../../agent/drift/compare.js';
import { buildRefFeature } from '../../../agent/drift/reference.js';
import { addValue, histOf, newAcc, type CatAcc, type Cell, type FeatureAcc, type NumAcc } from '../../../agent/drift/profile.js';
import { ksFromSteps, QuantileSketch, sketchWasserstein } from '../../../agent/drift/sketch.js';
import { chiSquareCategorical, jensenShannonDistance, ksPValue, ksTwoSample } from '../../../agent/drift/stats.js';
import type { FeatureDrift, FeatureType } from '../../../shared/protocol/index.js';
import { gaussian, mulberry32 } from '../../../shared/util/prng.js';

/** The node defaults (agent/config.ts drift section). */
const settings = (over: Partial<EffectiveSettings> = {}): EffectiveSettings => ({
  numeric_method: null, categorical_method: null,
  thresholds: { ks: 0.05, chisquare: 0.05, wasserstein: 0.1, jensenshannon: 0.1, psi: 0.2 },
  drift_share: 0.5, alert_after: 3, small_reference_rows: 1000, min_rows: 30, features: {},
  ...over,
});

const ref = (type: FeatureType, cells: readonly Cell[], name = 'f'): RefFeature => buildRefFeature(name, 'input', type, cells);
function window(r: RefFeature | null, type: FeatureType, cells: readonly Cell[]): FeatureAcc {
  const edges = r?.edges ?? null;
  const a = newAcc(type, edges);
  for (const c of cells) addValue(a, c, edges);
  return a;
}
const judge = (r: RefFeature | null, cur: Cell[], s = settings(), type: FeatureType = r?.type ?? 'numeric', name = 'f') => judgeFeature(name, 'input', type, r, window(r, type, cur), s);

const normal = (seed: number, n: number, mu = 0, sd = 1) => { const g = gaussian(mulberry32(seed)); return Array.from({ length: n }, () => mu + sd * g()); };
const rep = <T,>(v: T, n: number): T[] => new Array<T>(n).fill(v);

/** PSI written out: Σ (c − r)·ln(c/r) over shares clipped below at 1e-4. */
function psiWrittenOut(refCounts: number[], curCounts: number[]): number {
  const rt = refCounts.reduce((s, x) => s + x, 0);
  const ct = curCounts.reduce((s, x) => s + x, 0);
  let s = 0;
  for (let i = 0; i < refCounts.length; i++) {
    const r = Math.max(refCounts[i] / rt, 1e-4);
    const c = Math.max(curCounts[i] / ct, 1e-4);
    s += (c - r) * Math.log(c / r);
  }
  return s;
}

describe('methodFor (Evidently defaults, overrides)', () => {
  const s = settings();
  it('numeric: ks up to small_reference_rows (inclusive), wasserstein above; categorical: chisquare / jensenshannon', () => {
    expect(methodFor('numeric', 1000, s)).toBe('ks');
    expect(methodFor('numeric', 1001, s)).toBe('wasserstein');
    expect(methodFor('numeric', 1, s)).toBe('ks');
    expect(methodFor('categorical', 1000, s)).toBe('chisquare');
    expect(methodFor('categorical', 1001, s)).toBe('jensenshannon');
    expect(methodFor('numeric', 50, settings({ small_reference_rows: 49 }))).toBe('wasserstein');
  });
  it('model-wide methods, then per-feature overrides win', () => {
    const m = settings({ numeric_method: 'psi', categorical_method: 'jensenshannon' });
    expect(methodFor('numeric', 10, m)).toBe('psi');
    expect(methodFor('categorical', 10, m)).toBe('jensenshannon');
    expect(methodFor('numeric', 10, m, { method: 'wasserstein' })).toBe('wasserstein');
    expect(methodFor('categorical', 10_000, s, { method: 'psi' })).toBe('psi');
    expect(methodFor('categorical', 10_000, s, { method: 'chisquare' })).toBe('chisquare');
  });
  it('a numeric-only method asked for a categorical feature falls back to the default', () => {
    expect(methodFor('categorical', 10, s, { method: 'ks' })).toBe('chisquare');
    expect(methodFor('categorical', 10_000, s, { method: 'wasserstein' })).toBe('jensenshannon');
    expect(methodFor('categorical', 10, settings({ categorical_method: 'wasserstein' }))).toBe('chisquare');
  });
});

describe('judgeFeature: methods and scores', () => {
  const a = normal(1, 500);
  const rSmall = ref('numeric', a);

  it('small numeric reference → KS on the two sketches, p-value for the true sizes; clear shift drifts, no shift does not', () => {
    const shifted = normal(2, 400, 0.6);
    const same = normal(3, 400);
    const fd = judge(rSmall, shifted);
    expect(fd.method).toBe('ks');
    expect(fd.status).toBe('drift');
    expect(fd.score!).toBeLessThan(1e-6);
    const sk = (xs: number[]) => { const q = new QuantileSketch(); for (const x of xs) q.add(x); return q; };
    expect(fd.score).toBe(ksPValue(ksFromSteps(sk(a).steps(), sk(shifted).steps()), 500, 400).pValue);
    const ok = judge(rSmall, same);
    expect(ok.status).toBe('ok');
    expect(ok.drift).toBe(false);
    expect(ok.score!).toBeGreaterThan(0.05);
    // Same decision as the exact test on the raw values.
    expect(ksTwoSample(a, same).pValue).toBeGreaterThan(0.05);
    expect(ok.threshold).toBe(0.05);
    expect(ok.ref_rows).toBe(500);
    expect(ok.cur_rows).toBe(400);
  });

  it('integer-valued feature with no shift is not drift (ties across reference and window stay ties)', () => {
    // Before the fix, raw reference values vs the window's bucket values split every tie: p ~1e-7 here.
    const r = mulberry32(5);
    const pois = (lam: number) => { let k = 0; let p = Math.exp(-lam); let s = p; const u = r(); while (u > s) { k++; p *= lam / k; s += p; } return k; };
    const ra = Array.from({ length: 500 }, () => pois(3));
    const cb = Array.from({ length: 400 }, () => pois(3));
    const fd = judge(ref('numeric', ra), cb);
    expect(fd.method).toBe('ks');
    // Small integers are alone in their buckets: the p-value is the exact test's.
    expect(Math.abs(fd.score! - ksTwoSample(ra, cb).pValue)).toBeLessThanOrEqual(1e-9);
    expect(fd.status).toBe('ok');
    expect(judge(ref('numeric', ra), Array.from({ length: 400 }, () => pois(4))).status).toBe('drift');
  });

  it('large numeric reference → Wasserstein ÷ max(std_ref, 0.001), drift at or above 0.1', () => {
    const big = normal(4, 3000);
    const r = ref('numeric', big);
    const shifted = normal(5, 500, 0.3);
    const fd = judge(r, shifted);
    expect(fd.method).toBe('wasserstein');
    const sk = (xs: number[]) => { const q = new QuantileSketch(); for (const x of xs) q.add(x); return q; };
    const m = big.reduce((s, x) => s + x, 0) / big.length;
    const std = Math.sqrt(big.reduce((s, x) => s + x * x, 0) / big.length - m * m);
    expect(fd.score!).toBeCloseTo(sketchWasserstein(sk(big), sk(shifted)) / std, 12);
    expect(fd.status).toBe('drift');
    expect(judge(r, normal(6, 500)).status).toBe('ok');
  });

  it('categorical: chisquare when small (p-value of stats.chiSquareCategorical), jensenshannon when large', () => {
    const cats = (seed: number, n: number, p: number[]) => { const r = mulberry32(seed); return Array.from({ length: n }, () => { let u = r(); for (let i = 0; i < p.length; i++) { u -= p[i]; if (u < 0) return `c${i}`; } return `c${p.length - 1}`; }); };
    const rs = ref('categorical', cats(1, 800, [0.5, 0.3, 0.2]));
    const cur = cats(2, 400, [0.3, 0.3, 0.4]);
    const fd = judge(rs, cur);
    expect(fd.method).toBe('chisquare');
    const count = (xs: string[]) => { const m: Record<string, number> = {}; for (const x of xs) m[x] = (m[x] ?? 0) + 1; return m; };
    expect(fd.score).toBe(chiSquareCategorical(Object.fromEntries((rs.acc as CatAcc).counts), count(cur)).pValue);
    expect(fd.status).toBe('drift');
    expect(judge(rs, cats(3, 400, [0.5, 0.3, 0.2])).status).toBe('ok');
    const rl = ref('categorical', cats(4, 3000, [0.5, 0.3, 0.2]));
    const fl = judge(rl, cur);
    expect(fl.method).toBe('jensenshannon');
    const rc = (rl.acc as CatAcc).counts; const cc = count(cur);
    expect(fl.score).toBeCloseTo(jensenShannonDistance(['c0', 'c1', 'c2'].map((k) => rc.get(k) ?? 0), ['c0', 'c1', 'c2'].map((k) => cc[k] ?? 0)), 14);
    expect(fl.status).toBe('drift');
    expect(fl.summary).toBeNull();
  });

  it('numeric psi and jensenshannon over the reference bins (overrides)', () => {
    const cur = normal(7, 300, 0.5);
    const w = window(rSmall, 'numeric', cur) as NumAcc;
    const rb = histOf(rSmall.acc as NumAcc, rSmall.edges!); const cb = histOf(w, rSmall.edges!);
    expect(score('psi', rSmall, w)).toBeCloseTo(psiWrittenOut(rb, cb), 14);
    expect(score('jensenshannon', rSmall, w)).toBeCloseTo(jensenShannonDistance(rb, cb), 14);
    const fd = judge(rSmall, cur, settings({ features: { f: { method: 'psi' } } }));
    expect(fd.method).toBe('psi');
    expect(fd.threshold).toBe(0.2);
    expect(fd.drift).toBe(fd.score! >= 0.2);
  });
});

describe('judgeFeature: edge cases the issue names', () => {
  it('constant columns: same constant → no drift, moved constant → drift (KS and Wasserstein)', () => {
    for (const rows of [100, 2000]) {
      const r = ref('numeric', rep(3, rows));
      const same = judge(r, rep(3, 80));
      const moved = judge(r, rep(4, 80));
      expect(same.method).toBe(rows <= 1000 ? 'ks' : 'wasserstein');
      expect(same.status).toBe('ok');
      expect(same.drift).toBe(false);
      expect(moved.status).toBe('drift');
      expect(moved.drift).toBe(true);
      if (rows > 1000) { expect(same.score).toBe(0); expect(moved.score).toBeCloseTo(1 / 0.001, 6); }
      else { expect(same.score).toBe(1); expect(moved.score!).toBeLessThan(1e-20); }
      expect(moved.quality).toContain('range');
      expect(same.quality).toEqual([]);
    }
  });

  it('empty window (0 rows) and windows under min_rows: status insufficient, no score, no drift', () => {
    const r = ref('numeric', normal(1, 200));
    const empty = judge(r, []);
    expect(empty).toMatchObject({ status: 'insufficient', score: null, drift: false, psi: null, cur_rows: 0 });
    expect(empty.missing.current_share).toBe(0);
    expect(judge(r, normal(2, 29)).status).toBe('insufficient');
    expect(judge(r, normal(2, 30)).status).not.toBe('insufficient');
    const rc = ref('categorical', ['a', 'b']);
    expect(judge(rc, []).status).toBe('insufficient');
  });

  it('a single value on each side: judged when min_rows allows (KS p = 1 as SciPy; Wasserstein ÷ 0.001)', () => {
    const s1 = settings({ min_rows: 1 });
    const fd = judge(ref('numeric', [1.5]), [2.5], s1);
    expect(fd.method).toBe('ks');
    expect(fd.score).toBe(1); // scipy ks_2samp([1.5], [2.5]): statistic 1, p-value 1 (fixture single_values)
    expect(fd.status).toBe('ok');
    const fw = judge(ref('numeric', [1.5]), [2.5], settings({ min_rows: 1, numeric_method: 'wasserstein' }));
    expect(fw.score).toBeCloseTo(1 / 0.001, 9);
    expect(fw.status).toBe('drift');
    expect(fw.summary).toEqual({ ref_mean: 1.5, cur_mean: 2.5, ref_p50: 1.5, cur_p50: 2.5 });
  });

  it('unseen categories: chisquare p = 0 → drift, quality new_categories; PSI finite', () => {
    const r = ref('categorical', [...rep('a', 50), ...rep('b', 30), ...rep('c', 20)]);
    const fd = judge(r, [...rep('a', 40), ...rep('b', 30), ...rep('c', 20), ...rep('d', 10)]);
    expect(fd.method).toBe('chisquare');
    expect(fd.score).toBe(0);
    expect(fd.status).toBe('drift');
    expect(fd.quality).toContain('new_categories');
    expect(Number.isFinite(fd.psi!)).toBe(true);
    expect(fd.psi!).toBeCloseTo(psiWrittenOut([50, 30, 20, 0], [40, 30, 20, 10]), 14);
    // Under 1% unseen: no flag.
    const few = judge(r, [...rep('a', 500), ...rep('b', 300), ...rep('c', 200), 'd']);
    expect(few.quality).not.toContain('new_categories');
  });

  it('all-missing feature: current all missing with a present reference → drift, no score, quality missing', () => {
    const r = ref('numeric', normal(1, 100));
    const fd = judge(r, [...rep(null, 20), ...rep(NaN, 20)]);
    expect(fd).toMatchObject({ status: 'drift', drift: true, score: null, psi: null });
    expect(fd.quality).toContain('missing');
    expect(fd.missing).toEqual({ reference: 0, current: 40, current_share: 1 });
    const rc = ref('categorical', ['a', 'b', 'a']);
    const fc = judge(rc, rep(null, 40));
    expect(fc).toMatchObject({ status: 'drift', drift: true, score: null });
    expect(fc.quality).toContain('missing');
    // Both sides all missing: nothing drifted.
    const both = judge(ref('numeric', rep(null, 50)), rep(null, 40));
    expect(both.status).toBe('ok');
    expect(both.drift).toBe(false);
    // Reference all missing, current present: no reference to compare with.
    expect(judge(ref('numeric', rep(null, 50)), normal(1, 40)).status).toBe('no_reference');
  });

  it('missing values counted per feature, share rise flagged; a present share drives the score', () => {
    const r = ref('numeric', [...normal(1, 190), ...rep(null, 10)]); // 5% missing
    const fd = judge(r, [...normal(2, 80), ...rep(NaN, 20)]); // 20% missing
    expect(fd.missing).toEqual({ reference: 10, current: 20, current_share: 0.2 });
    expect(fd.quality).toContain('missing');
    expect(fd.score).not.toBeNull();
    expect(judge(r, [...normal(2, 95), ...rep(NaN, 5)]).quality).not.toContain('missing');
  });

  it('no reference yet: status no_reference, method from the type', () => {
    const fd = judge(null, normal(1, 50), settings(), 'numeric');
    expect(fd).toMatchObject({ status: 'no_reference', method: 'ks', ref_rows: 0, score: null, drift: false });
  });
});

describe('judgeFeature: overrides and threshold direction', () => {
  const r = ref('numeric', normal(1, 500));
  const cur = normal(2, 400, 0.15);

  it('per-feature ignore, method and threshold', () => {
    expect(judge(r, normal(2, 400, 3), settings({ features: { f: { ignore: true } } }))).toMatchObject({ status: 'ignored', drift: false, score: null });
    const w = judge(r, cur, settings({ features: { f: { method: 'wasserstein', threshold: 0.01 } } }));
    expect(w.method).toBe('wasserstein');
    expect(w.threshold).toBe(0.01);
    expect(w.status).toBe('drift');
    // An override for another feature does not apply.
    expect(judge(r, cur, settings({ features: { g: { method: 'wasserstein' } } })).method).toBe('ks');
    // Model-wide threshold table.
    const t = settings({ thresholds: { ...settings().thresholds, ks: 0.9 } });
    expect(judge(r, cur, t).threshold).toBe(0.9);
  });

  it('a numeric-only method asked for a categorical feature falls back (chisquare here)', () => {
    const rc = ref('categorical', [...rep('a', 60), ...rep('b', 40)]);
    const fd = judge(rc, [...rep('a', 50), ...rep('b', 50)], settings({ features: { f: { method: 'ks' } } }));
    expect(fd.method).toBe('chisquare');
    expect(fd.threshold).toBe(0.05);
  });

  it('tests drift when p is strictly below the threshold; distances when at or above it', () => {
    const p = judge(r, cur).score!;
    expect(judge(r, cur, settings({ features: { f: { threshold: p } } })).drift).toBe(false);
    expect(judge(r, cur, settings({ features: { f: { threshold: p * (1 + 1e-12) } } })).drift).toBe(true);
    const d = judge(r, cur, settings({ numeric_method: 'wasserstein' })).score!;
    expect(judge(r, cur, settings({ numeric_method: 'wasserstein', features: { f: { threshold: d } } })).drift).toBe(true);
    expect(judge(r, cur, settings({ numeric_method: 'wasserstein', features: { f: { threshold: d * (1 + 1e-12) } } })).drift).toBe(false);
  });
});

describe('PSI for every judged feature', () => {
  it('numeric (reference bins with under/overflow) and categorical PSI equal the written-out formula, for every method', () => {
    const rn = ref('numeric', normal(1, 600));
    const curN = [...normal(2, 300, 0.4, 1.3), 50, -50];
    const wn = window(rn, 'numeric', curN) as NumAcc;
    const expectedN = psiWrittenOut(histOf(rn.acc as NumAcc, rn.edges!), histOf(wn, rn.edges!));
    expect(psiOf(rn, wn)).toBeCloseTo(expectedN, 14);
    for (const method of ['ks', 'wasserstein', 'psi', 'jensenshannon'] as const) {
      const fd = judge(rn, curN, settings({ numeric_method: method }));
      expect(fd.psi, method).toBeCloseTo(expectedN, 14);
    }
    const rc = ref('categorical', [...rep('x', 70), ...rep('y', 30)]);
    const curC = [...rep('x', 40), ...rep('y', 50), ...rep('z', 10)];
    for (const method of ['chisquare', 'jensenshannon', 'psi'] as const) {
      const fd = judge(rc, curC, settings({ categorical_method: method }));
      expect(fd.psi, method).toBeCloseTo(psiWrittenOut([70, 30, 0], [40, 50, 10]), 14);
    }
    // Empty side: null.
    expect(psiOf(rc, newAcc('categorical', null))).toBeNull();
  });
});

describe('quality flags', () => {
  it('type: integer reference, fractional window; range: over 5% outside the reference range', () => {
    const r = ref('numeric', Array.from({ length: 200 }, (_, i) => i % 10));
    expect(qualityFlags(r, window(r, 'numeric', Array.from({ length: 100 }, (_, i) => (i % 10) + 0.5)))).toContain('type');
    expect(qualityFlags(r, window(r, 'numeric', Array.from({ length: 100 }, (_, i) => i % 10)))).toEqual([]);
    expect(qualityFlags(r, window(r, 'numeric', [...Array.from({ length: 94 }, (_, i) => i % 10), ...rep(20, 6)]))).toContain('range');
    expect(qualityFlags(r, window(r, 'numeric', [...Array.from({ length: 95 }, (_, i) => i % 10), ...rep(20, 5)]))).not.toContain('range');
  });
});

describe('datasetFigures', () => {
  const f = (name: string, drift: boolean, role: 'input' | 'prediction' = 'input', status?: FeatureDrift['status']): FeatureDrift => ({
    name, role, type: 'numeric', method: 'ks', score: 0.5, threshold: 0.05, drift, status: status ?? (drift ? 'drift' : 'ok'), psi: 0,
    ref_rows: 100, cur_rows: 100, missing: { reference: 0, current: 0, current_share: 0 }, quality: [], summary: null,
  });

  it('2 of 4 input features drift: share 0.5 → dataset drift at drift_share 0.5 (at or above)', () => {
    const fs = [f('a', true), f('b', true), f('c', false), f('d', false)];
    expect(datasetFigures(fs, settings())).toEqual({ drift_share: 0.5, dataset_drift: true, prediction_drift: false, drifted: ['a', 'b'], predictions: [] });
    expect(datasetFigures(fs, settings({ drift_share: 0.51 })).dataset_drift).toBe(false);
    expect(datasetFigures([f('a', true), f('b', false), f('c', false), f('d', false)], settings()).dataset_drift).toBe(false);
  });

  it('ignored, insufficient and no_reference features and predictions are left out of the share; prediction drift', () => {
    const fs = [f('a', true), f('b', false), f('c', false, 'input', 'ignored'), f('d', false, 'input', 'insufficient'), f('e', false, 'input', 'no_reference'), f('p', true, 'prediction'), f('q', false, 'prediction')];
    const d = datasetFigures(fs, settings());
    expect(d.drift_share).toBe(0.5);
    expect(d.dataset_drift).toBe(true);
    expect(d.prediction_drift).toBe(true);
    expect(d.predictions).toEqual(['p']);
    expect(d.drifted).toEqual(['a']);
    // All-missing drift (status drift, score null) counts as drift.
    expect(datasetFigures([{ ...f('m', true), score: null }, f('n', false)], settings()).dataset_drift).toBe(true);
    // Nothing judged: no drift.
    expect(datasetFigures([f('c', false, 'input', 'insufficient')], settings())).toMatchObject({ drift_share: 0, dataset_drift: false });
  });

  it('prediction drift from judged prediction features (argmax class categorical)', () => {
    const r: RefFeature = { ...ref('categorical', [...rep('0', 60), ...rep('1', 40)]), name: 'probs:class', role: 'prediction' };
    const fd = judgeFeature('probs:class', 'prediction', 'categorical', r, window(r, 'categorical', [...rep('0', 20), ...rep('1', 80)]), settings());
    expect(fd.role).toBe('prediction');
    expect(fd.status).toBe('drift');
    const d = datasetFigures([fd, f('a', false)], settings());
    expect(d).toMatchObject({ prediction_drift: true, predictions: ['probs:class'], dataset_drift: false, drift_share: 0 });
  });
});

describe('histogramView', () => {
  it('numeric: labels for under, each bin, over; shares sum to 1', () => {
    const r = ref('numeric', Array.from({ length: 101 }, (_, i) => i));
    const v = histogramView(r, window(r, 'numeric', [-5, 0, 50, 100, 200]));
    expect(v.labels.length).toBe(r.edges!.length + 1);
    expect(v.labels[0]).toBe('< 0');
    expect(v.labels[1]).toBe('0..10');
    expect(v.labels[v.labels.length - 1]).toBe('> 100');
    expect(v.reference.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(v.current).toEqual([0.2, 0.2, 0, 0, 0, 0, 0.2, 0, 0, 0, 0.2, 0.2]);
  });
  it('categorical: union of categories, sorted', () => {
    const r = ref('categorical', ['b', 'a', 'a', 'a']);
    const v = histogramView(r, window(r, 'categorical', ['c', 'a']));
    expect(v).toEqual({ labels: ['a', 'b', 'c'], reference: [0.75, 0.25, 0], current: [0.5, 0, 0.5] });
  });
});

describe('trafficDistance (drift.compare, rollout analysis)', () => {
  const acc = (type: FeatureType, cells: readonly Cell[]) => window(null, type, cells);
  it('a candidate whose values are all missing (NaN outputs) scores ALL_MISSING_SCORE: finite, JSON-safe, above any threshold', () => {
    const base = acc('numeric', normal(1, 500));
    const cand = acc('numeric', rep(NaN, 500));
    const s = trafficDistance('wasserstein', 'output', 'prediction', cand, base);
    expect(s).toBe(ALL_MISSING_SCORE);
    expect(Number.isFinite(s)).toBe(true);
    expect(JSON.parse(JSON.stringify({ s }))).toEqual({ s: 1e6 });
    // categorical too (an argmax over NaN is missing)
    expect(trafficDistance('jensenshannon', 'out:class', 'prediction', acc('categorical', rep(null, 300)), acc('categorical', rep('a', 300)))).toBe(ALL_MISSING_SCORE);
    // ±Infinity only: no finite value either
    expect(trafficDistance('wasserstein', 'output', 'prediction', acc('numeric', rep(Infinity, 300)), base)).toBe(ALL_MISSING_SCORE);
  });
  it('null when it cannot be judged: no rows in the candidate, no present value in the baseline, types differ', () => {
    const base = acc('numeric', normal(1, 500));
    expect(trafficDistance('wasserstein', 'f', 'input', acc('numeric', []), base)).toBeNull();
    expect(trafficDistance('wasserstein', 'f', 'input', acc('numeric', normal(2, 500)), acc('numeric', rep(NaN, 500)))).toBeNull();
    expect(trafficDistance('wasserstein', 'f', 'input', acc('numeric', rep(NaN, 10)), acc('numeric', rep(NaN, 10)))).toBeNull();
    expect(trafficDistance('wasserstein', 'f', 'input', acc('categorical', ['a']), base)).toBeNull();
  });
  it('otherwise the distance: ~0 for the same distribution, large for a shift', () => {
    const base = acc('numeric', normal(1, 2000));
    expect(trafficDistance('wasserstein', 'f', 'input', acc('numeric', normal(2, 2000)), base)!).toBeLessThan(0.1);
    expect(trafficDistance('wasserstein', 'f', 'input', acc('numeric', normal(3, 2000, 3)), base)!).toBeGreaterThan(2);
    // partly missing values are judged on the present ones
    expect(trafficDistance('wasserstein', 'f', 'input', acc('numeric', [...normal(2, 2000), ...rep(NaN, 100)]), base)!).toBeLessThan(0.1);
  });
});
