import { describe, expect, it } from 'vitest';
import { classificationMetrics, higherIsBetter, regressionMetrics, scoreOutputs } from '../../../agent/serving/scoring.js';

/**
 * Expected values are worked out by hand below (per-class F1 = 2·tp / (2·tp + fp + fn), macro = unweighted mean over
 * the classes present in the labels or the predictions, as sklearn.metrics.f1_score(average='macro') with labels=None).
 * sklearn was not installed on the machine these tests were written on (neither `python3` nor `/usr/bin/python3`
 * could `import sklearn`), so no value here was produced by it; case 2 is the example of sklearn's f1_score docstring,
 * whose documented macro result is 0.2666….
 */
describe('classificationMetrics', () => {
  it('perfect predictions: accuracy 1, macro F1 1, regression figures null', () => {
    expect(classificationMetrics([0, 1, 2, 1], [0, 1, 2, 1])).toEqual({ task: 'classification', accuracy: 1, f1: 1, mae: null, rmse: null });
  });

  it('case 2 — y_true [0,1,2,0,1,2], y_pred [0,2,1,0,0,1]', () => {
    // class 0: tp 2, fp 1 (row 4), fn 0 → 4/5; class 1: tp 0 → 0; class 2: tp 0 → 0. macro = 0.8 / 3.
    const m = classificationMetrics([0, 2, 1, 0, 0, 1], [0, 1, 2, 0, 1, 2]);
    expect(m.accuracy).toBeCloseTo(2 / 6, 12);
    expect(m.f1).toBeCloseTo(0.8 / 3, 12);
    expect(m.f1).toBeCloseTo(0.26666666666666666, 12);
  });

  it('binary, imbalanced: macro F1 averages both classes (not the positive class alone, not weighted)', () => {
    const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    const pred = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0];
    // class 1: tp 2, fp 1, fn 2 → 4/7; class 0: tp 5, fp 2, fn 1 → 10/13. macro = (4/7 + 10/13) / 2 = 61/91.
    const m = classificationMetrics(pred, labels);
    expect(m.accuracy).toBeCloseTo(7 / 10, 12);
    expect(m.f1).toBeCloseTo(61 / 91, 12);
    expect(m.f1).not.toBeCloseTo(4 / 7, 3); // binary F1 of class 1
    expect(m.f1).not.toBeCloseTo(0.4 * (4 / 7) + 0.6 * (10 / 13), 3); // support-weighted F1
  });

  it('a class that only appears in the predictions counts, with F1 0', () => {
    // labels [0,0,1,1], pred [0,0,1,2]: class 0 → 1; class 1: tp 1, fn 1 → 2/3; class 2: tp 0, fp 1 → 0. macro = 5/9.
    const m = classificationMetrics([0, 0, 1, 2], [0, 0, 1, 1]);
    expect(m.accuracy).toBeCloseTo(3 / 4, 12);
    expect(m.f1).toBeCloseTo(5 / 9, 12);
  });

  it('a class that only appears in the labels counts, with F1 0', () => {
    // labels [0,1,2,2], pred [0,1,1,1]: class 0 → 1; class 1: tp 1, fp 2 → 2/4; class 2: tp 0 → 0. macro = 1.5/3.
    const m = classificationMetrics([0, 1, 1, 1], [0, 1, 2, 2]);
    expect(m.accuracy).toBeCloseTo(2 / 4, 12);
    expect(m.f1).toBeCloseTo(0.5, 12);
  });

  it('labels need not be 0..C-1', () => {
    // labels [3,7,7,9], pred [3,7,9,9]: class 3 → 1; class 7: tp 1, fn 1 → 2/3; class 9: tp 1, fp 1 → 2/3. macro = 7/9.
    const m = classificationMetrics([3, 7, 9, 9], [3, 7, 7, 9]);
    expect(m.accuracy).toBeCloseTo(3 / 4, 12);
    expect(m.f1).toBeCloseTo(7 / 9, 12);
  });

  it('everything wrong: accuracy 0 and F1 0', () => {
    expect(classificationMetrics([0, 0], [1, 1])).toMatchObject({ accuracy: 0, f1: 0 });
  });

  it('does not depend on the order of the rows', () => {
    const pred = [1, 1, 0, 0, 1, 2, 2, 0];
    const labels = [1, 0, 0, 2, 1, 2, 1, 0];
    const order = [7, 2, 5, 0, 3, 6, 1, 4];
    const a = classificationMetrics(pred, labels);
    const b = classificationMetrics(order.map((i) => pred[i]), order.map((i) => labels[i]));
    expect(b.accuracy).toBeCloseTo(a.accuracy!, 12);
    expect(b.f1).toBeCloseTo(a.f1!, 12);
  });

  it('rejects empty input and mismatched lengths', () => {
    expect(() => classificationMetrics([], [])).toThrow(RangeError);
    expect(() => classificationMetrics([0, 1], [0])).toThrow(RangeError);
    expect(() => classificationMetrics([0], [0, 1])).toThrow(/equal length/);
  });
});

