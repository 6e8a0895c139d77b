// Rollout fixtures shared by the TUI and CLI tests: what a coordinator answers (rollout.get/list, rollout.events),
// parsed by the protocol's zod schema so they cannot drift from it.
//   fraudCanary   — fraud 3 → 4, canary 10/50/100 on gpu01 + cpu01, gate passed, step 1 passed analysis, now at 50 %
//   churnRolledBack — churn 2 → 3, canary, the first analysis failed on p95 (2.1 > 1.5): rolled back everywhere
//   resnetPaused  — resnet50 1 → 2, rolling over 3 nodes, paused for a human after too few requests
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Rollout, type AnalysisFigures, type GateFigures, type RolloutDecision, type StoredRolloutSpec } from '../../shared/protocol/rollout.js';
import { T0, fleet } from './fixtures.js';

const MIN = 60_000;

/** One node's analysis figures; `over` wins. */
export function figures(node: string, over: Partial<AnalysisFigures> = {}): AnalysisFigures {
  return {
    node, candidate_requests: 412, stable_requests: 3702, candidate_error_rate: 0.002, stable_error_rate: 0.001,
    candidate_p95_us: 10_100, stable_p95_us: 9_100, p95_ratio: 1.11, input_drift: 0.03, output_drift: 0.04, ...over,
  };
}

/** A stored spec (what the coordinator keeps of the start params: defaults applied, the test set as name and row count); `over` wins. */
export function spec(over: Partial<StoredRolloutSpec> = {}): StoredRolloutSpec {
  return {
    name: 'fraud', to: '4', strategy: 'canary', steps: [10, 50, 100], step_duration_s: 300, max_unavailable: 1,
    analysis: { max_error_rate: 0.01, max_p95_ratio: 1.5, max_drift: 0.2, min_requests: 100, max_waits: 3 }, dry_run: false,
    gate: { metric: 'accuracy', bound: 0.9, max_regression: 0.01, test_set: { name: 'holdout.csv', rows: 2 } },
    ...over,
  };
}

/** Figures of a gate decision on gpu01 (accuracy of the candidate vs the current version). */
export function gateFigures(candidate: number, current: number | null): GateFigures {
  const ev = (version: string, accuracy: number) => ({ name: 'fraud', version, rows: 2, task: 'classification' as const, accuracy, f1: accuracy, mae: null, rmse: null });
  return { node: 'gpu01', rows: 2, metric: 'accuracy', candidate, current, bound: 0.9, max_regression: 0.01, candidate_all: ev('4', candidate), current_all: current === null ? null : ev('3', current) };
}

const dec = (ts: number, step: number, kind: RolloutDecision['kind'], outcome: RolloutDecision['outcome'], reason: string, figs?: unknown, by = 'coordinator'): RolloutDecision =>
  ({ ts, step, kind, outcome, reason, by, ...(figs !== undefined ? { figures: figs } : {}) }) as RolloutDecision;

