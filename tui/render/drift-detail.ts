// Pure rendering of the drift-model view around its feature table: the header (target, window, reference,
// dataset and prediction drift, the active-alert banner, the last error), the selected feature's score over
// time, and the split of the screen's height between the table and the selected feature's details.
import type { DriftAlert, DriftPoint, DriftReport, FeatureDrift } from '../../shared/protocol/drift.js';
import { fmtTime, type DetailLine } from './job-detail.js';
import { fmtAge } from './job-row.js';
import { fmtScore, fmtShare, fmtThreshold, type DriftTarget } from './drift-row.js';
import { DASH, truncate } from './format.js';
import type { ModelPerfRow } from '../../shared/client/fleet-types.js';
import { fmtLiveDetail } from './model-row.js';
import { sparkline } from './sparkline.js';

/** What the header needs besides the report. */
export interface DriftHeaderContext {
  target: DriftTarget;
  /** The window asked for ("1h"); the report's own window wins once it arrives. */
  window: string;
  /** Active alert (the node's pushed alerts, else the report's); null/undefined when none. */
  alert: DriftAlert | null | undefined;
  /** Last failed call's message, or null. */
  error: string | null;
  /** ms until the next try after a failure, or null. */
  retryInMs: number | null;
  /** Still waiting for the first answer. */
  loading: boolean;
  /** Current time (ms), for ages. */
  now: number;
  /** Live performance of the version (labels joined by request id); undefined: not shown. */
  perf?: ModelPerfRow | null;
}

/** 12,345 with separators (counts). */
export function fmtCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** The reference line: where it came from and how many rows, or how to give one. */
export function referenceText(r: DriftReport, now: number): DetailLine {
  const ref = r.reference;
  if (!ref) return { text: `no reference yet: set one with \`fleetml drift reference ${r.name} --from data.csv\` or let traffic build it`, tone: 'warn' };
  const src = ref.source === 'dataset' ? `dataset${ref.dataset_name ? ` ${ref.dataset_name}` : ''}` : 'traffic';
  const sampled = ref.rows_seen > ref.rows ? ` of ${fmtCount(ref.rows_seen)}` : '';
  return { text: `reference: ${src} · ${fmtCount(ref.rows)}${sampled} rows · matched by ${ref.matched_by} · built ${fmtAge(Math.max(0, now - ref.created_at))} ago by ${ref.created_by}` };
}

/** Input features that drift, and prediction features that drift. */
export function driftingFeatures(features: readonly FeatureDrift[]): { inputs: string[]; predictions: string[]; judged: number } {
  const inputs = features.filter((f) => f.role === 'input' && f.drift).map((f) => f.name);
  const predictions = features.filter((f) => f.role === 'prediction' && f.drift).map((f) => f.name);
  const judged = features.filter((f) => f.role === 'input' && f.status !== 'ignored').length;
  return { inputs, predictions, judged };
}

/**
 * A window's span: times only ("23:00 → 23:55") when it starts and ends on one day, with dates when it spans days
 * ("12-02 23:55 → 12-03 00:55"), so a 24h window never reads as running backwards.
 */
export function fmtSpan(from: number, to: number): string {
  const a = fmtTime(from);
  const b = fmtTime(to);
  if (a.slice(0, 10) === b.slice(0, 10)) return `${a.slice(11, 16)} → ${b.slice(11, 16)}`;
  return `${a.slice(5, 16)} → ${b.slice(5, 16)}`;
}

/**
 * The predictions part of the summary, consistent with the active alert: the report judges one window, the alert K
 * windows in a row, so a window without prediction drift under a prediction alert says both ("no drift this window ·
 * ALERT: score").
 */
export function predictionsText(r: Pick<DriftReport, 'prediction_drift'>, drifting: readonly string[], alert: DriftAlert | null | undefined): string {
  const alerted = alert && alert.prediction_drift ? alert.predictions : [];
  const alertText = alert && alert.prediction_drift ? `ALERT${alerted.length ? ` (${alerted.join(', ')})` : ''}` : '';
  if (r.prediction_drift) return `DRIFT${drifting.length ? ` (${drifting.join(', ')})` : ''}${alertText ? ` · ${alertText}` : ''}`;
  return alertText ? `no drift this window · ${alertText}` : 'no drift';
}

