// Pure rendering of the rollout detail view: header, every step with each node's weight, each node's state, the
// figures of the last analysis next to their thresholds, and the decisions with their reasons (newest first).
// The lines always fit the height they are given: sections shrink (steps around the current one first, then the
// analysis, the header, then the nodes) and the decisions take what is left, scrolled by `offset`.
import {
  checkText, decisionsNewestFirst, figureChecks, fmtNum, fmtRate, lastAnalysis, rolloutGate, rolloutStepDuration,
  rolloutThresholds, rolloutTitle, stableText, stepOf,
} from '../../shared/protocol/rollout-view.js';
import { isTerminalRollout } from '../../shared/protocol/rollout.js';
import type { Rollout, RolloutDecision } from '../../shared/protocol/rollout.js';
import { type DetailLine, fmtTime } from './job-detail.js';
import { fmtAge } from './job-row.js';
import { decisionTone, rolloutNodeTone, rolloutTone } from './rollout-row.js';

/** Options of rolloutDetailLines. */
export interface RolloutDetailOptions {
  /** Lines available (the result never has more). */
  height: number;
  /** First decision shown (newest first), for scrolling. Default 0. */
  offset?: number;
  /** The coordinator, shown in the header. */
  node?: string;
}

/** A section of the detail view and how far it may shrink (title line included). */
interface Section { lines: DetailLine[]; min: number; /** Index of the line to keep in view when cut (the current step). */ focus?: number }

const more = (n: number, what: string): DetailLine => ({ text: `  … ${n} more ${what}`, tone: 'dim' });

/**
 * Cut a section to `max` lines: the title first, then the focus line (the current step), then its neighbours;
 * with `note`, a last line says how many were left out (when there is room for it).
 */
function cut(s: Section, max: number, what: string, note = true): DetailLine[] {
  if (s.lines.length <= max) return s.lines;
  if (max <= 0) return [];
  const [title, ...body] = s.lines;
  const focus = Math.max(0, (s.focus ?? 1) - 1);
  if (max === 1) return [title];
  const withNote = note && max >= 3;
  const room = max - 1 - (withNote ? 1 : 0);
  const start = Math.max(0, Math.min(focus - Math.floor((room - 1) / 2), body.length - room));
  return [title, ...body.slice(start, start + room), ...(withNote ? [more(body.length - room, what)] : [])];
}

/** One decision as a line: "12:00:05 #2 analysis pass  within thresholds on gpu01 (coordinator)". */
export function decisionLine(d: RolloutDecision): DetailLine {
  const time = fmtTime(d.ts).slice(11);
  const step = d.step >= 0 ? `#${d.step + 1}` : '#-';
  return { text: `  ${time} ${step.padEnd(3)} ${d.kind.padEnd(8)} ${d.outcome.padEnd(4)}  ${d.reason}${d.by ? ` (${d.by})` : ''}`, tone: decisionTone(d) };
}

/** The header lines: what, state, coordinator, step, age, reason, gate and warnings. */
export function rolloutHeaderLines(r: Rollout, now: number, node?: string): DetailLine[] {
  const out: DetailLine[] = [
    { text: `${rolloutTitle(r)} · ${r.strategy} · ${r.state.toUpperCase()}${node ? ` · coordinator ${node}` : ''}`, bold: true, tone: rolloutTone(r.state) },
    {
      text: `  id ${r.id} · step ${stepOf(r)}${r.step_started_at !== null && !isTerminalRollout(r) ? ` for ${fmtAge(now - r.step_started_at)} (steps of ${fmtAge(rolloutStepDuration(r) * 1000)})` : ''}`
        + `${r.waits ? ` · waited ${r.waits}×` : ''} · by ${r.created_by} ${fmtAge(now - r.created_at)} ago${r.reason ? ` · ${r.reason}` : ''}`,
    },
  ];
  const g = rolloutGate(r);
  if (g) out.push({ text: `  test gate: ${g.metric} ${g.metric === 'mae' || g.metric === 'rmse' ? '≤' : '≥'} ${g.bound}, regression ≤ ${g.max_regression} on ${g.rows} rows` });
  for (const w of r.warnings) out.push({ text: `  warning: ${w}`, tone: 'warn' });
  return out;
}

/** Every step of the plan: the current one marked ">", the ones done "✓", with each node's candidate weight. */
export function stepLines(r: Rollout): Section {
  const order = r.nodes.map((n) => n.name);
  const w = Math.max(0, ...order.map((n) => n.length));
  const lines: DetailLine[] = [{ text: `STEPS (${r.plan.length})`, bold: true }];
  let focus = 0;
  r.plan.forEach((s, i) => {
    const mark = i === r.step ? '>' : i < r.step ? '✓' : ' ';
    if (i === r.step) focus = lines.length;
    const names = [...order.filter((n) => n in s.weights), ...Object.keys(s.weights).filter((n) => !order.includes(n))];
    const weights = names.map((n) => `${n.padEnd(w)} ${String(Math.round(s.weights[n])).padStart(3)}%`).join('  ');
    lines.push({ text: `${mark} ${String(i + 1).padStart(2)}  ${weights}${s.note ? `  ${s.note}` : ''}`, bold: i === r.step, tone: i === r.step ? 'accent' : i < r.step ? 'dim' : undefined });
  });
  if (!r.plan.length) lines.push({ text: '  no steps', tone: 'dim' });
  return { lines, min: Math.min(2, lines.length), focus };
}

