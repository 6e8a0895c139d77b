import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/util/prng.js';
import { creditRows } from '../../scripts/lib/credit-data.js';
import { classMetrics, DatasetError, fitLogreg, parseCsv, predict, splitHoldout } from '../../scripts/lib/logreg.js';

// The pure core of the retraining job (scripts/lib/logreg.ts).

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('fitLogreg', () => {
  it('recovers the coefficients of a logistic model on raw (unstandardised) features', () => {
    const rnd = mulberry32(3);
    const x = creditRows(rnd, 20_000);
    const w = [1.5, -0.7, -1.2, 2.0], b = -0.4;
    const y = x.map((r) => (rnd() < sigmoid(r.reduce((s, v, j) => s + v * w[j], b)) ? 1 : 0));
    const m = fitLogreg(x, y, { l2: 1e-3 });
    expect(m.converged).toBe(true);
    m.weights.forEach((v, j) => expect(Math.abs(v - w[j])).toBeLessThan(0.12));
    expect(Math.abs(m.bias - b)).toBeLessThan(0.12);
  });

  it('stays finite on separable data (L2) and separates it', () => {
    const x = creditRows(mulberry32(4), 500);
    const y = x.map((r) => (r[0] > 0.5 ? 1 : 0));
    const m = fitLogreg(x, y);
    expect(m.weights.every(Number.isFinite)).toBe(true);
    expect(classMetrics(predict(m, x), y).accuracy).toBeGreaterThan(0.97);
  });

  it('is deterministic to the bit', () => {
    const x = creditRows(mulberry32(5), 300);
    const y = x.map((r) => (r[2] < 0.1 ? 1 : 0));
    expect(fitLogreg(x, y)).toEqual(fitLogreg(x, y));
  });
});

describe('parseCsv', () => {
  const body = 'id,income,debt_ratio,label\n' + Array.from({ length: 12 }, (_, i) => `r${i},${i},${12 - i},${i % 2}`).join('\n') + '\n';
  it('picks named feature columns in the given order and ignores the others', () => {
    const d = parseCsv(body, { features: ['debt_ratio', 'income'] });
    expect(d.features).toEqual(['debt_ratio', 'income']);
    expect(d.x[3]).toEqual([9, 3]);
    expect(d.y.slice(0, 4)).toEqual([0, 1, 0, 1]);
  });
  it('names a missing feature column, and without `features` every non-label column must be numeric', () => {
    expect(() => parseCsv(body, { features: ['income', 'age'] })).toThrow(/feature column "age" not in the header/);
    expect(() => parseCsv(body)).toThrow(/line 2, column "id": "r0" is not a finite number/);
  });
  it('rejects a single class and accepts CRLF and a quoted header', () => {
    expect(() => parseCsv('a,label\n' + '1,1\n'.repeat(12))).toThrow(DatasetError);
    expect(() => parseCsv('a,label\n' + '1,1\n'.repeat(12))).toThrow(/both classes/);
    expect(parseCsv('"a","label"\r\n' + Array.from({ length: 10 }, (_, i) => `${i},${i % 2}`).join('\r\n')).x).toHaveLength(10);
  });
});

describe('splitHoldout and classMetrics', () => {
  it('holds out every 5th row', () => {
    const s = splitHoldout(12);
    expect(s.holdout).toEqual([4, 9]);
    expect(s.train).toHaveLength(10);
  });
  it('computes accuracy, F1 and log-loss', () => {
    const m = classMetrics([0.9, 0.8, 0.3, 0.6], [1, 0, 0, 1]);
    expect(m.accuracy).toBe(0.75);
    expect(m.precision).toBeCloseTo(2 / 3);
    expect(m.recall).toBe(1);
    expect(m.f1).toBeCloseTo(0.8);
    expect(m.logloss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.2) + Math.log(0.7) + Math.log(0.6)) / 4);
  });
});