/** The header lines of the drift-model view, top to bottom. */
export function driftHeaderLines(r: DriftReport | null, c: DriftHeaderContext): DetailLine[] {
  const t = c.target;
  const out: DetailLine[] = [];
  if (!r) {
    out.push({ text: `${t.name}${t.version ? `@${t.version}` : ''} on ${t.node} · window ${c.window}${c.loading && !c.error ? ' · loading…' : ''}`, bold: true });
  } else {
    const cap = r.capture.sample_rate < 1 || r.capture.dropped > 0 ? ` · capture ${fmtShare(r.capture.sample_rate)} sampled, ${fmtCount(r.capture.dropped)} dropped` : '';
    out.push({ text: `${r.name}@${r.version} on ${t.node} · window ${r.window} (${fmtSpan(r.from, r.to)}) · ${fmtCount(r.rows)} rows${cap}`, bold: true });
    out.push(referenceText(r, c.now));
    const d = driftingFeatures(r.features);
    const cmp = r.dataset_drift ? '≥' : '<';
    const preds = predictionsText(r, d.predictions, c.alert);
    // Likewise the dataset: no drift in this window under an alert on inputs says so, not a bare "no".
    const inputAlert = !!c.alert && c.alert.features.length > 0;
    const dataset = r.dataset_drift ? 'YES' : inputAlert ? 'no (this window; alert active)' : 'no';
    out.push({
      text: `dataset drift: ${dataset} · share ${fmtShare(r.drift_share)} (${d.inputs.length}/${d.judged} features) ${cmp} threshold ${fmtShare(r.share_threshold)} · predictions: ${preds}`,
      tone: r.dataset_drift || r.prediction_drift || c.alert ? 'bad' : 'ok',
    });
  }
  if (c.perf !== undefined && (r || c.perf)) out.push({ text: `live performance: ${fmtLiveDetail(c.perf)}`, tone: c.perf?.task ? undefined : 'dim' });
  const a = c.alert;
  if (a) {
    const what = [a.features.join(', '), a.prediction_drift && a.predictions.length ? `predictions ${a.predictions.join(', ')}` : ''].filter(Boolean).join('; ');
    out.push({ text: `ACTIVE ALERT: drift in ${what || DASH} · ${a.consecutive} windows in a row · since ${fmtTime(a.raised_at)}`, tone: 'bad', bold: true });
  }
  if (c.error) {
    const retry = c.retryInMs !== null ? ` · retrying in ${Math.max(1, Math.round(c.retryInMs / 1000))}s` : '';
    out.push({ text: `error: ${c.error}${retry}`, tone: 'bad' });
  }
  return out;
}

/** A feature's score per closed window, oldest first (null where the window did not score it). */
export function scoreSeries(points: readonly DriftPoint[], feature: string): (number | null)[] {
  return points.map((p) => p.scores[feature] ?? null);
}

/** One line: the selected feature's score over the closed windows as a sparkline, with the last value and the threshold. */
export function scoreLine(f: FeatureDrift, points: readonly DriftPoint[] | null, width: number): DetailLine {
  const head = `${f.name} score (${f.method} ${fmtThreshold(f)}): `;
  if (!points) return { text: truncate(`${head}history loading…`, width), tone: 'dim' };
  const series = scoreSeries(points, f.name);
  const scored = series.filter((v) => v !== null).length;
  if (scored === 0) return { text: truncate(`${head}no closed window scored yet`, width), tone: 'dim' };
  const last = series[series.length - 1];
  const tail = ` now ${fmtScore(f.score)} · last window ${fmtScore(last)} · ${scored} windows`;
  const w = Math.max(0, width - head.length - tail.length);
  return { text: truncate(`${head}${sparkline(series, w)}${tail}`, width), tone: f.drift ? 'bad' : undefined };
}

/** How the body's lines are split. */
export interface DriftLayout {
  /** Feature rows shown (the table's header line is extra; 0 rows still draws the header when table is true). */
  tableRows: number;
  /** Draw the table at all. */
  table: boolean;
  /** Draw the score sparkline line. */
  spark: boolean;
  /** Lines for the histogram (title included); 0 for none. */
  hist: number;
}

/**
 * Split `height` lines after the header between the feature table and the selected feature's details.
 * The table keeps at least three rows (or all, when fewer); the details get what a one-line-per-bin histogram
 * needs, then the table takes the rest; with less room the histogram goes first, then the sparkline.
 */
export function driftLayout(height: number, features: number, bins: number): DriftLayout {
  const avail = Math.max(0, height);
  if (avail === 0) return { table: false, tableRows: 0, spark: false, hist: 0 };
  const tableWant = features;
  const tableMin = Math.min(features, 3);
  const histWant = bins > 0 ? 1 + 2 * bins : 1;
  const histSide = bins > 0 ? 1 + bins : 1;
  let tableRows: number;
  if (1 + tableWant + 1 + histWant <= avail) tableRows = tableWant;
  else tableRows = Math.min(tableWant, Math.max(tableMin, avail - 1 - 1 - histSide));
  tableRows = Math.max(0, Math.min(tableRows, avail - 1));
  let rest = avail - 1 - tableRows;
  const spark = rest >= 1;
  if (spark) rest -= 1;
  const hist = rest >= 2 || (bins === 0 && rest >= 1) ? rest : 0;
  return { table: true, tableRows, spark, hist };
}
