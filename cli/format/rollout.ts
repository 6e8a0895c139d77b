// Rendering of `fleetml rollout …` output, pure (data in, text out): the status of one rollout (header, nodes,
// decisions, last analysis vs thresholds), the plan of a dry run, the list table, and the one-line action results.
// No colours: the words (FAIL, ok, state names) carry the meaning, so pipes and NO_COLOR lose nothing.
import type { Rollout, RolloutDecision, RolloutNode } from '../../shared/protocol/rollout.js';
import { isoSecond } from './drift.js';
import { formatAge } from './job.js';
import { formatTable } from '../output.js';
import {
  checkText, decisionsNewestFirst, figureChecks, fmtNum, fmtRate, lastAnalysis, lastDecision, rolloutGate, rolloutStepDuration, rolloutThresholds,
  rolloutTitle, stableText, stepOf, weightsText,
} from '../../shared/protocol/rollout-view.js';
import { isTerminalRollout } from '../../shared/protocol/rollout.js';

export const ROLLOUT_NODE_HEADERS = ['NODE', 'STABLE', 'WEIGHT', 'STATE', 'ERROR'];
export const ROLLOUT_DECISION_HEADERS = ['TIME', 'STEP', 'KIND', 'OUTCOME', 'REASON'];
export const ROLLOUT_LIST_HEADERS = ['ID', 'COORDINATOR', 'MODEL', 'FROM', 'TO', 'STRATEGY', 'STATE', 'STEP', 'NODES', 'UPDATED', 'LAST DECISION'];

/** Seconds as "5m", "90s", "1h30m". */
export function formatSeconds(s: number): string {
  if (s < 60 || s % 60) return s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
  const m = s / 60;
  if (m < 60 || m % 60) return m >= 60 ? `${Math.floor(m / 60)}h${m % 60}m` : `${m}m`;
  return `${m / 60}h`;
}

/** The step number of a decision for people: 1-based, "-" before the first step. */
const stepNo = (d: Pick<RolloutDecision, 'step'>) => (d.step >= 0 ? String(d.step + 1) : '-');

/** One row of the nodes table. */
export function nodeRow(n: RolloutNode): string[] {
  return [n.name, n.stable ?? '-', `${Math.round(n.weight)}%`, n.state, n.error ?? ''];
}

/** One row of the decisions table. */
export function decisionRow(d: RolloutDecision): string[] {
  return [isoSecond(d.ts), stepNo(d), d.kind, d.outcome, `${d.reason}${d.by ? ` (by ${d.by})` : ''}`];
}