/** fraud 3 → 4, canary, at step 2/3 (50 %) after a passed analysis. */
export function fraudCanary(over: Partial<Rollout> = {}): Rollout {
  return Rollout.parse({
    id: 'ro-7f3a9c21-0d4e-4b8a-9f00-1234567890ab', name: 'fraud', to: '4', from: '3', strategy: 'canary', state: 'running', step: 1,
    plan: [
      { index: 0, weights: { gpu01: 10, cpu01: 10 }, note: 'canary 10%' },
      { index: 1, weights: { gpu01: 50, cpu01: 50 }, note: 'canary 50%' },
      { index: 2, weights: { gpu01: 100, cpu01: 100 }, note: 'all traffic' },
    ],
    step_started_at: T0 - 2 * MIN, waits: 0,
    nodes: [
      { name: 'gpu01', url: 'ws://gpu01:7070', stable: '3', previous_targets: null, weight: 50, state: 'serving', touched: true, error: null },
      { name: 'cpu01', url: 'ws://cpu01:7070', stable: '3', previous_targets: [{ version: '3', weight: 100 }], weight: 50, state: 'serving', touched: true, error: null },
    ],
    spec: spec(),
    decisions: [
      dec(T0 - 20 * MIN, -1, 'plan', 'info', '3 steps on gpu01, cpu01', undefined, 'alice'),
      dec(T0 - 19 * MIN, -1, 'gate', 'pass', 'test gate on gpu01: accuracy 0.93 ≥ 0.9, stable 0.92 (regression -0.01 ≤ 0.01)', gateFigures(0.93, 0.92)),
      dec(T0 - 18 * MIN, 0, 'step', 'ok', 'candidate at 10% on gpu01, cpu01', { weights: { gpu01: 10, cpu01: 10 } }),
      dec(T0 - 7 * MIN, 0, 'analysis', 'pass', 'within thresholds on gpu01, cpu01', [figures('gpu01'), figures('cpu01', { candidate_requests: 150, p95_ratio: 0.98, input_drift: null, output_drift: null })]),
      dec(T0 - 2 * MIN, 1, 'step', 'ok', 'candidate at 50% on gpu01, cpu01', { weights: { gpu01: 50, cpu01: 50 } }),
    ],
    reason: 'new features from Q3', created_at: T0 - 20 * MIN, updated_at: T0 - 2 * MIN, created_by: 'alice',
    warnings: ['cpu01: 1.2 GiB host memory free, both versions need 1.6 GiB while warming'],
    ...over,
  });
}

/** churn 2 → 3, rolled back at step 1 because p95 doubled on gpu01. */
export function churnRolledBack(): Rollout {
  const bad = figures('gpu01', { candidate_p95_us: 19_110, p95_ratio: 2.1, candidate_requests: 230 });
  return Rollout.parse({
    id: 'ro-11111111-2222-4333-8444-555555555555', name: 'churn', to: '3', from: '2', strategy: 'canary', state: 'rolled_back', step: 0,
    plan: [{ index: 0, weights: { gpu01: 10 }, note: 'canary 10%' }, { index: 1, weights: { gpu01: 100 }, note: 'all traffic' }],
    step_started_at: T0 - 30 * MIN, waits: 0,
    nodes: [{ name: 'gpu01', url: 'ws://gpu01:7070', stable: '2', previous_targets: null, weight: 0, state: 'rolled_back', touched: true, error: null }],
    spec: spec({ name: 'churn', to: '3', steps: [10, 100], gate: undefined }),
    decisions: [
      dec(T0 - 31 * MIN, -1, 'plan', 'info', '2 steps on gpu01', undefined, 'bob'),
      dec(T0 - 30 * MIN, 0, 'step', 'ok', 'candidate at 10% on gpu01'),
      dec(T0 - 25 * MIN, 0, 'analysis', 'fail', 'gpu01: p95 ratio 2.1 > 1.5', [bad]),
      dec(T0 - 25 * MIN, 0, 'rollback', 'ok', 'automatic rollback to the stable version on gpu01: gpu01: p95 ratio 2.1 > 1.5', [bad]),
    ],
    reason: null, created_at: T0 - 31 * MIN, updated_at: T0 - 25 * MIN, created_by: 'bob', warnings: [],
  });
}

