import { describe, expect, it } from 'vitest';
import { decisionFigures, figureChecks, checkText, fmtRate, lastAnalysis, rolloutGate, rolloutStepDuration, rolloutThresholds, stepOf, weightsText } from '../../shared/protocol/rollout-view.js';
import { actionLine, analysisLines, decisionRow, formatPlan, formatSeconds, formatStatus, listRow, nodeRow, statusHeader } from '../../cli/format/rollout.js';
import { watchExitCode } from '../../cli/commands/rollout.js';
import { AnalysisSpec, ROLLOUT_TERMINAL_STATES, Rollout, RolloutState, isTerminalRollout, type RolloutDecision } from '../../shared/protocol/rollout.js';
import { T0 } from '../tui/fixtures.js';
import { churnRolledBack, figures, fraudCanary, gateFigures, resnetPaused, spec } from '../tui/rollout-fixtures.js';

describe('rollout analysis (shared by CLI and TUI)', () => {
  it('fixtures are protocol Rollouts', () => {
    for (const r of [fraudCanary(), churnRolledBack(), resnetPaused()]) expect(Rollout.parse(r)).toEqual(r);
  });
  it('thresholds, gate and step duration are read from the stored spec', () => {
    expect(rolloutThresholds(fraudCanary())).toEqual(AnalysisSpec.parse({}));
    expect(rolloutThresholds(fraudCanary({ spec: spec({ analysis: { ...AnalysisSpec.parse({}), max_drift: 0.5 } }) })).max_drift).toBe(0.5);
    expect(rolloutGate(fraudCanary())).toEqual({ metric: 'accuracy', bound: 0.9, max_regression: 0.01, rows: 2 });
    expect(rolloutGate(churnRolledBack())).toBeNull();
    expect(rolloutStepDuration(fraudCanary({ spec: spec({ step_duration_s: 30 }) }))).toBe(30);
  });
  it('a stored spec without its defaults, or untyped figures, is not a Rollout', () => {
    const { analysis: _a, ...noAnalysis } = spec();
    expect(Rollout.safeParse({ ...fraudCanary(), spec: noAnalysis }).success).toBe(false);
    expect(Rollout.safeParse({ ...fraudCanary(), spec: 'garbage' }).success).toBe(false);
    const d = { ts: T0, step: 0, outcome: 'pass', reason: 'ok', by: 'coordinator' };
    expect(Rollout.safeParse({ ...fraudCanary(), decisions: [{ ...d, kind: 'analysis', figures: { nodes: [figures('gpu01')] } }] }).success).toBe(false);
    expect(Rollout.safeParse({ ...fraudCanary(), decisions: [{ ...d, kind: 'gate', figures: [figures('gpu01')] }] }).success).toBe(false);
  });
  it('analysis figures come from analysis, wait, pause and rollback decisions only', () => {
    const f = figures('gpu01');
    const base = { ts: T0, step: 0, outcome: 'info', reason: 'r', by: 'coordinator' } as const;
    expect(decisionFigures({ ...base, kind: 'analysis', figures: [f] })).toEqual([f]);
    expect(decisionFigures({ ...base, kind: 'rollback', figures: [f] })).toEqual([f]);
    expect(decisionFigures({ ...base, kind: 'rollback' })).toEqual([]);
    expect(decisionFigures({ ...base, kind: 'gate', figures: gateFigures(0.9, null) } as RolloutDecision)).toEqual([]);
    expect(decisionFigures({ ...base, kind: 'step', figures: { weights: { gpu01: 10 } } })).toEqual([]);
  });
  it('the last analysis is the newest judging decision, not the rollback repeating it', () => {
    expect(lastAnalysis(churnRolledBack())?.decision.kind).toBe('analysis');
    expect(lastAnalysis(resnetPaused())?.decision.kind).toBe('pause');
    expect(lastAnalysis(fraudCanary({ decisions: [] }))).toBeNull();
  });
  it('checks each figure against its threshold; unknown figures are neither ok nor failing', () => {
    const t = AnalysisSpec.parse({});
    const c = figureChecks(figures('gpu01', { candidate_requests: 40, p95_ratio: 1.8, input_drift: null, output_drift: null, candidate_error_rate: 0.004 }), t);
    expect(c.map((x) => [x.label, x.value, x.bound, x.ok])).toEqual([
      ['requests', '40', '100', null], ['error rate', '0.4%', '1%', true], ['p95 ratio', '1.8', '1.5', false], ['drift', '-', '0.2', null],
    ]);
    // too few requests is not a failure: the step waits
    expect(checkText(c[0])).toBe('requests 40 ≥ 100 wait');
    expect(fmtRate(0.0123)).toBe('1.2%');
    expect(fmtRate(0.5)).toBe('50%');
  });
  it('step and weights', () => {
    expect(stepOf(fraudCanary())).toBe('2/3');
    expect(stepOf(fraudCanary({ step: -1 }))).toBe('-/3');
    expect(weightsText({ b: 10, a: 90 }, ['a', 'b'])).toBe('a 90%, b 10%');
    expect(isTerminalRollout(churnRolledBack())).toBe(true);
    expect(isTerminalRollout(fraudCanary())).toBe(false);
  });
  it('terminal states: promoted, completed, rolled back, aborted, failed; nothing else', () => {
    expect([...ROLLOUT_TERMINAL_STATES].sort()).toEqual(['aborted', 'completed', 'failed', 'promoted', 'rolled_back']);
    for (const s of RolloutState.options) expect(isTerminalRollout(s)).toBe(ROLLOUT_TERMINAL_STATES.includes(s));
  });
  it.each([
    ['promoted', 0], ['completed', 0], ['rolled_back', 1], ['aborted', 1], ['failed', 1],
  ] as const)('watch exits %s → %i', (state, code) => {
    expect(watchExitCode({ state })).toBe(code);
  });
});

