/**
 * Building a reference profile from columns of cells (a dataset, or the first N captured rows) — pure.
 * Numeric features get 10 bin edges at the reference's deciles (each bin holds ~10% of the reference), then every
 * value is counted into them and into the sketch (KS compares sketches). No raw values are kept, whatever the size.
 */
import type { FeatureType, ReferenceInfo } from '../../shared/protocol/index.js';
import { binEdgesFromReference } from './stats.js';
import { accToJson, addValue, newAcc, type Cell } from './profile.js';
import type { RefFeature } from './compare.js';
import type { StoredReference } from './store.js';

/** Bins per numeric feature. */
export const REFERENCE_BINS = 10;

/** One reference feature from its cells. */
export function buildRefFeature(name: string, role: 'input' | 'prediction', type: FeatureType, cells: readonly Cell[]): RefFeature {
  let edges: number[] | null = null;
  if (type === 'numeric') {
    const finite: number[] = [];
    for (const c of cells) { const x = typeof c === 'string' ? Number(c) : c; if (x !== null && Number.isFinite(x)) finite.push(x); }
    edges = finite.length > 0 ? binEdgesFromReference(finite, REFERENCE_BINS) : null;
  }
  const acc = newAcc(type, edges);
  for (const c of cells) addValue(acc, c, edges);
  return { name, role, type, edges, acc };
}

/** A reference as stored (DriftStore.saveReference): its info, feature names and JSON profiles. */
export function storedReference(ref: readonly RefFeature[], info: ReferenceInfo): StoredReference {
  return { info, features: ref.map((f) => ({ name: f.name, role: f.role, type: f.type })), profile: ref.map((f) => ({ edges: f.edges, acc: accToJson(f.acc) })) };
}
