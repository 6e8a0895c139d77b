/**
 * What the drift monitor keeps in memory per model version (owned by DriftMonitor; read by the window cache).
 * Bounded: profiles hold histograms, capped sketches and capped category counts, never rows — except a traffic
 * reference collecting its first N rows (N at most drift.max_reference_rows).
 */
import type { DriftAlert, DriftPoint, FeatureDrift, ReferenceInfo } from '../../shared/protocol/index.js';
import type { Cell, FeatureDef } from '../serving/tabular.js';
import type { RefFeature } from './compare.js';
import { newAcc, type FeatureAcc } from './profile.js';

/** The bucket being filled: [start, end) aligned to drift.bucket_s, its rows and per-feature accumulators. */
export interface OpenBucket { start: number; end: number; rows: number; accs: FeatureAcc[] }

/** One model version's drift state. */
export interface VersionState {
  name: string; version: string;
  /** `name@version` */
  key: string;
  defs: FeatureDef[]; unprofiled: string[];
  ref: RefFeature[] | null; refInfo: ReferenceInfo | null;
  /** dirty: changed since the last flush to SQLite. */
  open: OpenBucket | null; dirty: boolean; lastFlush: number;
  /** Alert state machine (alerts.ts): drifting windows in a row and the active alert. */
  consecutive: number; alert: DriftAlert | null;
  /** A reference being collected from traffic: raw cells per feature until `need` rows. */
  trafficRef: { need: number; rows: number; cols: Cell[][]; by: string; asked?: number } | null;
  /** Last judgement (Prometheus gauges). */
  last: { features: FeatureDrift[]; point: DriftPoint } | null;
}

/** Empty accumulators for a version's features (numeric ones binned over its reference's edges, if any). */
export function freshAccs(st: VersionState): FeatureAcc[] {
  return st.defs.map((d, i) => newAcc(d.type, st.ref?.[i]?.edges ?? null));
}

/** A new empty bucket of `st` holding time `ts`. */
export function newBucket(st: VersionState, ts: number, bucketMs: number): OpenBucket {
  const start = Math.floor(ts / bucketMs) * bucketMs;
  return { start, end: start + bucketMs, rows: 0, accs: freshAccs(st) };
}
