// Reading a rollout for people, pure (protocol types in, plain data out), shared by the CLI and the TUI:
// the thresholds it runs under, the figures of its last analysis next to them, where it stands, and state words.
// It imports nothing but the protocol, so the TUI can use it without pulling in CLI code.
import { ANALYSIS_DECISION_KINDS, type AnalysisFigures, type Rollout, type RolloutDecision, type StoredRolloutSpec } from './rollout.js';

/** Analysis thresholds of a rollout: its stored spec's (defaults were applied when it started). */
export const rolloutThresholds = (r: Pick<Rollout, 'spec'>): StoredRolloutSpec['analysis'] => r.spec.analysis;

/** The test gate of a rollout's spec, when it has one: metric, bound, allowed regression, test set size. */
export function rolloutGate(r: Pick<Rollout, 'spec'>): { metric: string; bound: number; max_regression: number; rows: number } | null {
  const g = r.spec.gate;
  return g ? { metric: g.metric, bound: g.bound, max_regression: g.max_regression, rows: g.test_set.rows } : null;
}

/** The step duration of a rollout's spec in seconds. */
export const rolloutStepDuration = (r: Pick<Rollout, 'spec'>): number => r.spec.step_duration_s;

/** The per-node analysis figures a decision carries (analysis, wait, and a pause or rollback an analysis caused); [] for others. */
export function decisionFigures(d: RolloutDecision): AnalysisFigures[] {
  return (ANALYSIS_DECISION_KINDS as readonly string[]).includes(d.kind) && 'figures' in d && Array.isArray(d.figures) ? d.figures : [];
}

/** Decisions that judge a step (their figures are the analysis); a rollback repeats them. */
const JUDGING: readonly RolloutDecision['kind'][] = ['analysis', 'wait', 'pause'];

/** The newest judging decision that carries analysis figures (a rollback's when none judges), with them; null before the first analysis. */
export function lastAnalysis(r: Pick<Rollout, 'decisions'>): { decision: RolloutDecision; figures: AnalysisFigures[] } | null {
  let best: { decision: RolloutDecision; figures: AnalysisFigures[] } | null = null;
  let judged = false;
  for (const d of r.decisions) {
    const figures = decisionFigures(d);
    if (!figures.length) continue;
    const judging = JUDGING.includes(d.kind);
    if (judged && !judging) continue;
    if (!best || (judging && !judged) || d.ts >= best.decision.ts) { best = { decision: d, figures }; judged ||= judging; }
  }
  return best;
}

/** One figure next to its threshold: "error rate 0.4% ≤ 1%". `ok` is null when the figure is unknown. */
export interface FigureCheck { label: string; value: string; op: '≤' | '≥'; bound: string; ok: boolean | null; /** Not judged yet: too few requests (the step waits). */ wait?: boolean }

/** A rate in [0, 1] as a percentage: "0.4%", "12%". */
export function fmtRate(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const p = v * 100;
  return `${p === 0 ? 0 : p < 1 ? p.toFixed(2).replace(/0$/, '') : p < 10 ? p.toFixed(1).replace(/\.0$/, '') : Math.round(p)}%`;
}

/** A ratio or score with up to three significant digits ("1.23", "0.042"). */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (v === 0) return '0';
  return String(Number(v.toPrecision(3)));
}

/** A latency in microseconds as ms ("12.3ms") or µs. */
export function fmtMicros(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return v >= 1000 ? `${fmtNum(v / 1000)}ms` : `${Math.round(v)}µs`;
}

/** The larger of two drift scores (null when both are unknown). */
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/**
 * The checks of one node's figures against the thresholds, in the order the coordinator applies them:
 * requests ≥ min (else the step waits), error rate ≤ max, p95 ratio ≤ max, drift (inputs and outputs) ≤ max;
 * shadow rollouts add the disagreement share (no threshold: shown for the record, ok null).
 */
