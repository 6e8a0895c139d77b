import { describe, expect, it } from 'vitest';
import { alertMessage, nextAlert, trailingConsecutive, type AlertState, type WindowVerdict } from '../../../agent/drift/alerts.js';

const DRIFT: WindowVerdict = { judged: true, dataset_drift: true, prediction_drift: false };
const PRED: WindowVerdict = { judged: true, dataset_drift: false, prediction_drift: true };
const OK: WindowVerdict = { judged: true, dataset_drift: false, prediction_drift: false };
/** A window that cannot be judged: no reference, too few rows, or a gap without data. */
const GAP: WindowVerdict = { judged: false, dataset_drift: false, prediction_drift: false };

/** Runs the machine over windows from no alert; returns the decision kinds and the final state. */
function run(windows: readonly WindowVerdict[], alertAfter: number, from: AlertState = { consecutive: 0, active: false }) {
  let s = from;
  const kinds: string[] = [];
  for (const w of windows) {
    const d = nextAlert(s, w, alertAfter);
    kinds.push(d.kind);
    s = { consecutive: d.consecutive, active: d.kind === 'raise' || (s.active && d.kind !== 'resolve') };
  }
  return { kinds, state: s };
}

describe('nextAlert', () => {
  it('raises after alert_after consecutive drifting windows, not before', () => {
    const r = run([DRIFT, DRIFT, DRIFT], 3);
    expect(r.kinds).toEqual(['none', 'none', 'raise']);
    expect(r.state).toEqual({ consecutive: 3, active: true });
  });

  it('counts prediction drift alone as a drifting window', () => {
    expect(run([PRED, DRIFT], 2).kinds).toEqual(['none', 'raise']);
  });

  it('updates the active alert while windows keep drifting, counting on', () => {
    expect(nextAlert({ consecutive: 3, active: true }, DRIFT, 3)).toEqual({ kind: 'update', consecutive: 4 });
    expect(run([DRIFT, DRIFT, DRIFT, PRED, DRIFT], 3).kinds).toEqual(['none', 'none', 'raise', 'update', 'update']);
  });

  it('updates an active alert even below alert_after (count restarted by a new reference or a restart)', () => {
    expect(nextAlert({ consecutive: 0, active: true }, DRIFT, 5)).toEqual({ kind: 'update', consecutive: 1 });
  });

  it('resolves the active alert at the first judged window in range and resets the count', () => {
    expect(nextAlert({ consecutive: 7, active: true }, OK, 3)).toEqual({ kind: 'resolve', consecutive: 0 });
  });

  it('does nothing but reset the count for a window in range without an alert', () => {
    expect(nextAlert({ consecutive: 2, active: false }, OK, 3)).toEqual({ kind: 'none', consecutive: 0 });
    expect(nextAlert({ consecutive: 0, active: false }, OK, 1)).toEqual({ kind: 'none', consecutive: 0 });
  });

  it('with alert_after 1 raises at the first drifting window', () => {
    expect(nextAlert({ consecutive: 0, active: false }, DRIFT, 1)).toEqual({ kind: 'raise', consecutive: 1 });
    expect(run([OK, DRIFT, OK, DRIFT], 1).kinds).toEqual(['none', 'raise', 'resolve', 'raise']);
  });

  it('changes nothing for a window that cannot be judged (a gap), with or without an alert', () => {
    expect(nextAlert({ consecutive: 2, active: false }, GAP, 3)).toEqual({ kind: 'none', consecutive: 2 });
    expect(nextAlert({ consecutive: 4, active: true }, GAP, 3)).toEqual({ kind: 'none', consecutive: 4 });
    // unjudged windows never resolve, even flagged as drifting: judged is what counts
    expect(nextAlert({ consecutive: 4, active: true }, { judged: false, dataset_drift: true, prediction_drift: true }, 3)).toEqual({ kind: 'none', consecutive: 4 });
  });

  it('keeps counting across a gap: drifting windows around an unjudged one are consecutive', () => {
    const r = run([DRIFT, GAP, DRIFT, GAP, GAP, DRIFT], 3);
    expect(r.kinds).toEqual(['none', 'none', 'none', 'none', 'none', 'raise']);
    expect(r.state.consecutive).toBe(3);
  });

  it('never raises while windows flip-flop between drift and in range (alert_after 2)', () => {
    const r = run([DRIFT, OK, DRIFT, OK, DRIFT, OK], 2);
    expect(r.kinds).toEqual(['none', 'none', 'none', 'none', 'none', 'none']);
    expect(r.state).toEqual({ consecutive: 0, active: false });
  });

  it('raises and resolves at every flip once alert_after is reached (flip-flopping around an active alert)', () => {
    const r = run([DRIFT, DRIFT, OK, DRIFT, DRIFT, OK], 2);
    expect(r.kinds).toEqual(['none', 'raise', 'resolve', 'none', 'raise', 'resolve']);
    expect(r.state).toEqual({ consecutive: 0, active: false });
  });
});

describe('trailingConsecutive', () => {
  it('counts the drifting windows after the last judged window in range, skipping unjudged ones', () => {
    expect(trailingConsecutive([])).toBe(0);
    expect(trailingConsecutive([DRIFT, DRIFT, OK, DRIFT, GAP, PRED, GAP])).toBe(2);
    expect(trailingConsecutive([DRIFT, DRIFT, OK])).toBe(0);
    expect(trailingConsecutive([GAP, GAP])).toBe(0);
  });
});

describe('alertMessage', () => {
  it('names the drifting inputs, the judged count, the predictions and the windows', () => {
    expect(alertMessage({ name: 'fraud', version: 'v2', drifted: ['age', 'country'], judgedInputs: 4, prediction_drift: true, predictions: ['score'], consecutive: 3, bucket_s: 300 }))
      .toBe('fraud v2: drift in 2 of 4 input features (age, country); predictions drifted (score) for 3 consecutive windows of 300 s');
    expect(alertMessage({ name: 'm', version: 'v1', drifted: [], judgedInputs: 3, prediction_drift: true, predictions: ['y'], consecutive: 1, bucket_s: 60 }))
      .toBe('m v1: no input feature drifts; predictions drifted (y) for 1 consecutive windows of 60 s');
  });
});