describe('rollout status', () => {
  it('header: id, model, from → to, strategy, state, step with its weights', () => {
    const h = statusHeader(fraudCanary(), T0, 'gpu01');
    expect(h[0]).toBe(`rollout ${fraudCanary().id}: fraud 3 → 4 · canary · RUNNING · coordinator gpu01`);
    expect(h[1]).toBe('step 2/3: gpu01 50%, cpu01 50% (canary 50%) · since 2m ago, steps of 5m');
    expect(h[2]).toBe('created 20m ago by alice (2023-11-14T21:53:20Z), updated 2m ago · reason: new features from Q3');
    expect(h[3]).toBe('test gate: accuracy ≥ 0.9, at most 0.01 worse than the stable version (2 rows)');
    expect(h[4]).toMatch(/^warning: cpu01: 1.2 GiB host memory free/);
    expect(statusHeader(resnetPaused(), T0)[1]).toContain('waited 3× for requests');
  });
  it('nodes and decisions tables', () => {
    const out = formatStatus(resnetPaused(), T0);
    expect(out).toMatch(/NODE +STABLE +WEIGHT +STATE +ERROR/);
    expect(out).toMatch(/gpu06 +- +0% +unreachable +connect ECONNREFUSED 10.0.0.16:7070/);
    expect(out).toMatch(/TIME +STEP +KIND +OUTCOME +REASON/);
    // newest first
    expect(out.search(/pause +wait/)).toBeGreaterThan(0);
    expect(out.search(/pause +wait/)).toBeLessThan(out.search(/plan +info/));
    expect(nodeRow(fraudCanary().nodes[0])).toEqual(['gpu01', '3', '50%', 'serving', '']);
    expect(decisionRow(churnRolledBack().decisions[2])).toEqual(['2023-11-14T21:48:20Z', '1', 'analysis', 'fail', 'gpu01: p95 ratio 2.1 > 1.5 (by coordinator)']);
  });
  it('the last analysis next to its thresholds, with the stable version for context', () => {
    const a = analysisLines(churnRolledBack());
    expect(a[0]).toBe('thresholds: error rate ≤ 1% · p95 ratio ≤ 1.5 · drift ≤ 0.2 · requests ≥ 100');
    expect(a[1]).toBe('last analysis: step 1 at 2023-11-14T21:48:20Z, fail: gpu01: p95 ratio 2.1 > 1.5');
    expect(a[2]).toBe('  gpu01  requests 230 ≥ 100 ok · error rate 0.2% ≤ 1% ok · p95 ratio 2.1 ≤ 1.5 FAIL · drift 0.04 ≤ 0.2 ok');
    expect(a[3]).toBe('         stable: 3702 req, errors 0.1%, p95 9.1ms (candidate p95 19.1ms; drift in 0.03 out 0.04)');
    expect(analysisLines(fraudCanary({ decisions: [] }))[1]).toMatch(/no analysis yet/);
  });
});

describe('dry run, list, actions', () => {
  it('the plan: one row per step with each node\'s weight, the gate, the warnings', () => {
    const p = formatPlan(fraudCanary({ state: 'planned', step: -1 }));
    expect(p).toContain('plan of fraud 3 → 4 · canary on 2 nodes (dry run: nothing changed)');
    expect(p).toContain('first: test gate accuracy ≥ 0.9 (max regression 0.01)');
    expect(p).toContain('each step lasts 5m, then is judged: error rate ≤ 1%, p95 ratio ≤ 1.5, drift ≤ 0.2, at least 100 requests');
    expect(p).toMatch(/STEP +GPU01 +CPU01 +NOTE\n1 +10% +10% +canary 10%\n2 +50% +50% +canary 50%\n3 +100% +100% +all traffic/);
    expect(p).toContain('warning: cpu01: 1.2 GiB host memory free');
    expect(formatPlan(resnetPaused())).toMatch(/no test gate .*\n[\s\S]*no warnings/);
  });
  it('list rows and action lines', () => {
    expect(listRow('gpu01', churnRolledBack(), T0)).toEqual([
      churnRolledBack().id, 'gpu01', 'churn', '2', '3', 'canary', 'rolled_back', '1/2', '1', '25m ago', 'rollback ok: automatic rollback to the stable version on gpu01: gpu01: p95 ratio 2.1 > 1.5',
    ]);
    expect(actionLine('paused', fraudCanary({ state: 'paused' }), 'gpu01')).toBe(`rollout ${fraudCanary().id} (fraud 3 → 4) on gpu01: paused, now paused at step 2/3`);
  });
  it('durations for people', () => {
    expect(formatSeconds(300)).toBe('5m');
    expect(formatSeconds(45)).toBe('45s');
    expect(formatSeconds(90)).toBe('1m30s');
    expect(formatSeconds(3600)).toBe('1h');
    expect(formatSeconds(5400)).toBe('1h30m');
  });
});
