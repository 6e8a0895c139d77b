// The seeded "credit" dataset of the drift demo (`npm run demo`) and the drift tests: four numeric features fed to
// test/fixtures/models/logreg.onnx (4 inputs [batch, 4] → 1 probability). Normal traffic draws each feature from
// its reference distribution; drifted traffic moves chosen features by a number of standard deviations.
import { normalRows } from '../../shared/util/prng.js';

/** The credit features (logreg.onnx: 4 inputs → 1 probability): names in input order, means and standard deviations. */
export const CREDIT: { readonly names: readonly string[]; readonly means: readonly number[]; readonly stds: readonly number[] } = {
  names: ['income', 'age', 'debt_ratio', 'tenure'],
  means: [0.5, -0.2, 0.1, 0.3],
  stds: [1, 0.8, 1.2, 0.5],
};

/** The features the demo and the drift tests shift, and by how many standard deviations. */
export const CREDIT_SHIFTED: readonly string[] = ['income', 'debt_ratio'];
export const CREDIT_SHIFT_STDS = 3;

/**
 * n rows of credit features from `rnd` (a seeded uniform source, shared/util/prng.ts mulberry32).
 * `shift` moves named features by that many of their standard deviations (e.g. { income: 3 }).
 */
export function creditRows(rnd: () => number, n: number, shift: Readonly<Record<string, number>> = {}): number[][] {
  for (const k of Object.keys(shift)) if (!CREDIT.names.includes(k)) throw new RangeError(`creditRows: no credit feature "${k}" (features: ${CREDIT.names.join(', ')})`);
  const add = CREDIT.names.map((name, j) => (shift[name] ?? 0) * CREDIT.stds[j]);
  return normalRows(rnd, n, CREDIT.means, CREDIT.stds).map((r) => r.map((v, j) => v + add[j]));
}

/** The shift of the demo and the tests: CREDIT_SHIFTED moved by CREDIT_SHIFT_STDS standard deviations. */
export const CREDIT_DRIFT: Readonly<Record<string, number>> = Object.fromEntries(CREDIT_SHIFTED.map((f) => [f, CREDIT_SHIFT_STDS]));

/** CSV text with a header row, one line per row, ending in a newline. */
export const csvOf = (header: readonly string[], rows: readonly (readonly number[])[]): string =>
  [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';
