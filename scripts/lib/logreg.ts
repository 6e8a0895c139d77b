// Pure logistic regression for the retraining job (scripts/train-logreg.ts): CSV parsing with precise errors, a
// deterministic hold-out split, an L2-regularised Newton (IRLS) fit on standardised features, the standardisation
// folded back into raw-feature weights, and classification metrics. No I/O, no randomness: the same rows give the
// same weights, bit for bit.

/** A bad dataset: the message says what is wrong and where (row numbers count the header as line 1). */
export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** The fewest data rows the script trains on (a hold-out of 20 % needs a few rows to mean anything). */
export const MIN_ROWS = 10;

/** A parsed dataset: feature names in column order (label excluded), rows of numbers, labels 0/1. */
export interface Dataset { features: string[]; x: number[][]; y: number[] }

const unquote = (s: string): string => { const t = s.trim(); return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t; };

/**
 * Parses CSV text: a header of column names, one of them `label` (0/1; by convention the last), every other column a
 * numeric feature, in header order (that order is the model's input order). Blank lines are skipped; CRLF is fine.
 * `features` picks the feature columns and their order instead (other columns are then ignored: ids, timestamps).
 * Throws DatasetError on a missing label or feature column, a duplicate or empty column name, a row of the wrong
 * width, a non-numeric or non-finite cell, a label other than 0/1, fewer than MIN_ROWS rows or a single class.
 */
export function parseCsv(text: string, o: { features?: readonly string[] } = {}): Dataset {
  const lines = text.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) throw new DatasetError('the dataset is empty (expected a header line with feature names and a final "label" column)');
  const header = lines[headerAt].split(',').map(unquote);
  const labelAt = header.indexOf('label');
  if (labelAt < 0) throw new DatasetError(`no "label" column in the header (columns: ${header.join(', ')}); add a final label column of 0/1`);
  const seen = new Set<string>();
  for (const [i, h] of header.entries()) {
    if (h === '') throw new DatasetError(`column ${i + 1} of the header has no name`);
    if (seen.has(h)) throw new DatasetError(`column "${h}" appears twice in the header`);
    seen.add(h);
  }
  if (header.length < 2) throw new DatasetError('the header has only the label column: at least one feature is needed');
  const features = o.features ? [...o.features] : header.filter((_, i) => i !== labelAt);
  if (features.length === 0) throw new DatasetError('no feature columns chosen');
  const missing = features.filter((f) => f === 'label' || !header.includes(f));
  if (missing.length) throw new DatasetError(`feature column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not in the header (columns: ${header.join(', ')})`);
  if (new Set(features).size !== features.length) throw new DatasetError(`a feature is named twice in ${features.join(',')}`);
  const cols = features.map((f) => header.indexOf(f));
  const x: number[][] = [], y: number[] = [];
  for (let li = headerAt + 1; li < lines.length; li++) {
    const line = lines[li];
    if (line.trim() === '') continue;
    const cells = line.split(',');
    if (cells.length !== header.length) throw new DatasetError(`line ${li + 1}: ${cells.length} cells, the header has ${header.length}`);
    const cell = (j: number): number => {
      const raw = unquote(cells[j]);
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new DatasetError(`line ${li + 1}, column "${header[j]}": "${raw.slice(0, 40)}" is not a finite number`);
      if (j === labelAt && v !== 0 && v !== 1) throw new DatasetError(`line ${li + 1}: label ${raw} is not 0 or 1`);
      return v;
    };
    // cells checked in column order, so the first bad cell of a line is the one named
    const row = new Array<number>(cols.length);
    let label = 0;
    for (let j = 0; j < cells.length; j++) {
      if (j === labelAt) label = cell(j);
      else { const at = cols.indexOf(j); if (at >= 0) row[at] = cell(j); }
    }
    x.push(row);
    y.push(label);
  }
  if (x.length < MIN_ROWS) throw new DatasetError(`only ${x.length} data rows; at least ${MIN_ROWS} are needed`);
  const pos = y.reduce((a, b) => a + b, 0);
  if (pos === 0 || pos === y.length) throw new DatasetError(`every label is ${y[0]}: both classes (0 and 1) are needed to fit a classifier`);
  return { features, x, y };
}

/** Deterministic hold-out: every `every`-th row (rows every-1, 2·every-1, …) is held out; default 5 → 20 %. */
export function splitHoldout(n: number, every = 5): { train: number[]; holdout: number[] } {
  const train: number[] = [], holdout: number[] = [];
  for (let i = 0; i < n; i++) (i % every === every - 1 ? holdout : train).push(i);
  return { train, holdout };
}

/** A fitted model on raw features: p = sigmoid(x·weights + bias). */
export interface LogregModel { weights: number[]; bias: number; iterations: number; converged: boolean }

/** Options of the fit, with their defaults. */
export interface FitOptions {
  /** L2 penalty on the standardised weights (not the intercept), added to the summed log-loss as l2/2·‖w‖² (default 1). */
  l2?: number;
  /** Newton iterations at most (default 50). */
  maxIter?: number;
  /** Stop when the largest component of the Newton step is below this (default 1e-10). */
  tol?: number;
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Solves A·x = b (A symmetric positive definite, n×n, row-major copies) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const d = M[c][c];
    if (Math.abs(d) < 1e-300) throw new Error('singular Hessian (a feature may be a copy of another)');
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / d;
      if (f !== 0) for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const out = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * out[k];
    out[r] = s / M[r][r];
  }
  return out;
}