export function figureChecks(f: AnalysisFigures, t: StoredRolloutSpec['analysis']): FigureCheck[] {
  const drift = maxOf(f.input_drift, f.output_drift);
  const out: FigureCheck[] = [
    // too few requests is not a failure: the step waits (shown as "wait")
    { label: 'requests', value: String(f.candidate_requests), op: '≥', bound: String(t.min_requests), ok: f.candidate_requests >= t.min_requests ? true : null, wait: f.candidate_requests < t.min_requests },
    { label: 'error rate', value: fmtRate(f.candidate_error_rate), op: '≤', bound: fmtRate(t.max_error_rate), ok: f.candidate_error_rate === null ? null : f.candidate_error_rate <= t.max_error_rate },
    { label: 'p95 ratio', value: fmtNum(f.p95_ratio), op: '≤', bound: fmtNum(t.max_p95_ratio), ok: f.p95_ratio === null ? null : f.p95_ratio <= t.max_p95_ratio },
    { label: 'drift', value: fmtNum(drift), op: '≤', bound: fmtNum(t.max_drift), ok: drift === null ? null : drift <= t.max_drift },
  ];
  if (f.disagreement !== undefined && f.disagreement !== null) out.push({ label: 'disagreement', value: fmtRate(f.disagreement), op: '≤', bound: '-', ok: null });
  return out;
}

/** A check as text: "error rate 0.4% ≤ 1% ok", "p95 ratio 1.8 ≤ 1.5 FAIL", "drift - ≤ 0.2 (unknown)". */
export function checkText(c: FigureCheck): string {
  const verdict = c.wait ? ' wait' : c.ok === null ? (c.bound === '-' ? '' : ' (unknown)') : c.ok ? ' ok' : ' FAIL';
  return c.bound === '-' ? `${c.label} ${c.value}` : `${c.label} ${c.value} ${c.op} ${c.bound}${verdict}`;
}

/** What the stable version did over the same window, for context: "stable: 812 req, errors 0.1%, p95 9.1ms". */
export function stableText(f: AnalysisFigures): string {
  return `stable: ${f.stable_requests} req, errors ${fmtRate(f.stable_error_rate)}, p95 ${fmtMicros(f.stable_p95_us)} (candidate p95 ${fmtMicros(f.candidate_p95_us)}; drift in ${fmtNum(f.input_drift)} out ${fmtNum(f.output_drift)})`;
}

/** "2/3" (current step, 1-based, of the plan), "-/3" before the first step. */
export function stepOf(r: Pick<Rollout, 'step' | 'plan'>): string {
  return `${r.step >= 0 ? Math.min(r.step + 1, r.plan.length) : '-'}/${r.plan.length}`;
}

/** Candidate weights of a plan step as "gpu01 50%, gpu02 0%" (nodes in the rollout's order). */
export function weightsText(weights: Record<string, number>, order: readonly string[] = []): string {
  const names = [...order.filter((n) => n in weights), ...Object.keys(weights).filter((n) => !order.includes(n))];
  return names.map((n) => `${n} ${Math.round(weights[n])}%`).join(', ') || '-';
}

/** The newest decision (by time, then position), or null. */
export function lastDecision(r: Pick<Rollout, 'decisions'>): RolloutDecision | null {
  let best: RolloutDecision | null = null;
  for (const d of r.decisions) if (!best || d.ts >= best.ts) best = d;
  return best;
}

/** Decisions newest first (stable for equal times: later in the list first). */
export function decisionsNewestFirst(r: Pick<Rollout, 'decisions'>): RolloutDecision[] {
  return r.decisions.map((d, i) => ({ d, i })).sort((a, b) => b.d.ts - a.d.ts || b.i - a.i).map((x) => x.d);
}

/** "fraud 3 → 4" (or "fraud ? → 4" while the stable version is per node). */
/** The version(s) a rollout replaces: its `from`, else the stable versions its nodes had (each node's own). */
export const fromText = (r: Pick<Rollout, 'from'> & { nodes?: ReadonlyArray<{ stable: string | null }> }) =>
  r.from ?? ([...new Set((r.nodes ?? []).map((n) => n.stable).filter((v): v is string => v !== null))].join('/') || '(current)');
export const rolloutTitle = (r: Pick<Rollout, 'name' | 'from' | 'to'> & { nodes?: ReadonlyArray<{ stable: string | null }> }) => `${r.name} ${fromText(r)} → ${r.to}`;
