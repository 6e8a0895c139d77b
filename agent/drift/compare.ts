/**
 * Judging a window against a reference, feature by feature — pure: profiles and settings in, figures out.
 *
 * Method choice (Evidently's defaults): numeric features use the two-sample KS test when the reference has at most
 * `small_reference_rows` rows, else the Wasserstein distance normalised by the reference's std; categorical features
 * chi-square when small, else the Jensen–Shannon distance. PSI is computed for every feature. Tests drift when the
 * p-value is below the threshold, distances when at or above it. Per-model and per-feature overrides win.
 */
import type { DriftMethod, FeatureDrift, FeatureOverride, FeatureType } from '../../shared/protocol/index.js';
import { ksPValue, chiSquareCategorical, jensenShannonDistance, psi, WASSERSTEIN_STD_FLOOR } from './stats.js';
import { histOf, moments, type CatAcc, type FeatureAcc, type NumAcc } from './profile.js';
import { ksFromSteps, sketchWasserstein } from './sketch.js';

/** Above this n_ref·n_cur the KS p-value uses the asymptotic distribution (the exact one costs O(n_ref·n_cur)). */
export const KS_EXACT_MAX_PRODUCT = 2_000_000;

/** Node defaults merged with a model's overrides. */
export interface EffectiveSettings {
  numeric_method: DriftMethod | null;
  categorical_method: DriftMethod | null;
  thresholds: Record<DriftMethod, number>;
  drift_share: number;
  alert_after: number;
  small_reference_rows: number;
  min_rows: number;
  features: Record<string, FeatureOverride>;
}

/** One feature of a reference: its type, bin edges (numeric) and accumulator. */
export interface RefFeature { name: string; role: 'input' | 'prediction'; type: FeatureType; edges: number[] | null; acc: FeatureAcc }

/** Share above which a quality flag is raised. */
export const QUALITY = { outOfRange: 0.05, newCategories: 0.01, missingRise: 0.05 };

const TESTS = new Set<DriftMethod>(['ks', 'chisquare']);
const NUMERIC_ONLY = new Set<DriftMethod>(['ks', 'wasserstein']);

/** The method a feature uses. Numeric-only methods asked for a categorical feature fall back to the default. */
export function methodFor(type: FeatureType, refRows: number, s: EffectiveSettings, override?: FeatureOverride): DriftMethod {
  const small = refRows <= s.small_reference_rows;
  const dflt: DriftMethod = type === 'numeric' ? (small ? 'ks' : 'wasserstein') : (small ? 'chisquare' : 'jensenshannon');
  const asked = override?.method ?? (type === 'numeric' ? s.numeric_method : s.categorical_method) ?? dflt;
  return type === 'categorical' && NUMERIC_ONLY.has(asked) ? dflt : asked;
}

/** Category shares over the union of categories (sorted), for JS and PSI. */
function categoryVectors(r: CatAcc, c: CatAcc): { keys: string[]; ref: number[]; cur: number[] } {
  const keys = [...new Set([...r.counts.keys(), ...c.counts.keys()])].sort();
  return { keys, ref: keys.map((k) => r.counts.get(k) ?? 0), cur: keys.map((k) => c.counts.get(k) ?? 0) };
}

const shares = (xs: number[]) => { const t = xs.reduce((a, b) => a + b, 0); return t > 0 ? xs.map((x) => x / t) : xs.map(() => 0); };

/** The score of one feature with one method (p-value for tests, distance otherwise). */
export function score(method: DriftMethod, ref: RefFeature, cur: FeatureAcc): number {
  if (ref.type === 'categorical') {
    const r = ref.acc as CatAcc; const c = cur as CatAcc;
    if (method === 'chisquare') return chiSquareCategorical(Object.fromEntries(r.counts), Object.fromEntries(c.counts)).pValue;
    const v = categoryVectors(r, c);
    if (method === 'jensenshannon') return jensenShannonDistance(v.ref, v.cur);
    return psi(shares(v.ref), shares(v.cur));
  }
  const r = ref.acc as NumAcc; const c = cur as NumAcc;
  switch (method) {
    case 'ks': {
      // Both sides through the same bucket map (their sketches' unclamped steps): the whole window, not a sample, and
      // values tied across the two sides stay tied. (Raw reference values against the current sketch's buckets
      // split every tie, so integer-valued features drifted falsely: p ~1e-7 for two samples of one Poisson(3).)
      // The statistic is the exact one at bucket boundaries (never above it); the p-value is for the true sizes.
      const d = ksFromSteps(r.sketch.steps(), c.sketch.steps());
      return ksPValue(d, r.n, c.n, r.n * c.n <= KS_EXACT_MAX_PRODUCT).pValue;
    }
    case 'wasserstein': return sketchWasserstein(r.sketch, c.sketch) / Math.max(moments(r).std ?? 0, WASSERSTEIN_STD_FLOOR);
    case 'jensenshannon': { const edges = ref.edges!; return jensenShannonDistance(histOf(r, edges), histOf(c, edges)); }
    case 'psi': case 'chisquare': { const edges = ref.edges!; return psi(shares(histOf(r, edges)), shares(histOf(c, edges))); }
  }
}

