// Rendering of `fleetml drift …` output, pure (data in, text out): the per-feature table and summary of a report,
// reference vs current histograms as horizontal bars, the history and alert tables, the effective settings.
// No colours anywhere: the words (DRIFT, ALERT) carry the meaning, so NO_COLOR, pipes and screen readers lose nothing.
import type { z } from 'zod';
import type { DriftAlert, DriftConfigResult, DriftHistoryResult, DriftPoint, DriftReport, FeatureDrift, ReferenceInfo } from '../../shared/protocol/drift.js';
import type { SetReferenceResult } from '../../shared/client/drift-upload.js';
import { formatAge } from './job.js';
import { formatTable } from '../output.js';

export const DRIFT_FEATURE_HEADERS = ['FEATURE', 'ROLE', 'TYPE', 'METHOD', 'SCORE', 'THRESHOLD', 'STATUS', 'PSI', 'MISSING%', 'QUALITY'];
export const DRIFT_POINT_HEADERS = ['FROM', 'TO', 'ROWS', 'SHARE', 'DRIFT', 'DRIFTED-FEATURES'];
export const DRIFT_ALERT_HEADERS = ['ID', 'RAISED', 'RESOLVED', 'FEATURES', 'MESSAGE'];

/** A score, threshold or PSI: three significant digits, exponent form below 0.001 (p-values get tiny); null is "-". */
export function formatScore(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  if (Math.abs(v) < 0.001) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** A share in [0, 1] as a percentage: "0%", "2.5%", "50%". */
export function formatShare(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  const p = v * 100;
  return `${p === Math.round(p) || p >= 10 ? Math.round(p) : p.toFixed(1)}%`;
}

/** Timestamps in tables: ISO to the second. */
export const isoSecond = (t: number) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');

/** One row of the `drift show` table. */
export function featureRow(f: FeatureDrift): string[] {
  return [
    f.name, f.role, f.type, f.method, formatScore(f.score), formatScore(f.threshold),
    f.status === 'drift' ? 'DRIFT' : f.status, formatScore(f.psi), formatShare(f.missing.current_share),
    f.quality.length ? f.quality.join(',') : '-',
  ];
}

/** Features that count towards the drift share: scored input features (not ignored, not short of rows or reference). */
const scored = (fs: readonly FeatureDrift[]) => fs.filter((f) => f.role === 'input' && (f.status === 'ok' || f.status === 'drift'));

/** "drift share 2/4 (50%) ≥ 50%: DATASET DRIFT" or "drift share 1/4 (25%) < 50%: no dataset drift". */
export function driftShareLine(r: DriftReport): string {
  const counted = scored(r.features);
  if (!counted.length) return `drift share -: no input feature scored yet (${whyUnscored(r)})`;
  const drifted = counted.filter((f) => f.drift).length;
  const cmp = r.dataset_drift ? '≥' : '<';
  return `drift share ${drifted}/${counted.length} (${formatShare(r.drift_share)}) ${cmp} ${formatShare(r.share_threshold)}: ${r.dataset_drift ? 'DATASET DRIFT' : 'no dataset drift'}`;
}

function whyUnscored(r: DriftReport): string {
  if (!r.reference) return 'no reference';
  const inputs = r.features.filter((f) => f.role === 'input');
  if (inputs.some((f) => f.status === 'insufficient')) return `only ${r.rows} rows in the window; try a longer --window`;
  if (inputs.length && inputs.every((f) => f.status === 'ignored')) return 'every input feature is ignored by the drift config';
  return 'no input features';
}

/** "prediction drift: yes (score)" or "prediction drift: no". */
export function predictionLine(r: DriftReport): string {
  const preds = r.features.filter((f) => f.role === 'prediction');
  const drifted = preds.filter((f) => f.drift).map((f) => f.name);
  if (r.prediction_drift) return `prediction drift: yes${drifted.length ? ` (${drifted.join(', ')})` : ''}`;
  return `prediction drift: no${preds.length ? '' : ' (no prediction features)'}`;
}

/** Where the reference came from, or how to give one. */
export function referenceLine(ref: ReferenceInfo | null, model: string, now: number): string {
  if (!ref) return `no reference yet: run fleetml drift reference ${model} --from data.csv (or --from-traffic N to use the next N requests)`;
  const what = ref.source === 'dataset' ? `dataset ${ref.dataset_name ?? '-'}` : 'traffic';
  const sampled = ref.rows_seen > ref.rows ? ` (sampled from ${ref.rows_seen})` : '';
  return `reference: ${what}, ${ref.rows} rows${sampled}, matched by ${ref.matched_by}, created ${formatAge(now - ref.created_at)} ago by ${ref.created_by} (${isoSecond(ref.created_at)})`;
}

/** The active alert, or "no active alert". */
export function alertLine(a: DriftAlert | null, now: number): string {
  if (!a) return 'alert: none active';
  const preds = a.prediction_drift && a.predictions.length ? `; predictions ${a.predictions.join(', ')}` : '';
  return `ALERT #${a.id} since ${formatAge(now - a.raised_at)} ago (${a.consecutive} drifting windows): ${a.message} [features ${a.features.join(', ') || '-'}${preds}]`;
}

/** The whole `drift show` output of one report (histograms separately). */
export function formatReport(r: DriftReport, now: number, node?: string): string {
  const head = `${r.name} ${r.version}${node ? ` on ${node}` : ''}: window ${r.window} (${isoSecond(r.from)} → ${isoSecond(r.to)}), ${r.rows} rows`
    + `, sample rate ${formatShare(r.capture.sample_rate)}${r.capture.dropped ? `, ${r.capture.dropped} rows dropped (capture buffer full)` : ''}`;
  const table = r.features.length
    ? formatTable(DRIFT_FEATURE_HEADERS, r.features.map(featureRow))
    : 'no features yet';
  return [head, '', table, '', driftShareLine(r), predictionLine(r), referenceLine(r.reference, r.name, now), alertLine(r.alert, now)].join('\n');
}

/** Eighths of a cell, for bars with sub-cell resolution. */
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `value / max` of `width` cells, padded with spaces to exactly `width` characters. */
export function bar(value: number, max: number, width: number): string {
  const eighths = max > 0 && value > 0 ? Math.round(Math.min(1, value / max) * width * 8) : 0;
  const s = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
  return s + ' '.repeat(width - [...s].length);
}

/**
 * A feature's reference vs current histogram, two bars per bin on one scale (the largest share fills the width):
 *   age  (numeric, psi 0.31, DRIFT)
 *     [0, 10)   ref ████▌        22.1%   cur ██▏          10.4%
 */
export function histogramLines(f: FeatureDrift, width = 20, labelWidth = 16): string[] {
  const head = `${f.name}  (${f.type}, ${f.method} ${formatScore(f.score)}, psi ${formatScore(f.psi)}, ${f.status === 'drift' ? 'DRIFT' : f.status})`;
  const h = f.histogram;
  if (!h || !h.labels.length) return [head, `  no histogram${f.status === 'no_reference' ? ': no reference yet' : ''}`];
  const max = Math.max(0, ...h.reference, ...h.current);
  const lw = Math.min(labelWidth, Math.max(...h.labels.map((l) => l.length)));
  const label = (l: string) => (l.length > lw ? `${l.slice(0, lw - 1)}…` : l.padEnd(lw));
  const pct = (v: number | undefined) => formatShare(v ?? 0).padStart(4);
  return [head, ...h.labels.map((l, i) => `  ${label(l)}  ref ${bar(h.reference[i] ?? 0, max, width)} ${pct(h.reference[i])}   cur ${bar(h.current[i] ?? 0, max, width)} ${pct(h.current[i])}`)];
}

/** Histograms of every feature of a report that has one, blank-line separated. */
export function formatHistograms(r: DriftReport, width = 20): string {
  return r.features.map((f) => histogramLines(f, width).join('\n')).join('\n\n');
}

/** One row of the `drift history` points table; DRIFT is "DRIFT", "predictions" (only they drifted), "no", or "-" for a window not judged. */
export function pointRow(p: DriftPoint): string[] {
  const drift = !p.judged ? '-' : p.dataset_drift ? 'DRIFT' : p.prediction_drift ? 'predictions' : 'no';
  return [isoSecond(p.from), isoSecond(p.to), String(p.rows), p.judged ? formatShare(p.drift_share) : '-', drift, p.drifted.join(',') || '-'];
}

/** One row of the `drift history` alerts table. */
export function alertRow(a: DriftAlert): string[] {
  const feats = [...a.features, ...(a.prediction_drift ? a.predictions.map((p) => `${p}(prediction)`) : [])];
  return [String(a.id), isoSecond(a.raised_at), a.resolved_at === null ? 'active' : isoSecond(a.resolved_at), feats.join(',') || '-', a.message];
}

/** The `drift history` output: windows oldest first, then the alerts. */
export function formatHistory(h: z.infer<typeof DriftHistoryResult>, node?: string): string {
  const out = [`${h.name} ${h.version}${node ? ` on ${node}` : ''}: ${h.points.length} closed window${h.points.length === 1 ? '' : 's'}`];
  out.push(h.points.length ? formatTable(DRIFT_POINT_HEADERS, h.points.map(pointRow)) : 'no closed windows yet: drift is judged once a window with enough rows closes');
  out.push('', h.alerts.length ? formatTable(DRIFT_ALERT_HEADERS, h.alerts.map(alertRow)) : 'no alerts');
  return out.join('\n');
}

/** The effective drift settings of a model, marking which values the model overrides. */
export function formatConfig(c: z.infer<typeof DriftConfigResult>, node?: string): string {
  const e = c.effective;
  const o = c.overrides;
  const mark = (set: boolean) => (set ? '  (model)' : '');
  const auto = (small: string, large: string) => `auto: ${small} up to ${e.small_reference_rows} reference rows, else ${large}`;
  const lines: Array<[string, string]> = [
    ['numeric method', (e.numeric_method ?? auto('ks', 'wasserstein')) + mark(o.numeric_method !== undefined)],
    ['categorical method', (e.categorical_method ?? auto('chisquare', 'jensenshannon')) + mark(o.categorical_method !== undefined)],
    ...(['ks', 'chisquare', 'wasserstein', 'jensenshannon', 'psi'] as const).map((m): [string, string] => [
      m === 'ks' ? 'thresholds' : '',
      `${m.padEnd(14)}${formatScore(e.thresholds[m])}${m === 'ks' || m === 'chisquare' ? ' (drift when p below)' : ' (drift at or above)'}${mark(o.thresholds?.[m] !== undefined)}`,
    ]),
    ['drift share', `${formatShare(e.drift_share)} of input features${mark(o.drift_share !== undefined)}`],
    ['alert after', `${e.alert_after} consecutive drifting window${e.alert_after === 1 ? '' : 's'}${mark(o.alert_after !== undefined)}`],
  ];
  const feats = Object.entries(e.features);
  feats.forEach(([name, f], i) => {
    const parts = [f.ignore ? 'ignored' : '', f.type ?? '', f.method ?? '', f.threshold !== undefined ? `threshold ${formatScore(f.threshold)}` : ''].filter(Boolean);
    lines.push([i === 0 ? 'features' : '', `${name}: ${parts.join(', ') || '-'}${mark(o.features?.[name] !== undefined)}`]);
  });
  const w = Math.max(...lines.map(([k]) => k.length));
  const overridden = Object.keys(o).length > 0;
  return [
    `drift settings of ${c.name}${node ? ` on ${node}` : ''}${overridden ? '' : ' (node defaults, no model overrides)'}`,
    ...lines.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`),
  ].join('\n');
}

/** What `drift reference` prints: where the reference came from and the features it covers, or that it is pending. */
export function formatReferenceResult(r: SetReferenceResult, model: string, now: number, node?: string): string {
  const on = node ? ` on ${node}` : '';
  if (!r.reference) {
    return `${model}${on}: the reference will be built from the next requests served (${r.received_rows} rows so far); watch it with: fleetml drift show ${model}`;
  }
  const feats = r.features.length ? r.features.join(', ') : '-';
  return `${model}${on}: ${referenceLine(r.reference, model, now)}\n  features (${r.features.length}): ${feats}`;
}
