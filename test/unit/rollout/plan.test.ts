import { describe, expect, it } from 'vitest';
import { judgeGate, judgeStep, planSteps, targetsFor } from '../../../agent/rollout/plan.js';
import type { AnalysisFigures, AnalysisSpec } from '../../../shared/protocol/index.js';

const NODES = ['a', 'b', 'c'] as const;

/** The protocol defaults, written out so a change of default does not silently change these tests. */
const SPEC: AnalysisSpec = { max_error_rate: 0.01, max_p95_ratio: 1.5, max_drift: 0.2, min_requests: 100, max_waits: 3 };

/** Figures of a healthy node that has served enough requests. */
function fig(node: string, over: Partial<AnalysisFigures> = {}): AnalysisFigures {
  return {
    node, candidate_requests: 500, stable_requests: 4500,
    candidate_error_rate: 0.001, stable_error_rate: 0.001,
    candidate_p95_us: 10_000, stable_p95_us: 9_000, p95_ratio: 1.1,
    input_drift: 0.05, output_drift: 0.05, disagreement: null,
    ...over,
  };
}

describe('planSteps', () => {
  it('canary: one step per traffic share, every node at that share, in order', () => {
    const plan = planSteps('canary', NODES, [10, 50, 100], 1);
    expect(plan.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(plan.map((s) => s.weights)).toEqual([
      { a: 10, b: 10, c: 10 },
      { a: 50, b: 50, c: 50 },
      { a: 100, b: 100, c: 100 },
    ]);
    expect(plan[0].note).toBe('10 % of traffic to the candidate on each of 3 nodes');
  });

  it('canary on one node names it in the note', () => {
    const plan = planSteps('canary', ['gpu1'], [25, 100], 1);
    expect(plan.map((s) => s.weights)).toEqual([{ gpu1: 25 }, { gpu1: 100 }]);
    expect(plan[0].note).toBe('25 % of traffic to the candidate on gpu1');
  });

  it('canary ignores max_unavailable', () => {
    expect(planSteps('canary', NODES, [10, 100], 2)).toEqual(planSteps('canary', NODES, [10, 100], 1));
  });

  it('rolling with max_unavailable 1 over 3 nodes: three waves, one node each, earlier nodes stay switched', () => {
    const plan = planSteps('rolling', NODES, [10, 50, 100], 1);
    expect(plan.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(plan.map((s) => s.weights)).toEqual([
      { a: 100, b: 0, c: 0 },
      { a: 100, b: 100, c: 0 },
      { a: 100, b: 100, c: 100 },
    ]);
    expect(plan.map((s) => s.note)).toEqual(['wave 1: a switches', 'wave 2: b switches', 'wave 3: c switches']);
  });

  it('rolling with max_unavailable 2 over 3 nodes: two waves, the last one shorter', () => {
    const plan = planSteps('rolling', NODES, [], 2);
    expect(plan.map((s) => s.index)).toEqual([0, 1]);
    expect(plan.map((s) => s.weights)).toEqual([
      { a: 100, b: 100, c: 0 },
      { a: 100, b: 100, c: 100 },
    ]);
    expect(plan.map((s) => s.note)).toEqual(['wave 1: a, b switch', 'wave 2: c switches']);
  });

  it('rolling with max_unavailable at least the node count is a single wave of every node', () => {
    const plan = planSteps('rolling', NODES, [], 5);
    expect(plan).toHaveLength(1);
    expect(plan[0].weights).toEqual({ a: 100, b: 100, c: 100 });
    expect(plan[0].note).toBe('wave 1: a, b, c switch');
  });

  it('rolling never switches a node back and every node ends at 100 %', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
    for (const mu of [1, 2, 3, 4, 5]) {
      const plan = planSteps('rolling', nodes, [], mu);
      expect(plan).toHaveLength(Math.ceil(nodes.length / mu));
      for (let i = 1; i < plan.length; i++) for (const n of nodes) expect(plan[i].weights[n]).toBeGreaterThanOrEqual(plan[i - 1].weights[n]);
      for (const s of plan) for (const n of nodes) expect([0, 100]).toContain(s.weights[n]);
      expect(Object.values(plan[plan.length - 1].weights).every((w) => w === 100)).toBe(true);
      // each wave switches at most max_unavailable nodes
      for (let i = 0; i < plan.length; i++) {
        const switched = nodes.filter((n) => plan[i].weights[n] === 100 && (i === 0 || plan[i - 1].weights[n] === 0));
        expect(switched.length).toBeGreaterThan(0);
        expect(switched.length).toBeLessThanOrEqual(mu);
      }
    }
  });

  it('all-at-once: one step with every node at 100 %, whatever the steps', () => {
    const plan = planSteps('all-at-once', NODES, [10, 50, 100], 1);
    expect(plan).toHaveLength(1);
    expect(plan[0].index).toBe(0);
    expect(plan[0].weights).toEqual({ a: 100, b: 100, c: 100 });
  });

  it('shadow: one step that moves no traffic', () => {
    const plan = planSteps('shadow', NODES, [10, 50, 100], 1);
    expect(plan).toHaveLength(1);
    expect(plan[0].index).toBe(0);
    expect(plan[0].weights).toEqual({ a: 0, b: 0, c: 0 });
    expect(plan[0].note).toMatch(/copy of every request/);
  });
});

describe('targetsFor', () => {
  it('at 0 % the stable version takes all traffic', () => {
    expect(targetsFor('v2', 'v1', 0)).toEqual([{ version: 'v1', weight: 100 }]);
  });

  it('at 10 % the stable version keeps 90 and the candidate gets 10', () => {
    expect(targetsFor('v2', 'v1', 10)).toEqual([{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }]);
  });

  it('the weights always add up to 100', () => {
    for (const w of [1, 10, 33, 50, 99]) expect(targetsFor('v2', 'v1', w).reduce((s, t) => s + t.weight, 0)).toBe(100);
  });

  it('at 100 % the candidate alone serves', () => {
    expect(targetsFor('v2', 'v1', 100)).toEqual([{ version: 'v2', weight: 100 }]);
  });

  it('with no stable version the candidate alone serves, at any weight', () => {
    for (const w of [0, 10, 100]) expect(targetsFor('v2', null, w)).toEqual([{ version: 'v2', weight: 100 }]);
  });
});

describe('judgeStep', () => {
  it('passes when every node is within every threshold, naming the nodes', () => {
    const v = judgeStep([fig('a'), fig('b')], SPEC);
    expect(v.outcome).toBe('pass');
    expect(v.reason).toBe('within thresholds on a, b');
  });

  it('figures exactly at a threshold do not fail', () => {
    const v = judgeStep([fig('a', { candidate_error_rate: 0.01, p95_ratio: 1.5, input_drift: 0.2, output_drift: 0.2, disagreement: 0.01 })], SPEC);
    expect(v.outcome).toBe('pass');
  });

  it('a node below min_requests is not judged: its bad figures do not fail, the step waits', () => {
    const v = judgeStep([
      fig('a'),
      fig('b', { candidate_requests: 40, candidate_error_rate: 0.9, p95_ratio: 10, input_drift: 5, output_drift: 5, disagreement: 0.9 }),
    ], SPEC);
    expect(v.outcome).toBe('wait');
    expect(v.reason).toContain('b: 40 of 100 requests');
    expect(v.reason).not.toContain('a:');
  });

  it('a node at exactly min_requests is judged', () => {
    expect(judgeStep([fig('a', { candidate_requests: 100 })], SPEC).outcome).toBe('pass');
    expect(judgeStep([fig('a', { candidate_requests: 100, candidate_error_rate: 0.5 })], SPEC).outcome).toBe('fail');
    expect(judgeStep([fig('a', { candidate_requests: 99 })], SPEC).outcome).toBe('wait');
  });

  it('waits listing every short node', () => {
    const v = judgeStep([fig('a', { candidate_requests: 0 }), fig('b', { candidate_requests: 12 })], SPEC);
    expect(v.outcome).toBe('wait');
    expect(v.reason).toContain('a: 0 of 100 requests');
    expect(v.reason).toContain('b: 12 of 100 requests');
  });

  it('a failing judged node fails the step even while another node is short', () => {
    const v = judgeStep([fig('a', { candidate_requests: 3 }), fig('b', { candidate_error_rate: 0.05 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toContain('b: error rate 5.00 % > 1.00 %');
    expect(v.reason).not.toContain('a:');
  });

  it('fails on the candidate error rate, naming the node and the rate', () => {
    const v = judgeStep([fig('a'), fig('b', { candidate_error_rate: 0.025 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toBe('b: error rate 2.50 % > 1.00 %');
  });

  it('fails on the p95 latency ratio, naming the node and the ratio', () => {
    const v = judgeStep([fig('a', { p95_ratio: 2.345 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toContain('a: p95 latency 2.35×');
    expect(v.reason).toContain('> 1.5×');
  });

  it('fails on input drift, naming the node and the score', () => {
    const v = judgeStep([fig('c', { input_drift: 0.31 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toBe('c: input drift 0.310 > 0.2');
  });

  it('fails on output drift, naming the node and the score', () => {
    const v = judgeStep([fig('c', { output_drift: 0.4567 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toMatch(/^c: output drift 0\.457 .*> 0\.2$/);
    expect(v.reason).not.toContain('input drift');
  });

  it('fails on shadow disagreement above max_error_rate, naming the node and the share', () => {
    const v = judgeStep([fig('a', { disagreement: 0.125 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toContain('a: answers differ');
    expect(v.reason).toContain('12.50 %');
    expect(v.reason).toContain('> 1.00 %');
  });

  it('lists every broken threshold of every node', () => {
    const v = judgeStep([fig('a', { candidate_error_rate: 0.02, input_drift: 0.5 }), fig('b', { p95_ratio: 3 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toContain('a: error rate 2.00 %');
    expect(v.reason).toContain('a: input drift 0.500');
    expect(v.reason).toContain('b: p95 latency 3.00×');
    expect(v.reason.split('; ')).toHaveLength(3);
  });

  it('figures that could not be measured (null) never fail', () => {
    const v = judgeStep([fig('a', { candidate_error_rate: null, p95_ratio: null, input_drift: null, output_drift: null, disagreement: null }), fig('b', { disagreement: undefined })], SPEC);
    expect(v.outcome).toBe('pass');
  });

  it('a null figure does not hide a broken one next to it', () => {
    const v = judgeStep([fig('a', { candidate_error_rate: null, p95_ratio: null, input_drift: null, output_drift: 0.9 })], SPEC);
    expect(v.outcome).toBe('fail');
    expect(v.reason).toContain('a: output drift 0.900');
  });

  it('uses the thresholds of the spec it is given', () => {
    const strict: AnalysisSpec = { ...SPEC, max_error_rate: 0.0005, min_requests: 1000 };
    expect(judgeStep([fig('a')], strict).outcome).toBe('wait');
    expect(judgeStep([fig('a', { candidate_requests: 1000 })], strict).outcome).toBe('fail');
    const loose: AnalysisSpec = { ...SPEC, max_p95_ratio: 5, max_drift: 1 };
    expect(judgeStep([fig('a', { p95_ratio: 4, input_drift: 0.9, output_drift: 0.9 })], loose).outcome).toBe('pass');
  });
});

describe('judgeGate', () => {
  describe('higher is better (accuracy, f1)', () => {
    it('fails below the bound', () => {
      const v = judgeGate('accuracy', 0.9, 0.01, 0.85, null);
      expect(v.outcome).toBe('fail');
      expect(v.reason).toBe('accuracy 0.85 < 0.9 (the gate)');
    });

    it('passes at or above the bound when there is no current version', () => {
      expect(judgeGate('accuracy', 0.9, 0.01, 0.9, null)).toEqual({ outcome: 'pass', reason: 'accuracy 0.9 ≥ 0.9' });
      expect(judgeGate('f1', 0.8, 0.01, 0.95, null).outcome).toBe('pass');
    });

    it('fails when the candidate is worse than the current version by more than max_regression', () => {
      const v = judgeGate('f1', 0.5, 0.01, 0.8, 0.9);
      expect(v.outcome).toBe('fail');
      expect(v.reason).toBe('f1 0.8 is 0.1 worse than the current version\'s 0.9 (allowed: 0.01)');
    });

    it('passes a regression within max_regression', () => {
      const v = judgeGate('accuracy', 0.5, 0.05, 0.875, 0.9);
      expect(v.outcome).toBe('pass');
      expect(v.reason).toBe('accuracy 0.875 ≥ 0.5; current version 0.9');
    });

    it('passes a regression of exactly max_regression (exact binary fractions)', () => {
      expect(judgeGate('accuracy', 0.5, 0.25, 0.5, 0.75).outcome).toBe('pass');
    });

    // Accuracies are k/rows (90/100 vs 89/100): 0.9 - 0.89 is 0.010000000000000009 in floats, which must still pass 0.01.
    it('passes a regression of exactly max_regression (0.9 → 0.89, allowed 0.01)', () => {
      expect(judgeGate('accuracy', 0.5, 0.01, 0.89, 0.9).outcome).toBe('pass');
    });

    it('a candidate better than the current version passes', () => {
      expect(judgeGate('accuracy', 0.5, 0, 0.95, 0.9).outcome).toBe('pass');
    });

    it('the bound is checked before the regression', () => {
      const v = judgeGate('accuracy', 0.9, 0.01, 0.7, 0.95);
      expect(v.outcome).toBe('fail');
      expect(v.reason).toContain('(the gate)');
    });
  });

  describe('lower is better (mae, rmse)', () => {
    it('fails above the bound', () => {
      const v = judgeGate('mae', 0.5, 0.01, 0.75, null);
      expect(v.outcome).toBe('fail');
      expect(v.reason).toBe('mae 0.75 > 0.5 (the gate)');
    });

    it('passes at or below the bound when there is no current version', () => {
      expect(judgeGate('rmse', 0.5, 0.01, 0.5, null)).toEqual({ outcome: 'pass', reason: 'rmse 0.5 ≤ 0.5' });
      expect(judgeGate('mae', 0.5, 0.01, 0.1, null).outcome).toBe('pass');
    });

    it('a small error is not mistaken for a failure (direction is not that of accuracy)', () => {
      expect(judgeGate('rmse', 0.9, 0.01, 0.1, 0.1).outcome).toBe('pass');
      expect(judgeGate('rmse', 0.9, 0.01, 0.95, null).outcome).toBe('fail');
    });

    it('fails when the candidate error exceeds the current one by more than max_regression', () => {
      const v = judgeGate('rmse', 1, 0.05, 0.5, 0.25);
      expect(v.outcome).toBe('fail');
      expect(v.reason).toBe('rmse 0.5 is 0.25 worse than the current version\'s 0.25 (allowed: 0.05)');
    });

    it('passes an increase within max_regression, and a decrease', () => {
      expect(judgeGate('mae', 1, 0.25, 0.5, 0.375).outcome).toBe('pass');
      expect(judgeGate('mae', 1, 0.25, 0.5, 0.25).outcome).toBe('pass'); // exactly max_regression
      expect(judgeGate('mae', 1, 0, 0.2, 0.4).outcome).toBe('pass');
    });

    it('rounds figures in the reason to 4 decimals', () => {
      expect(judgeGate('mae', 0.1, 0.01, 0.123456, null).reason).toBe('mae 0.1235 > 0.1 (the gate)');
    });
  });
});