/** PSI of a feature (numeric over the reference bins, categorical over the categories); null when a side is empty. */
export function psiOf(ref: RefFeature, cur: FeatureAcc): number | null {
  try {
    if (ref.type === 'categorical') { const v = categoryVectors(ref.acc as CatAcc, cur as CatAcc); if (!v.ref.some((x) => x > 0) || !v.cur.some((x) => x > 0)) return null; return psi(shares(v.ref), shares(v.cur)); }
    const r = histOf(ref.acc as NumAcc, ref.edges!); const c = histOf(cur as NumAcc, ref.edges!);
    if (!r.some((x) => x > 0) || !c.some((x) => x > 0)) return null;
    return psi(shares(r), shares(c));
  } catch { return null; }
}

const present = (a: FeatureAcc) => a.rows - a.missing;

/** Data-quality flags of a window vs its reference. */
export function qualityFlags(ref: RefFeature, cur: FeatureAcc): string[] {
  const flags: string[] = [];
  const curPresent = present(cur);
  if (cur.rows > 0 && cur.missing / cur.rows > (ref.acc.rows > 0 ? ref.acc.missing / ref.acc.rows : 0) + QUALITY.missingRise) flags.push('missing');
  if (curPresent === 0) return flags;
  if (ref.type === 'numeric') {
    const r = ref.acc as NumAcc; const c = cur as NumAcc;
    if (r.n > 0 && r.frac === 0 && c.frac > 0) flags.push('type');
    if (ref.edges) { const h = histOf(c, ref.edges); if ((h[0] + h[h.length - 1]) / curPresent > QUALITY.outOfRange) flags.push('range'); }
  } else {
    const r = ref.acc as CatAcc; const c = cur as CatAcc;
    let unseen = 0;
    for (const [k, n] of c.counts) if (!r.counts.has(k)) unseen += n;
    if (unseen / curPresent >= QUALITY.newCategories) flags.push('new_categories');
  }
  return flags;
}

/** Judges one feature of a window. `ref` null: the version has no reference yet. */
export function judgeFeature(name: string, role: 'input' | 'prediction', type: FeatureType, ref: RefFeature | null, cur: FeatureAcc, s: EffectiveSettings): FeatureDrift {
  const o = s.features[name];
  const refRows = ref ? ref.acc.rows : 0;
  const method = methodFor(ref?.type ?? type, refRows, s, o);
  const threshold = o?.threshold ?? s.thresholds[method];
  const base = {
    name, role, type: ref?.type ?? type, method, threshold, ref_rows: refRows, cur_rows: cur.rows,
    missing: { reference: ref?.acc.missing ?? 0, current: cur.missing, current_share: cur.rows > 0 ? cur.missing / cur.rows : 0 },
    summary: null as FeatureDrift['summary'],
  };
  if (cur.t === 'n') {
    const cm = moments(cur); const rm = ref && ref.acc.t === 'n' ? moments(ref.acc) : null;
    base.summary = { ref_mean: rm?.mean ?? null, cur_mean: cm.mean, ref_p50: ref && ref.acc.t === 'n' && ref.acc.n > 0 ? ref.acc.sketch.quantile(0.5) : null, cur_p50: cur.n > 0 ? cur.sketch.quantile(0.5) : null };
  }
  if (o?.ignore) return { ...base, score: null, drift: false, status: 'ignored', psi: null, quality: [] };
  if (!ref) return { ...base, score: null, drift: false, status: 'no_reference', psi: null, quality: [] };
  const quality = qualityFlags(ref, cur);
  if (cur.rows < s.min_rows) return { ...base, score: null, drift: false, status: 'insufficient', psi: null, quality };
  const refPresent = ref.type === 'numeric' ? (ref.acc as NumAcc).n : present(ref.acc);
  const curPresent = cur.t === 'n' ? cur.n : present(cur);
  // Every current value missing while the reference had values: that is drift (and a quality issue), with no score.
  if (curPresent === 0) return { ...base, score: null, drift: refPresent > 0, status: refPresent > 0 ? 'drift' : 'ok', psi: null, quality };
  if (refPresent === 0) return { ...base, score: null, drift: false, status: 'no_reference', psi: null, quality };
  const sc = score(method, ref, cur);
  const drift = TESTS.has(method) ? sc < threshold : sc >= threshold;
  return { ...base, score: sc, drift, status: drift ? 'drift' : 'ok', psi: psiOf(ref, cur), quality };
}