/** resnet50 1 → 2, rolling, paused for a human: too few requests after three waits. */
export function resnetPaused(): Rollout {
  const few = figures('mig01', { candidate_requests: 12, stable_requests: 40 });
  return Rollout.parse({
    id: 'ro-99999999-8888-4777-8666-555555555555', name: 'resnet50', to: '2', from: '1', strategy: 'rolling', state: 'paused', step: 0,
    plan: [
      { index: 0, weights: { mig01: 100, gpu05: 0, gpu06: 0 }, note: 'wave 1: mig01' },
      { index: 1, weights: { mig01: 100, gpu05: 100, gpu06: 0 }, note: 'wave 2: gpu05' },
      { index: 2, weights: { mig01: 100, gpu05: 100, gpu06: 100 }, note: 'wave 3: gpu06' },
    ],
    step_started_at: T0 - 40 * MIN, waits: 3,
    nodes: [
      { name: 'mig01', url: 'ws://mig01:7070', stable: '1', previous_targets: null, weight: 100, state: 'serving', touched: true, error: null },
      { name: 'gpu05', url: 'ws://gpu05:7070', stable: '1', previous_targets: null, weight: 0, state: 'pending', touched: false, error: null },
      { name: 'gpu06', url: 'ws://gpu06:7070', stable: null, previous_targets: null, weight: 0, state: 'unreachable', touched: false, error: 'connect ECONNREFUSED 10.0.0.16:7070' },
    ],
    spec: spec({ name: 'resnet50', to: '2', strategy: 'rolling', gate: undefined }),
    decisions: [
      dec(T0 - 41 * MIN, -1, 'plan', 'info', '3 waves of 1 node', undefined, 'carol'),
      dec(T0 - 40 * MIN, 0, 'step', 'ok', 'wave 1: mig01 switched'),
      ...[1, 2, 3].map((w) => dec(T0 - (40 - 5 * w) * MIN, 0, 'wait', 'wait', `12 requests < 100: waiting another 300 s (${w} of 3)`, [few])),
      dec(T0 - 20 * MIN, 0, 'pause', 'wait', '12 requests < 100 after 4 step durations: paused for a human', [few]),
    ],
    reason: null, created_at: T0 - 41 * MIN, updated_at: T0 - 20 * MIN, created_by: 'carol', warnings: [],
  });
}

/** The fixture fleet with gpu01 coordinating fraud (running) and churn (rolled back), mig01 coordinating resnet50 (paused). */
export function rolloutFleet(): FleetNode[] {
  return fleet().map((n) => (n.name === 'gpu01' ? { ...n, rollouts: [fraudCanary(), churnRolledBack()] }
    : n.name === 'mig01' ? { ...n, rollouts: [resnetPaused()] } : n));
}

/** fraud 3 → 5, shadow on gpu01, completed: the shadow test passed (traffic never moved). */
export function shadowCompleted(): Rollout {
  const f = figures('gpu01', { disagreement: 0.002 });
  return Rollout.parse({
    id: 'ro-55555555-4444-4333-8222-111111111111', name: 'fraud', to: '5', from: '3', strategy: 'shadow', state: 'completed', step: 0,
    plan: [{ index: 0, weights: { gpu01: 0 }, note: 'the candidate gets a copy of every request' }],
    step_started_at: T0 - 10 * MIN, waits: 0,
    nodes: [{ name: 'gpu01', url: 'ws://gpu01:7070', stable: '3', previous_targets: [{ version: '3', weight: 100 }], weight: 0, state: 'done', touched: true, error: null }],
    spec: spec({ to: '5', strategy: 'shadow', steps: [10, 50, 100], gate: undefined }),
    decisions: [
      dec(T0 - 11 * MIN, -1, 'plan', 'info', 'shadow on gpu01', { plan: [{ index: 0, weights: { gpu01: 0 }, note: 'the candidate gets a copy of every request' }], warnings: [] }, 'dave'),
      dec(T0 - 10 * MIN, 0, 'step', 'ok', 'step 1 of 1', { weights: { gpu01: 0 } }),
      dec(T0 - 5 * MIN, 0, 'analysis', 'pass', 'within thresholds on gpu01', [f]),
      dec(T0 - 5 * MIN, 0, 'done', 'ok', 'shadow test passed: 5 answered like 3 within the thresholds'),
    ],
    reason: null, created_at: T0 - 11 * MIN, updated_at: T0 - 5 * MIN, created_by: 'dave', warnings: [],
  });
}