/** Each node: stable version, candidate weight, state, error. */
export function nodeLines(r: Rollout): Section {
  const w = Math.max(4, ...r.nodes.map((n) => n.name.length));
  const sw = Math.max(6, ...r.nodes.map((n) => (n.stable ?? '–').length));
  const lines: DetailLine[] = [
    { text: `NODES (${r.nodes.length})`, bold: true },
    { text: `  ${'NODE'.padEnd(w)}  ${'STABLE'.padEnd(sw)}  WEIGHT  ${'STATE'.padEnd(11)}  ERROR`, tone: 'accent' },
    ...r.nodes.map((n): DetailLine => ({
      text: `  ${n.name.padEnd(w)}  ${(n.stable ?? '–').padEnd(sw)}  ${`${Math.round(n.weight)}%`.padStart(6)}  ${n.state.padEnd(11)}  ${n.error ?? ''}`.trimEnd(),
      tone: rolloutNodeTone(n),
    })),
  ];
  return { lines, min: 2 };
}

/** The thresholds and, per node, the figures of the last analysis next to them (and the stable version's). */
export function analysisLines(r: Rollout): Section {
  const t = rolloutThresholds(r);
  const a = lastAnalysis(r);
  const lines: DetailLine[] = [
    { text: `ANALYSIS · thresholds: error rate ≤ ${fmtRate(t.max_error_rate)} · p95 ratio ≤ ${fmtNum(t.max_p95_ratio)} · drift ≤ ${fmtNum(t.max_drift)} · requests ≥ ${t.min_requests}`, bold: true },
  ];
  if (!a) {
    lines.push({ text: '  no analysis yet: the first one closes the first step', tone: 'dim' });
    return { lines, min: 2 };
  }
  const d = a.decision;
  lines.push({ text: `  last: step ${d.step >= 0 ? d.step + 1 : '–'} at ${fmtTime(d.ts).slice(11)} · ${d.outcome}: ${d.reason}`, tone: decisionTone(d) });
  const w = Math.max(...a.figures.map((f) => f.node.length));
  for (const f of a.figures) {
    const checks = figureChecks(f, t);
    const failed = checks.some((c) => c.ok === false);
    lines.push({ text: `  ${f.node.padEnd(w)}  ${checks.map(checkText).join(' · ')}`, tone: failed ? 'bad' : checks.every((c) => c.ok !== false) && checks.some((c) => c.ok) ? 'ok' : undefined });
  }
  for (const f of a.figures) lines.push({ text: `  ${f.node.padEnd(w)}  ${stableText(f)}`, tone: 'dim' });
  return { lines, min: Math.min(3, lines.length) };
}

/**
 * The lines of the detail view, at most `height`. Sections in order: header, steps, nodes, analysis, decisions.
 * When they do not fit, the steps shrink first (around the current step), then the analysis, then the header,
 * then the nodes; the decisions keep at least three lines when there are any, and take all the rest.
 */
export function rolloutDetailLines(r: Rollout, now: number, o: RolloutDetailOptions): DetailLine[] {
  const height = Math.max(0, o.height);
  const decisions = decisionsNewestFirst(r);
  const head: Section = { lines: rolloutHeaderLines(r, now, o.node), min: 1 };
  const steps = stepLines(r);
  const nodes = nodeLines(r);
  const analysis = analysisLines(r);
  const decMin = decisions.length ? Math.min(3, decisions.length + 1) : 1;
  const budget = Math.max(0, height - decMin);
  const sizes = { head: head.lines.length, steps: steps.lines.length, nodes: nodes.lines.length, analysis: analysis.lines.length };
  let excess = sizes.head + sizes.steps + sizes.nodes + sizes.analysis - budget;
  for (const [k, s] of [['steps', steps], ['analysis', analysis], ['head', head], ['nodes', nodes]] as const) {
    if (excess <= 0) break;
    const give = Math.min(excess, sizes[k] - s.min);
    if (give > 0) { sizes[k] -= give; excess -= give; }
  }
  const out: DetailLine[] = [
    ...cut(head, sizes.head, 'lines', false),
    ...cut(steps, sizes.steps, 'steps'),
    ...cut(nodes, sizes.nodes, 'nodes'),
    ...cut(analysis, sizes.analysis, 'lines', false),
  ].slice(0, height);
  const room = height - out.length;
  if (room <= 0) return out;
  if (!decisions.length) return [...out, { text: 'DECISIONS: none yet', bold: true }];
  const off = Math.max(0, Math.min(o.offset ?? 0, decisions.length - 1));
  const rows = room - 1;
  const shown = decisions.slice(off, off + rows);
  const hidden = decisions.length - shown.length;
  out.push({ text: `DECISIONS (${decisions.length}, newest first${hidden ? `; ${off ? `${off} newer above, ` : ''}↑↓ scroll` : ''})`, bold: true });
  for (const d of shown) out.push(decisionLine(d));
  return out;
}