/** Dataset figures from judged features: the share of judged input features that drift, and prediction drift. */
export function datasetFigures(features: readonly FeatureDrift[], s: EffectiveSettings): { drift_share: number; dataset_drift: boolean; prediction_drift: boolean; drifted: string[]; predictions: string[] } {
  const judged = features.filter((f) => f.role === 'input' && (f.status === 'ok' || f.status === 'drift'));
  const drifted = judged.filter((f) => f.drift).map((f) => f.name);
  const share = judged.length > 0 ? drifted.length / judged.length : 0;
  const predictions = features.filter((f) => f.role === 'prediction' && f.drift).map((f) => f.name);
  return { drift_share: share, dataset_drift: judged.length > 0 && share >= s.drift_share, prediction_drift: predictions.length > 0, drifted, predictions };
}

/** Shares per bin for drawing: numeric over the reference's bins (with under/overflow), categorical over categories. */
export function histogramView(ref: RefFeature, cur: FeatureAcc, fmt: (x: number) => string = (x) => Number(x.toPrecision(3)).toString()): { labels: string[]; reference: number[]; current: number[] } {
  if (ref.type === 'categorical') {
    const v = categoryVectors(ref.acc as CatAcc, cur as CatAcc);
    return { labels: v.keys, reference: shares(v.ref), current: shares(v.cur) };
  }
  const e = ref.edges!;
  const labels = [`< ${fmt(e[0])}`];
  for (let i = 0; i < e.length - 1; i++) labels.push(`${fmt(e[i])}..${fmt(e[i + 1])}`);
  labels.push(`> ${fmt(e[e.length - 1])}`);
  return { labels, reference: shares(histOf(ref.acc as NumAcc, e)), current: shares(histOf(cur as NumAcc, e)) };
}

/**
 * Score of drift.compare when the compared side (`cur`, the candidate) has rows but no present value for a feature
 * while the baseline has values: e.g. a candidate that outputs only NaN. A distance cannot be computed, but the
 * candidate is as different as it gets, so instead of null (which analysis would skip, letting such a candidate pass)
 * the score is this large finite value: any threshold fails, and it stays valid JSON (Infinity would not).
 */
export const ALL_MISSING_SCORE = 1e6;

/**
 * drift.compare's distance of one feature: the traffic `cur` vs the baseline `base`, normalised Wasserstein (by the
 * baseline's std) for numeric features, Jensen–Shannon for categorical ones. null when it cannot be judged (types
 * differ, an empty side, or the baseline has no present value); ALL_MISSING_SCORE when `cur` has rows but none present
 * while the baseline has some.
 */
export function trafficDistance(method: 'wasserstein' | 'jensenshannon', name: string, role: 'input' | 'prediction', cur: FeatureAcc, base: FeatureAcc): number | null {
  if (cur.t !== base.t) return null;
  const presentOf = (a: FeatureAcc) => (a.t === 'n' ? a.n : present(a));
  if (presentOf(base) === 0) return null;
  if (presentOf(cur) === 0) return cur.rows > 0 ? ALL_MISSING_SCORE : null;
  const ref: RefFeature = { name, role, type: base.t === 'n' ? 'numeric' : 'categorical', edges: null, acc: base };
  try { return score(method, ref, cur); } catch { return null; }
}