/**
 * Fits p = sigmoid(x·w + b) on `rows` of x/y: features standardised with the training rows' mean and standard
 * deviation (a constant feature gets std 1), Newton's method on the L2-regularised log-loss (the intercept is not
 * penalised; L2 keeps separable data finite), then the standardisation folded into raw-feature weights:
 * w_raw = w/σ, b_raw = b − Σ w·μ/σ.
 */
export function fitLogreg(x: readonly (readonly number[])[], y: readonly number[], o: FitOptions = {}): LogregModel {
  const l2 = o.l2 ?? 1, maxIter = o.maxIter ?? 50, tol = o.tol ?? 1e-10;
  const n = x.length, F = x[0].length;
  const mu = new Array<number>(F).fill(0), sd = new Array<number>(F).fill(0);
  for (const r of x) for (let j = 0; j < F; j++) mu[j] += r[j] / n;
  for (const r of x) for (let j = 0; j < F; j++) sd[j] += (r[j] - mu[j]) ** 2 / n;
  for (let j = 0; j < F; j++) sd[j] = sd[j] > 1e-24 ? Math.sqrt(sd[j]) : 1;
  // z rows with a leading 1 for the intercept: theta[0] is b, theta[1..F] are w
  const z = x.map((r) => [1, ...r.map((v, j) => (v - mu[j]) / sd[j])]);
  const D = F + 1;
  const theta = new Array<number>(D).fill(0);
  // objective: summed log-loss + l2/2·‖w‖² (intercept free)
  const objective = (t: number[]): number => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += z[i][k] * t[k];
      // log(1 + e^s) − y·s, computed without overflow
      f += (s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - y[i] * s;
    }
    for (let k = 1; k < D; k++) f += (l2 / 2) * t[k] * t[k];
    return f;
  };
  let iterations = 0, converged = false, f = objective(theta);
  for (; iterations < maxIter && !converged; iterations++) {
    const g = new Array<number>(D).fill(0);
    const H = Array.from({ length: D }, () => new Array<number>(D).fill(0));
    for (let i = 0; i < n; i++) {
      const zi = z[i];
      let s = 0;
      for (let k = 0; k < D; k++) s += zi[k] * theta[k];
      const p = sigmoid(s), wgt = Math.max(p * (1 - p), 1e-12), e = p - y[i];
      for (let a = 0; a < D; a++) {
        g[a] += e * zi[a];
        const wa = wgt * zi[a];
        for (let b = a; b < D; b++) H[a][b] += wa * zi[b];
      }
    }
    for (let a = 1; a < D; a++) { g[a] += l2 * theta[a]; H[a][a] += l2; }
    for (let a = 0; a < D; a++) for (let b = 0; b < a; b++) H[a][b] = H[b][a];
    const step = solve(H, g);
    // damped Newton: halve the step until the objective does not rise (a full step can overshoot far from the optimum)
    let scale = 1, next = theta.map((t, k) => t - step[k]), fNext = objective(next);
    while (fNext > f && scale > 1e-6) { scale /= 2; next = theta.map((t, k) => t - scale * step[k]); fNext = objective(next); }
    // converged: the full Newton step (the distance to the optimum, near it) is below tol
    converged = Math.max(...step.map(Math.abs)) < tol;
    if (fNext > f) { converged = true; break; } // no descent left at float precision: theta is the optimum found
    for (let k = 0; k < D; k++) theta[k] = next[k];
    f = fNext;
  }
  const weights = theta.slice(1).map((w, j) => w / sd[j]);
  const bias = theta[0] - theta.slice(1).reduce((s, w, j) => s + (w * mu[j]) / sd[j], 0);
  return { weights, bias, iterations, converged };
}

/** Probabilities of a model on rows, computed with float32 weights as the ONNX file holds them. */
export function predict(m: { weights: ArrayLike<number>; bias: number }, x: readonly (readonly number[])[]): number[] {
  return x.map((r) => {
    let s = 0;
    for (let j = 0; j < r.length; j++) s += Math.fround(r[j]) * m.weights[j];
    return sigmoid(s + m.bias);
  });
}

/** Classification metrics at threshold 0.5 (F1 of the positive class 1; log-loss with p clipped to [1e-15, 1 − 1e-15]). */
export interface ClassMetrics { accuracy: number; f1: number; precision: number; recall: number; logloss: number; rows: number; positives: number }

/** Metrics of probabilities `p` against labels `y`. */
export function classMetrics(p: readonly number[], y: readonly number[]): ClassMetrics {
  let tp = 0, fp = 0, fn = 0, correct = 0, ll = 0, positives = 0;
  for (let i = 0; i < y.length; i++) {
    const hat = p[i] > 0.5 ? 1 : 0;
    if (hat === y[i]) correct++;
    if (hat === 1 && y[i] === 1) tp++;
    if (hat === 1 && y[i] === 0) fp++;
    if (hat === 0 && y[i] === 1) fn++;
    positives += y[i];
    const q = Math.min(Math.max(p[i], 1e-15), 1 - 1e-15);
    ll -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0, recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { accuracy: y.length ? correct / y.length : 0, f1, precision, recall, logloss: y.length ? ll / y.length : 0, rows: y.length, positives };
}