describe('regressionMetrics', () => {
  it('MAE and RMSE, classification figures null', () => {
    // errors -1, 0, -2: MAE = 3/3 = 1; RMSE = sqrt((1 + 0 + 4) / 3).
    const m = regressionMetrics([1, 2, 3], [2, 2, 5]);
    expect(m.task).toBe('regression');
    expect(m.accuracy).toBeNull();
    expect(m.f1).toBeNull();
    expect(m.mae).toBeCloseTo(1, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('signs do not cancel', () => {
    // errors -3, +4: MAE 3.5, RMSE sqrt(25/2).
    const m = regressionMetrics([0, 0], [3, -4]);
    expect(m.mae).toBeCloseTo(3.5, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt(12.5), 12);
  });

  it('RMSE weighs large errors more than MAE does', () => {
    const m = regressionMetrics([0, 0, 0, 0], [0, 0, 0, 4]);
    expect(m.mae).toBeCloseTo(1, 12);
    expect(m.rmse).toBeCloseTo(2, 12);
  });

  it('perfect predictions give 0 and 0', () => {
    expect(regressionMetrics([1.5, -2], [1.5, -2])).toMatchObject({ mae: 0, rmse: 0 });
  });

  it('rejects empty input and mismatched lengths', () => {
    expect(() => regressionMetrics([], [])).toThrow(RangeError);
    expect(() => regressionMetrics([1, 2], [1])).toThrow(RangeError);
  });
});

describe('scoreOutputs', () => {
  it('width > 1: the prediction is the argmax of each row', () => {
    const out = new Float32Array([
      0.1, 0.7, 0.2, // → 1
      0.9, 0.05, 0.05, // → 0
      0.2, 0.3, 0.5, // → 2
      0.6, 0.3, 0.1, // → 0 (label 2: wrong)
    ]);
    const m = scoreOutputs(out, 3, [1, 0, 2, 2]);
    expect(m.task).toBe('classification');
    expect(m.accuracy).toBeCloseTo(3 / 4, 12);
    // pred [1,0,2,0] vs labels [1,0,2,2]: class 0: tp 1, fp 1 → 2/3; class 1 → 1; class 2: tp 1, fn 1 → 2/3. macro 7/9.
    expect(m.f1).toBeCloseTo(7 / 9, 12);
    expect(m.mae).toBeNull();
    expect(m.rmse).toBeNull();
  });

  it('width > 1 works on negative logits and picks the last column when it is the largest', () => {
    const m = scoreOutputs([-3, -1, -5, -4, -2, -0.5], 3, [1, 2]);
    expect(m.accuracy).toBe(1);
  });

  it('width > 1 with labels that are all 0/1 is still argmax, not a threshold', () => {
    // Two-column softmax: row 0 → 1, row 1 → 0. A 0.5 threshold on the first column would give the opposite.
    const m = scoreOutputs([0.3, 0.7, 0.8, 0.2], 2, [1, 0]);
    expect(m.task).toBe('classification');
    expect(m.accuracy).toBe(1);
  });

  it('width 1 with 0/1 labels: binary classification thresholded at 0.5 (0.5 itself is positive)', () => {
    const m = scoreOutputs([0.2, 0.5, 0.7, 0.49], 1, [0, 1, 1, 0]);
    expect(m.task).toBe('classification');
    expect(m.accuracy).toBe(1);
    expect(m.f1).toBe(1);
    expect(m.mae).toBeNull();
  });

  it('width 1 binary with mistakes', () => {
    // pred [1,0,0,1] vs labels [1,1,0,0]: accuracy 1/2; class 0: tp 1, fp 1, fn 1 → 1/2; class 1 likewise → 1/2.
    const m = scoreOutputs(new Float64Array([0.9, 0.1, 0.3, 0.6]), 1, [1, 1, 0, 0]);
    expect(m.accuracy).toBeCloseTo(0.5, 12);
    expect(m.f1).toBeCloseTo(0.5, 12);
  });

  it('width 1 with labels all 0 is still binary classification', () => {
    const m = scoreOutputs([0.1, 0.8], 1, [0, 0]);
    expect(m.task).toBe('classification');
    expect(m.accuracy).toBeCloseTo(0.5, 12);
  });

  it('width 1 with labels other than 0/1: regression on the raw outputs', () => {
    const m = scoreOutputs(new Float32Array([1, 2, 3]), 1, [2, 2, 5]);
    expect(m.task).toBe('regression');
    expect(m.accuracy).toBeNull();
    expect(m.f1).toBeNull();
    expect(m.mae).toBeCloseTo(1, 6);
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 3), 6);
  });

  it('width 1 with fractional labels between 0 and 1 is regression', () => {
    const m = scoreOutputs([0.25, 0.75], 1, [0.5, 1]);
    expect(m.task).toBe('regression');
    expect(m.mae).toBeCloseTo(0.25, 12);
  });

  it('errors on an empty test set', () => {
    expect(() => scoreOutputs([], 1, [])).toThrow(RangeError);
    expect(() => scoreOutputs([], 3, [])).toThrow(RangeError);
  });
});

describe('higherIsBetter', () => {
  it('accuracy and f1 are higher-is-better, mae and rmse are not', () => {
    expect(higherIsBetter('accuracy')).toBe(true);
    expect(higherIsBetter('f1')).toBe(true);
    expect(higherIsBetter('mae')).toBe(false);
    expect(higherIsBetter('rmse')).toBe(false);
  });
});

describe('scoreOutputs with NaN predictions', () => {
  it('counts a NaN prediction as a wrong class (binary threshold and argmax), so a broken classifier cannot pass a gate', () => {
    const bin = scoreOutputs([NaN, NaN, 0.9, 0.1], 1, [0, 1, 1, 0]);
    expect(bin.accuracy).toBe(0.5);
    const arg = scoreOutputs([NaN, 0.2, 0.9, 0.1], 2, [0, 0]);
    expect(arg.accuracy).toBe(0.5);
    expect(scoreOutputs([NaN, NaN], 1, [0, 1]).accuracy).toBe(0);
  });
});