/** The header lines: what, where, how far, why. */
export function statusHeader(r: Rollout, now: number, coordinator?: string): string[] {
  const cur = r.step >= 0 && r.step < r.plan.length ? r.plan[r.step] : null;
  const order = r.nodes.map((n) => n.name);
  const out = [
    `rollout ${r.id}: ${rolloutTitle(r)} · ${r.strategy} · ${r.state.toUpperCase()}${coordinator ? ` · coordinator ${coordinator}` : ''}`,
    `step ${stepOf(r)}${cur ? `: ${weightsText(cur.weights, order)}${cur.note ? ` (${cur.note})` : ''}` : ''}${r.step_started_at !== null && !isTerminalRollout(r) ? ` · since ${formatAge(now - r.step_started_at)} ago, steps of ${formatSeconds(rolloutStepDuration(r))}` : ''}${r.waits ? ` · waited ${r.waits}× for requests` : ''}`,
    `created ${formatAge(now - r.created_at)} ago by ${r.created_by} (${isoSecond(r.created_at)}), updated ${formatAge(now - r.updated_at)} ago${r.reason ? ` · reason: ${r.reason}` : ''}`,
  ];
  const gate = rolloutGate(r);
  if (gate) out.push(`test gate: ${gate.metric} ${gate.metric === 'mae' || gate.metric === 'rmse' ? '≤' : '≥'} ${gate.bound}, at most ${gate.max_regression} worse than the stable version (${gate.rows} rows)`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out;
}

/**
 * The figures of the last analysis next to their thresholds, one line per node:
 *   analysis at step 2 (12:00:00Z, pass: …)
 *     gpu01: requests 412 ≥ 100 ok · error rate 0.2% ≤ 1% ok · p95 ratio 1.1 ≤ 1.5 ok · drift 0.04 ≤ 0.2 ok
 *            stable: 3702 req, errors 0.1%, p95 9.1ms (…)
 */
export function analysisLines(r: Rollout): string[] {
  const t = rolloutThresholds(r);
  const thresholds = `thresholds: error rate ≤ ${fmtRate(t.max_error_rate)} · p95 ratio ≤ ${fmtNum(t.max_p95_ratio)} · drift ≤ ${fmtNum(t.max_drift)} · requests ≥ ${t.min_requests}`;
  const a = lastAnalysis(r);
  if (!a) return [thresholds, 'no analysis yet: the first one closes the first step'];
  const d = a.decision;
  const out = [thresholds, `last analysis: step ${stepNo(d)} at ${isoSecond(d.ts)}, ${d.outcome}: ${d.reason}`];
  const w = Math.max(...a.figures.map((f) => f.node.length));
  for (const f of a.figures) {
    out.push(`  ${f.node.padEnd(w)}  ${figureChecks(f, t).map(checkText).join(' · ')}`);
    out.push(`  ${''.padEnd(w)}  ${stableText(f)}`);
  }
  return out;
}

/** The whole `rollout status` output. */
export function formatStatus(r: Rollout, now: number, coordinator?: string): string {
  const decisions = decisionsNewestFirst(r);
  return [
    ...statusHeader(r, now, coordinator),
    '',
    r.nodes.length ? formatTable(ROLLOUT_NODE_HEADERS, r.nodes.map(nodeRow)) : 'no nodes',
    '',
    ...analysisLines(r),
    '',
    decisions.length ? formatTable(ROLLOUT_DECISION_HEADERS, decisions.map(decisionRow)) : 'no decisions yet',
  ].join('\n');
}

/** The plan of a rollout (`--dry-run`): one row per step with each node's candidate weight, then the warnings. */
export function formatPlan(r: Rollout): string {
  const names = r.nodes.map((n) => n.name);
  for (const s of r.plan) for (const n of Object.keys(s.weights)) if (!names.includes(n)) names.push(n);
  const rows = r.plan.map((s) => [String(s.index + 1), ...names.map((n) => (n in s.weights ? `${Math.round(s.weights[n])}%` : '-')), s.note]);
  const gate = rolloutGate(r);
  const t = rolloutThresholds(r);
  const out = [
    `plan of ${rolloutTitle(r)} · ${r.strategy} on ${names.length} node${names.length === 1 ? '' : 's'} (dry run: nothing changed)`,
    gate ? `first: test gate ${gate.metric} ${gate.metric === 'mae' || gate.metric === 'rmse' ? '≤' : '≥'} ${gate.bound} (max regression ${gate.max_regression})` : 'no test gate (give --test-set FILE --gate "accuracy>=0.9" to score the candidate before any traffic)',
    `each step lasts ${formatSeconds(rolloutStepDuration(r))}, then is judged: error rate ≤ ${fmtRate(t.max_error_rate)}, p95 ratio ≤ ${fmtNum(t.max_p95_ratio)}, drift ≤ ${fmtNum(t.max_drift)}, at least ${t.min_requests} requests`,
    '',
    r.plan.length ? formatTable(['STEP', ...names.map((n) => n.toUpperCase()), 'NOTE'], rows) : 'no steps',
  ];
  const stable = r.nodes.filter((n) => n.stable !== null).map((n) => `${n.name} ${n.stable}`);
  if (stable.length) out.push('', `stable versions: ${stable.join(', ')}`);
  if (r.preflight?.length) out.push('', 'pre-flight:', ...r.preflight.map((c) => `  ${c.check.replace('_', ' ')} ${c.outcome.replace('_', ' ')}: ${c.detail}`));
  if (r.warnings.length) out.push('', ...r.warnings.map((w) => `warning: ${w}`));
  else out.push('', 'no warnings');
  return out.join('\n');
}

/** One row of `rollout list`. */
export function listRow(coordinator: string, r: Rollout, now: number): string[] {
  const d = lastDecision(r);
  return [r.id, coordinator, r.name, r.from ?? '-', r.to, r.strategy, r.state, stepOf(r), String(r.nodes.length), `${formatAge(now - r.updated_at)} ago`, d ? `${d.kind} ${d.outcome}: ${d.reason}` : '-'];
}

/** What pause/resume/promote/abort print: "rollout ID (fraud 3 → 4): paused at step 2/3". */
export function actionLine(verb: string, r: Rollout, coordinator?: string): string {
  return `rollout ${r.id} (${rolloutTitle(r)})${coordinator ? ` on ${coordinator}` : ''}: ${verb}, now ${r.state} at step ${stepOf(r)}`;
}
