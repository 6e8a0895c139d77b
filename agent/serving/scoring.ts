/**
 * Scoring a model on a labelled test set — pure: predictions and labels in, metrics out.
 * The task follows the output: an output [batch, C > 1] is a classifier (the prediction is the argmax); a single output
 * with labels that are all 0 or 1 is a binary classifier (prediction = output ≥ 0.5); anything else is a regressor.
 */

/** Metrics of one evaluation; the ones that do not apply to the task are null. */
export interface EvalMetrics { task: 'classification' | 'regression'; accuracy: number | null; f1: number | null; mae: number | null; rmse: number | null }

/** Accuracy and macro-averaged F1 over the classes present in the labels or the predictions (sklearn's f1_score average='macro'). */
export function classificationMetrics(pred: readonly number[], labels: readonly number[]): EvalMetrics {
  if (pred.length !== labels.length || pred.length === 0) throw new RangeError('classificationMetrics: predictions and labels must be non-empty and of equal length');
  let right = 0;
  const classes = [...new Set([...labels, ...pred])].sort((a, b) => a - b);
  const tp = new Map<number, number>(); const fp = new Map<number, number>(); const fn = new Map<number, number>();
  for (let i = 0; i < pred.length; i++) {
    if (pred[i] === labels[i]) { right++; tp.set(pred[i], (tp.get(pred[i]) ?? 0) + 1); }
    else { fp.set(pred[i], (fp.get(pred[i]) ?? 0) + 1); fn.set(labels[i], (fn.get(labels[i]) ?? 0) + 1); }
  }
  let f1sum = 0;
  for (const c of classes) {
    const t = tp.get(c) ?? 0; const p = fp.get(c) ?? 0; const n = fn.get(c) ?? 0;
    f1sum += t === 0 ? 0 : (2 * t) / (2 * t + p + n);
  }
  return { task: 'classification', accuracy: right / pred.length, f1: f1sum / classes.length, mae: null, rmse: null };
}

/** Mean absolute error and root mean squared error. */
export function regressionMetrics(pred: readonly number[], labels: readonly number[]): EvalMetrics {
  if (pred.length !== labels.length || pred.length === 0) throw new RangeError('regressionMetrics: predictions and labels must be non-empty and of equal length');
  let abs = 0; let sq = 0;
  for (let i = 0; i < pred.length; i++) { const d = pred[i] - labels[i]; abs += Math.abs(d); sq += d * d; }
  return { task: 'regression', accuracy: null, f1: null, mae: abs / pred.length, rmse: Math.sqrt(sq / pred.length) };
}

/** Scores raw model outputs (row-major, `width` values per row) against labels, choosing the task as described above. */
export function scoreOutputs(out: ArrayLike<number>, width: number, labels: readonly number[]): EvalMetrics {
  const n = labels.length;
  // A prediction that is not a number (NaN anywhere in its row) is class -1: always wrong, never a label.
  if (width > 1) {
    const pred: number[] = [];
    for (let r = 0; r < n; r++) {
      let best = 0; let nan = false;
      for (let c = 0; c < width; c++) { const v = out[r * width + c]; if (!Number.isFinite(v)) nan = true; if (c > 0 && v > out[r * width + best]) best = c; }
      pred.push(nan ? -1 : best);
    }
    return classificationMetrics(pred, labels);
  }
  const vals = Array.from({ length: n }, (_, r) => Number(out[r]));
  if (labels.every((l) => l === 0 || l === 1)) return classificationMetrics(vals.map((v) => (!Number.isFinite(v) ? -1 : v >= 0.5 ? 1 : 0)), labels);
  return regressionMetrics(vals, labels);
}

/** Whether a metric is better when higher. */
export const higherIsBetter = (m: 'accuracy' | 'f1' | 'mae' | 'rmse') => m === 'accuracy' || m === 'f1';
