/**
 * Rollout planning and judgement — pure: spec and observations in, steps and decisions out. The coordinator
 * (coordinator.ts) performs the effects; everything it decides comes from here, so the rules are tested without
 * sockets.
 *
 * Steps per strategy (candidate traffic % per node):
 *   canary       every node at s₁ %, then s₂ %, … up to 100 %            (--steps 10,50,100)
 *   rolling      waves of max_unavailable nodes switched to 100 %, one wave per step
 *   all-at-once  every node at 100 % in one step (the test gate still runs first)
 *   shadow       one step: 0 % of answers, but every request is copied to the candidate and the answers compared
 * After each step's duration an analysis compares the candidate with the stable version serving at the same time on
 * each node; at 100 % there is no stable traffic left, so only the candidate's error rate is judged.
 */
import type { AnalysisFigures, AnalysisSpec, GateMetric, RolloutStrategy } from '../../shared/protocol/index.js';
import { higherIsBetter } from '../serving/scoring.js';

/** Planned steps: candidate weight per node, and a note for people. */
export interface PlanStep { index: number; weights: Record<string, number>; note: string }

export function planSteps(strategy: RolloutStrategy, nodes: readonly string[], steps: readonly number[], maxUnavailable: number): PlanStep[] {
  const all = (w: number) => Object.fromEntries(nodes.map((n) => [n, w]));
  switch (strategy) {
    case 'canary': return steps.map((s, i) => ({ index: i, weights: all(s), note: `${s} % of traffic to the candidate on ${nodes.length === 1 ? nodes[0] : `each of ${nodes.length} nodes`}` }));
    case 'all-at-once': return [{ index: 0, weights: all(100), note: `every node switches at once` }];
    case 'shadow': return [{ index: 0, weights: all(0), note: 'the candidate gets a copy of every request; its answers are compared, never returned' }];
    case 'rolling': {
      const out: PlanStep[] = [];
      for (let i = 0; i < nodes.length; i += maxUnavailable) {
        const done = new Set(nodes.slice(0, i + maxUnavailable));
        out.push({ index: out.length, weights: Object.fromEntries(nodes.map((n) => [n, done.has(n) ? 100 : 0])), note: `wave ${out.length + 1}: ${nodes.slice(i, i + maxUnavailable).join(', ')} switch${nodes.slice(i, i + maxUnavailable).length === 1 ? 'es' : ''}` });
      }
      return out;
    }
  }
}

/** Alias targets for a node at a candidate weight (stable takes the rest). */
export function targetsFor(candidate: string, stable: string | null, weight: number): Array<{ version: string; weight: number }> {
  if (!stable || weight >= 100) return [{ version: candidate, weight: 100 }];
  if (weight <= 0) return [{ version: stable, weight: 100 }];
  return [{ version: stable, weight: 100 - weight }, { version: candidate, weight }];
}

/** The outcome of an analysis. */
export interface Verdict { outcome: 'pass' | 'fail' | 'wait'; reason: string }

/**
 * Judges one step from each analysed node's figures. Only nodes where the candidate served at least min_requests are
 * judged: any threshold broken there (error rate, p95 ratio, input or output drift, shadow disagreement) fails the
 * step; otherwise the step waits while any node is short of requests, and passes when none is. Figures that could not
 * be measured (null) do not fail a step.
 */
export function judgeStep(figures: readonly AnalysisFigures[], a: AnalysisSpec): Verdict {
  const fails: string[] = [];
  const short: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  for (const f of figures) {
    // A node that has not served enough candidate requests is not judged yet (its figures are noise): the step waits.
    if (f.candidate_requests < a.min_requests) { short.push(`${f.node}: ${f.candidate_requests} of ${a.min_requests} requests`); continue; }
    if (f.candidate_error_rate !== null && f.candidate_error_rate > a.max_error_rate) fails.push(`${f.node}: error rate ${pct(f.candidate_error_rate)} > ${pct(a.max_error_rate)}`);
    if (f.p95_ratio !== null && f.p95_ratio > a.max_p95_ratio) fails.push(`${f.node}: p95 latency ${f.p95_ratio.toFixed(2)}× the stable version's > ${a.max_p95_ratio}×`);
    if (f.input_drift !== null && f.input_drift > a.max_drift) fails.push(`${f.node}: input drift ${f.input_drift.toFixed(3)} > ${a.max_drift}`);
    if (f.output_drift !== null && f.output_drift > a.max_drift) fails.push(`${f.node}: output drift ${f.output_drift.toFixed(3)} vs the stable version > ${a.max_drift}`);
    if (f.disagreement !== null && f.disagreement !== undefined && f.disagreement > a.max_error_rate) fails.push(`${f.node}: answers differ from the stable version's on ${pct(f.disagreement)} of requests > ${pct(a.max_error_rate)}`);
  }
  if (fails.length) return { outcome: 'fail', reason: fails.join('; ') };
  if (short.length) return { outcome: 'wait', reason: `too few requests to judge (${short.join('; ')})` };
  return { outcome: 'pass', reason: `within thresholds on ${figures.map((f) => f.node).join(', ')}` };
}

/** The test gate: the candidate passes the absolute bound and is not worse than the current version by more than maxRegression. */
export function judgeGate(metric: GateMetric, bound: number, maxRegression: number, candidate: number, current: number | null): Verdict {
  const hi = higherIsBetter(metric);
  const f = (x: number) => Number(x.toFixed(4)).toString();
  if (hi ? candidate < bound : candidate > bound) return { outcome: 'fail', reason: `${metric} ${f(candidate)} ${hi ? '<' : '>'} ${f(bound)} (the gate)` };
  if (current !== null) {
    const regression = hi ? current - candidate : candidate - current;
    // a tolerance for float subtraction: 0.9 − 0.89 is 0.010000000000000009, which must pass a 0.01 allowance
    if (regression > maxRegression + 1e-9) return { outcome: 'fail', reason: `${metric} ${f(candidate)} is ${f(regression)} worse than the current version's ${f(current)} (allowed: ${f(maxRegression)})` };
  }
  return { outcome: 'pass', reason: `${metric} ${f(candidate)} ${hi ? '≥' : '≤'} ${f(bound)}${current !== null ? `; current version ${f(current)}` : ''}` };
}
