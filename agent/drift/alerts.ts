/**
 * The drift alert state machine of one model version — pure: the monitor feeds it each window's judgement and applies
 * the decision (stores it in the same SQLite transaction as the window's judgement, then emits it).
 *
 *                 drifting window, consecutive + 1 < alert_after: none (consecutive + 1)
 *                 ┌─────────┐
 *                 │         ▼
 *            ┌────┴────────────┐  drifting window, consecutive + 1 ≥ alert_after: raise  ┌──────────────┐
 *            │    no alert     │ ──────────────────────────────────────────────────────► │ active alert │ ─┐ drifting window:
 *            │ (consecutive n) │ ◄────────────────────────────────────────────────────── │              │ ◄┘ update (n + 1)
 *            └────┬────────────┘  window in range: resolve (consecutive 0)               └──────────────┘
 *                 │         ▲
 *                 └─────────┘
 *                 window in range: none (consecutive 0)
 *
 * - A window drifts when its dataset drifts (drift share of the judged input features at or above drift_share) or its
 *   predictions drift.
 * - A window that cannot be judged (no reference, fewer than drift.min_rows rows, a window without data) changes
 *   nothing, in either state: it neither counts towards an alert nor resolves one.
 * - An active alert is updated by every further drifting window, whatever the count (after a restart or a new
 *   reference the count starts again below alert_after while the alert stays active).
 * Outside this machine (in the monitor): a new reference resets the count to 0 (the alert stays); an alert of a
 * version removed, or without any bucket for alert_after + 1 bucket lengths, is resolved ("no traffic").
 */

/** What the machine knows of a version: drifting windows in a row, and whether an alert is active. */
export interface AlertState { consecutive: number; active: boolean }

/** What it needs of a window's judgement (a DriftPoint has these fields). */
export interface WindowVerdict { judged: boolean; dataset_drift: boolean; prediction_drift: boolean }

/**
 * raise: store a new alert; update: refresh the active alert's figures; resolve: resolve the active alert; none: no
 * alert change. `consecutive` is the version's new count in every case.
 */
export type AlertDecision = { kind: 'raise' | 'update' | 'resolve' | 'none'; consecutive: number };

/** The next step of the alert state machine for one judged (or unjudged) window; alertAfter ≥ 1. */
export function nextAlert(prev: AlertState, w: WindowVerdict, alertAfter: number): AlertDecision {
  if (!w.judged) return { kind: 'none', consecutive: prev.consecutive };
  if (w.dataset_drift || w.prediction_drift) {
    const consecutive = prev.consecutive + 1;
    if (prev.active) return { kind: 'update', consecutive };
    return { kind: consecutive >= alertAfter ? 'raise' : 'none', consecutive };
  }
  return { kind: prev.active ? 'resolve' : 'none', consecutive: 0 };
}

/**
 * The count of a version's trailing drifting windows (judged ones, oldest first), as the machine would have reached
 * it: what an agent restart resumes from.
 */
export function trailingConsecutive(points: readonly WindowVerdict[]): number {
  let c = 0;
  for (const p of points) c = nextAlert({ consecutive: c, active: false }, p, Infinity).consecutive;
  return c;
}

/** The message of a raised alert. */
export function alertMessage(p: { name: string; version: string; drifted: readonly string[]; judgedInputs: number; prediction_drift: boolean; predictions: readonly string[]; consecutive: number; bucket_s: number }): string {
  return `${p.name} ${p.version}: ` + (p.drifted.length > 0 ? `drift in ${p.drifted.length} of ${p.judgedInputs} input features (${p.drifted.join(', ')})` : 'no input feature drifts')
    + (p.prediction_drift ? `; predictions drifted (${p.predictions.join(', ')})` : '') + ` for ${p.consecutive} consecutive windows of ${p.bucket_s} s`;
}
