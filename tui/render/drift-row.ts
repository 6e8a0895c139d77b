// Pure rendering of drift rows: the per-feature table of one model version (drift-model view) and the
// per-version list of the fleet with its alert state (:drift). Unknown figures render as DASH, never 0.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { DriftAlert, DriftMethod, FeatureDrift } from '../../shared/protocol/drift.js';
import type { Tone } from '../theme.js';
import { DASH, known } from './format.js';
import { allModels, parseModelKey, type ModelEntry } from './model-row.js';
import type { Column } from './table.js';

/** Columns of the per-feature table; FEATURE takes the spare width; QUALITY and PSI go first on narrow screens. */
export const DRIFT_FEATURE_COLUMNS: Column[] = [
  { header: 'FEATURE', width: 10, flex: true, priority: 10 },
  { header: 'METHOD', width: 13, priority: 6 },
  { header: 'SCORE', width: 7, align: 'right', priority: 8 },
  { header: 'THRESHOLD', width: 9, align: 'right', priority: 5 },
  { header: 'STATUS', width: 8, priority: 9 },
  { header: 'MISSING%', width: 8, align: 'right', priority: 4 },
  { header: 'PSI', width: 6, align: 'right', priority: 3 },
  { header: 'QUALITY', width: 12, priority: 2 },
];

/** Tests answer a p-value (drift when below the threshold); the others are distances (drift at or above). */
export function isTest(m: DriftMethod): boolean {
  return m === 'ks' || m === 'chisquare';
}

/** A score, p-value or distance: "0.123", "0.0042", "3.2e-7"; "0" exactly; DASH when not computed. */
export function fmtScore(v: number | null | undefined): string {
  if (!known(v)) return DASH;
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 0.001) return v.toExponential(1);
  if (a < 0.01) return v.toFixed(4);
  if (a < 100) return v.toFixed(3);
  return v.toPrecision(3);
}

/** The threshold with the side that means drift: "<0.05" for tests, "≥0.1" for distances. */
export function fmtThreshold(f: Pick<FeatureDrift, 'method' | 'threshold'>): string {
  const t = f.threshold;
  return `${isTest(f.method) ? '<' : '≥'}${known(t) ? String(Number(t.toPrecision(3))) : DASH}`;
}

/** A share 0..1 as a percentage: "0%", "<0.1%", "2.5%", "40%". */
export function fmtShare(v: number | null | undefined): string {
  if (!known(v)) return DASH;
  if (v === 0) return '0%';
  const p = v * 100;
  if (p < 0.1) return '<0.1%';
  if (p < 10) return `${p.toFixed(1)}%`;
  return `${Math.round(p)}%`;
}

/** The status text: DRIFT in capitals so it stands out without colour (NO_COLOR). */
export function fmtStatus(f: Pick<FeatureDrift, 'status'>): string {
  switch (f.status) {
    case 'drift': return 'DRIFT';
    case 'no_reference': return 'no ref';
    case 'insufficient': return 'few rows';
    default: return f.status;
  }
}

/** The method name as shown: "ks", "wasserstein", "jensenshannon", … ("psi" as is). */
export function fmtMethod(m: DriftMethod): string {
  return m;
}

/** Display name of a feature: predictions (model outputs) are marked "→ name". */
export function featureLabel(f: Pick<FeatureDrift, 'name' | 'role'>): string {
  return f.role === 'prediction' ? `→ ${f.name}` : f.name;
}

/** Cells of one feature row, aligned with DRIFT_FEATURE_COLUMNS. */
export function featureRow(f: FeatureDrift): string[] {
  return [featureLabel(f), fmtMethod(f.method), fmtScore(f.score), fmtThreshold(f), fmtStatus(f), fmtShare(f.missing.current_share), fmtScore(f.psi), f.quality.length ? f.quality.join(',') : ''];
}

/** Tone of a feature row: drifting red, data-quality issues yellow, not judged (few rows, no reference, ignored) dim. */
export function featureTone(f: FeatureDrift): Tone | undefined {
  if (f.drift || f.status === 'drift') return 'bad';
  if (f.quality.length) return 'warn';
  if (f.status !== 'ok') return 'dim';
  return undefined;
}

/** A drift target: a model version on a node ("node/name@version"), or its newest version ("node/name"). */
export interface DriftTarget { node: string; name: string; version?: string }

/** Parse "node/name@version" or "node/name"; null when malformed. */
export function parseDriftKey(key: string | null): DriftTarget | null {
  const k = parseModelKey(key);
  if (k) return k;
  if (!key) return null;
  const i = key.indexOf('/');
  if (i <= 0 || i >= key.length - 1 || key.includes('@') || key.indexOf('/', i + 1) >= 0) return null;
  return { node: key.slice(0, i), name: key.slice(i + 1) };
}

/** The active alert of a version on a node, from the node's pushed alerts; undefined when none, null when the node does not say. */
export function activeAlert(n: FleetNode | undefined, name: string, version: string): DriftAlert | null | undefined {
  if (!n || n.driftAlerts === null) return null;
  return n.driftAlerts.find((a) => a.name === name && a.version === version && a.resolved_at === null);
}

/** One row of the :drift list: a model version, and its alert (undefined: none; null: the node does not report alerts). */
export interface DriftEntry extends ModelEntry { alert: DriftAlert | null | undefined }

/** Columns of the :drift list. */
export const DRIFT_LIST_COLUMNS: Column[] = [
  { header: 'NODE', width: 8, priority: 8 },
  { header: 'MODEL', width: 12, priority: 10 },
  { header: 'VERSION', width: 7, priority: 9 },
  { header: 'LOADED', width: 6, priority: 4 },
  { header: 'ALERT', width: 5, priority: 7 },
  { header: 'SHARE', width: 5, align: 'right', priority: 6 },
  { header: 'DRIFTING', width: 10, flex: true, priority: 5 },
];

/** Every model version of the fleet with its drift alert; versions with an active alert first, then allModels order. */
export function driftEntries(nodes: readonly FleetNode[]): DriftEntry[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out = allModels(nodes).map((e) => ({ ...e, alert: activeAlert(byName.get(e.node), e.model.name, e.model.version) }));
  return out.filter((e) => e.alert).concat(out.filter((e) => !e.alert));
}

/** Cells of one :drift row: node, model, version, loaded, alert (ALERT/no/– unknown), drift share and drifting features of the alert. */
export function driftListRow(e: DriftEntry): string[] {
  const a = e.alert;
  const alert = a ? 'ALERT' : a === null ? DASH : 'no';
  const drifting = a ? [...a.features, ...a.predictions.map((p) => `→ ${p}`)].join(', ') : '';
  return [e.node, e.model.name, e.model.version, e.model.loaded ? 'yes' : 'no', alert, a ? fmtShare(a.drift_share) : DASH, drifting];
}

/** Tone of a :drift row: an active alert red. */
export function driftListTone(e: DriftEntry): Tone | undefined {
  return e.alert ? 'bad' : undefined;
}
