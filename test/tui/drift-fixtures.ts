// Drift fixtures for the TUI tests: a tabular model "churn@3" on gpu01 whose age and income drift (an alert is active),
// as drift.report and drift.history answer. Every object is checked against the protocol's zod schemas in the tests.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { DriftHistory } from '../../shared/client/fleet-types.js';
import type { DriftAlert, DriftPoint, DriftReport, FeatureDrift } from '../../shared/protocol/drift.js';
import { T0, fleet, modelVersion } from './fixtures.js';

/** A feature's figures; `over` wins. */
export function feature(over: Partial<FeatureDrift> & { name: string }): FeatureDrift {
  return {
    role: 'input', type: 'numeric', method: 'ks', score: 0.42, threshold: 0.05, drift: false, status: 'ok', psi: 0.01,
    ref_rows: 800, cur_rows: 1200, missing: { reference: 0, current: 0, current_share: 0 }, quality: [],
    summary: { ref_mean: 40, cur_mean: 41, ref_p50: 39, cur_p50: 40 },
    ...over,
  };
}

/** The active alert of churn@3: age and income drifted for three windows. */
export const churnAlert = (): DriftAlert => ({
  id: 7, name: 'churn', version: '3', raised_at: T0 - 15 * 60_000, resolved_at: null, features: ['age', 'income'],
  prediction_drift: false, predictions: [], drift_share: 0.5, consecutive: 3, message: 'drift in age, income for 3 windows',
});

/** drift.report of churn@3 over 1h: age (ks) and income (wasserstein) drift, plan ok, tenure ok, region ignored, one prediction. */
export function churnReport(over: Partial<DriftReport> = {}): DriftReport {
  return {
    name: 'churn', version: '3', window: '1h', from: T0 - 3_600_000, to: T0, rows: 1200,
    reference: { source: 'dataset', rows: 800, rows_seen: 800, created_at: T0 - 86_400_000, created_by: 'alice', dataset_name: 'train.csv', dataset_sha256: 'ab'.repeat(32), matched_by: 'name' },
    features: [
      feature({ name: 'age', score: 0.0012, drift: true, status: 'drift', psi: 0.31,
        histogram: { labels: ['[18, 30)', '[30, 45)', '[45, 60)', '[60, 75)', '[75, 90]'], reference: [0.3, 0.35, 0.2, 0.1, 0.05], current: [0.1, 0.2, 0.3, 0.25, 0.15] } }),
      feature({ name: 'income', method: 'wasserstein', score: 0.18, threshold: 0.1, drift: true, status: 'drift', psi: 0.22,
        missing: { reference: 0, current: 15, current_share: 0.0125 }, quality: ['range'],
        histogram: { labels: ['low', 'mid', 'high'], reference: [0.5, 0.3, 0.2], current: [0.2, 0.3, 0.5] } }),
      feature({ name: 'plan', type: 'categorical', method: 'chisquare', score: 0.61, psi: 0.004, summary: null,
        histogram: { labels: ['basic', 'pro', 'team'], reference: [0.6, 0.3, 0.1], current: [0.58, 0.31, 0.11] } }),
      feature({ name: 'tenure', score: 0.3, psi: 0.02 }),
      feature({ name: 'region', type: 'categorical', method: 'jensenshannon', score: null, threshold: 0.1, status: 'ignored', psi: null, summary: null }),
      feature({ name: 'churn_prob', role: 'prediction', method: 'wasserstein', score: 0.04, threshold: 0.1, psi: 0.03 }),
    ],
    drift_share: 0.5, share_threshold: 0.5, dataset_drift: true, prediction_drift: false, alert: churnAlert(),
    capture: { sample_rate: 1, dropped: 0 },
    ...over,
  };
}

/** drift.history of churn@3: twelve 5-minute windows, age's p-value falling into drift in the last three. */
export function churnHistory(): DriftHistory {
  const ages = [0.5, 0.45, 0.6, 0.4, 0.38, 0.3, 0.2, 0.15, 0.08, 0.01, 0.004, 0.0012];
  const points: DriftPoint[] = ages.map((a, i) => ({
    from: T0 - (12 - i) * 300_000, to: T0 - (11 - i) * 300_000, rows: 100, drift_share: i >= 9 ? 0.5 : 0, dataset_drift: i >= 9, prediction_drift: false, judged: true,
    scores: { age: a, income: i >= 9 ? 0.18 : 0.05, plan: 0.6, tenure: 0.3, region: null }, drifted: i >= 9 ? ['age', 'income'] : [],
  }));
  return { name: 'churn', version: '3', points, alerts: [churnAlert()] };
}

/** The fixture fleet plus churn@3 on gpu01 with its alert pushed (drift.alerts snapshot). */
export function driftFleet(): FleetNode[] {
  return fleet().map((n) => (n.name === 'gpu01'
    ? { ...n, models: [...(n.models ?? []), modelVersion({ name: 'churn', version: '3', loaded: true, provider: 'cpu', pushed_at: T0 - 86_400_000 })], driftAlerts: [churnAlert()] }
    : n));
}
