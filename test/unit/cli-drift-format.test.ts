import { describe, expect, it } from 'vitest';
import {
  alertRow, bar, driftShareLine, DRIFT_FEATURE_HEADERS, featureRow, formatConfig, formatHistograms, formatHistory, formatReferenceResult, formatReport,
  formatScore, formatShare, histogramLines, pointRow, predictionLine, referenceLine,
} from '../../cli/format/drift.js';
import { checkParams } from '../../cli/commands/drift.js';
import { UsageError } from '../../cli/output.js';
import {
  DriftConfigParams, DriftConfigResult, DriftHistoryResult, DriftReportParams, DriftReportResult, DriftSetReferenceResult, type DriftReport, type FeatureDrift,
} from '../../shared/protocol/drift.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const HOUR = 3_600_000;

const feature = (name: string, over: Partial<FeatureDrift> = {}): FeatureDrift => ({
  name, role: 'input', type: 'numeric', method: 'wasserstein', score: 0.02, threshold: 0.1, drift: false, status: 'ok', psi: 0.01,
  ref_rows: 5000, cur_rows: 1200, missing: { reference: 0, current: 0, current_share: 0 }, quality: [],
  summary: { ref_mean: 40, cur_mean: 41, ref_p50: 39, cur_p50: 40 }, ...over,
});

const alert = {
  id: 7, name: 'fraud', version: '3', raised_at: NOW - 2 * HOUR, resolved_at: null, features: ['age', 'country'], prediction_drift: true,
  predictions: ['score'], drift_share: 0.5, consecutive: 3, message: 'age, country drifted for 3 windows',
};

/** A report as the agent sends it, checked against the protocol schema so the fixture cannot drift from it. */
const report: DriftReport = DriftReportResult.parse({
  name: 'fraud', version: '3', window: '1h', from: NOW - HOUR, to: NOW, rows: 1200,
  reference: { source: 'dataset', rows: 5000, rows_seen: 12000, created_at: NOW - 26 * HOUR, created_by: 'alice', dataset_name: 'train.csv', dataset_sha256: 'ab'.repeat(32), matched_by: 'name' },
  features: [
    feature('age', { score: 0.31, drift: true, status: 'drift', psi: 0.42, quality: ['range'],
      histogram: { labels: ['[0, 30)', '[30, 60)', '[60, +inf)'], reference: [0.5, 0.4, 0.1], current: [0.1, 0.3, 0.6] } }),
    feature('amount', { score: 0.000012, missing: { reference: 0, current: 30, current_share: 0.025 } }),
    feature('country', { type: 'categorical', method: 'jensenshannon', score: 0.2, drift: true, status: 'drift', psi: 0.3, quality: ['new_categories'], summary: null }),
    feature('channel', { type: 'categorical', method: 'chisquare', score: 0.6, threshold: 0.05, psi: 0.02, summary: null }),
    feature('note', { status: 'ignored', score: null, psi: null }),
    feature('score', { role: 'prediction', score: 0.15, drift: true, status: 'drift', psi: 0.25 }),
  ],
  drift_share: 0.5, share_threshold: 0.5, dataset_drift: true, prediction_drift: true, alert,
  capture: { sample_rate: 0.1, dropped: 0 },
});

describe('drift show table', () => {
  it('has one row per feature with its method, score, threshold, status, PSI, missing share and quality flags', () => {
    const out = formatReport(report, NOW);
    const lines = out.split('\n');
    const header = lines.find((l) => l.startsWith('FEATURE'))!;
    expect(header.split(/\s{2,}/)).toEqual(DRIFT_FEATURE_HEADERS);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!.split(/\s{2,}/);
    expect(row('age')).toEqual(['age', 'input', 'numeric', 'wasserstein', '0.31', '0.1', 'DRIFT', '0.42', '0%', 'range']);
    expect(row('amount')).toEqual(['amount', 'input', 'numeric', 'wasserstein', '1.2e-5', '0.1', 'ok', '0.01', '2.5%', '-']);
    expect(row('country')).toEqual(['country', 'input', 'categorical', 'jensenshannon', '0.2', '0.1', 'DRIFT', '0.3', '0%', 'new_categories']);
    expect(row('note')).toEqual(['note', 'input', 'numeric', 'wasserstein', '-', '0.1', 'ignored', '-', '0%', '-']);
    expect(row('score')).toEqual(['score', 'prediction', 'numeric', 'wasserstein', '0.15', '0.1', 'DRIFT', '0.25', '0%', '-']);
    expect(lines[0]).toBe('fraud 3: window 1h (2025-03-01T11:00:00Z → 2025-03-01T12:00:00Z), 1200 rows, sample rate 10%');
  });
  it('summarises the drift share over scored input features, prediction drift, the reference and the alert', () => {
    const out = formatReport(report, NOW, 'gpu-01');
    expect(out.split('\n')[0]).toMatch(/^fraud 3 on gpu-01: /);
    expect(out).toContain('drift share 2/4 (50%) ≥ 50%: DATASET DRIFT');
    expect(out).toContain('prediction drift: yes (score)');
    expect(out).toContain('reference: dataset train.csv, 5000 rows (sampled from 12000), matched by name, created 1d ago by alice (2025-02-28T10:00:00Z)');
    expect(out).toContain('ALERT #7 since 2h ago (3 drifting windows): age, country drifted for 3 windows [features age, country; predictions score]');
  });
  it('says when there is no dataset drift, no alert, and how to give a missing reference', () => {
    const calm = DriftReportResult.parse({
      ...report, reference: null, dataset_drift: false, prediction_drift: false, drift_share: 0.25, alert: null,
      features: report.features.map((f) => (f.name === 'country' || f.role === 'prediction' ? { ...f, drift: false, status: 'ok' } : f)),
    });
    expect(driftShareLine(calm)).toBe('drift share 1/4 (25%) < 50%: no dataset drift');
    expect(predictionLine(calm)).toBe('prediction drift: no');
    const out = formatReport(calm, NOW);
    expect(out).toContain('no reference yet: run fleetml drift reference fraud --from data.csv');
    expect(out).toContain('alert: none active');
  });
  it('explains an unscored report instead of printing a share of nothing', () => {
    const noRef = DriftReportResult.parse({ ...report, reference: null, features: report.features.map((f) => ({ ...f, status: 'no_reference', drift: false, score: null })), drift_share: 0, dataset_drift: false, alert: null });
    expect(driftShareLine(noRef)).toBe('drift share -: no input feature scored yet (no reference)');
    const short = DriftReportResult.parse({ ...report, rows: 12, features: report.features.map((f) => ({ ...f, status: 'insufficient', drift: false, score: null })), dataset_drift: false });
    expect(driftShareLine(short)).toMatch(/only 12 rows in the window; try a longer --window/);
    expect(referenceLine(null, 'm', NOW)).toMatch(/^no reference yet: run fleetml drift reference m --from data\.csv/);
  });
  it('formats scores and shares for reading', () => {
    expect([formatScore(null), formatScore(0), formatScore(0.04567), formatScore(12.345), formatScore(3e-12)]).toEqual(['-', '0', '0.0457', '12.3', '3.0e-12']);
    expect([formatShare(0), formatShare(0.025), formatShare(0.5), formatShare(1), formatShare(0.123)]).toEqual(['0%', '2.5%', '50%', '100%', '12%']);
    expect(featureRow(report.features[0])).toHaveLength(DRIFT_FEATURE_HEADERS.length);
  });
});

describe('histogram bars', () => {
  it('draws value/max of the width in eighths, padded to exactly the width', () => {
    expect(bar(1, 1, 4)).toBe('████');
    expect(bar(0.5, 1, 4)).toBe('██  ');
    expect(bar(1 / 32, 1, 4)).toBe('▏   ');
    expect(bar(0.3, 1, 4)).toBe('█▎  '); // 9.6 eighths round to 10: one full cell and two eighths
    expect(bar(0, 1, 4)).toBe('    ');
    expect(bar(1, 0, 3)).toBe('   ');
    for (const v of [0, 0.01, 0.33, 0.5, 0.99, 1, 2]) expect([...bar(v, 1, 10)]).toHaveLength(10);
  });
  it('shows reference and current shares of each bin on one scale, with no escape codes', () => {
    const lines = histogramLines(report.features[0], 10);
    expect(lines[0]).toBe('age  (numeric, wasserstein 0.31, psi 0.42, DRIFT)');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe('  [0, 30)     ref ████████▍   50%   cur █▋          10%');
    expect(lines[3]).toBe('  [60, +inf)  ref █▋          10%   cur ██████████  60%');
    expect(lines.join('\n')).not.toMatch(/\x1b/);
  });
  it('says when a feature has no histogram', () => {
    const out = formatHistograms(report);
    expect(out).toContain('amount  (numeric, wasserstein 1.2e-5, psi 0.01, ok)\n  no histogram');
    expect(histogramLines(feature('x', { status: 'no_reference' }))).toEqual(['x  (numeric, wasserstein 0.02, psi 0.01, no_reference)', '  no histogram: no reference yet']);
  });
});

describe('drift history', () => {
  const h = DriftHistoryResult.parse({
    name: 'fraud', version: '3',
    points: [
      { from: NOW - 3 * HOUR, to: NOW - 2 * HOUR, rows: 3, drift_share: 0, dataset_drift: false, prediction_drift: false, judged: false, scores: {}, drifted: [] },
      { from: NOW - 2 * HOUR, to: NOW - HOUR, rows: 900, drift_share: 0, dataset_drift: false, prediction_drift: false, judged: true, scores: { age: 0.01 }, drifted: [] },
      { from: NOW - HOUR, to: NOW, rows: 1200, drift_share: 0.5, dataset_drift: true, prediction_drift: true, judged: true, scores: { age: 0.31, country: 0.2, score: 0.15 }, drifted: ['age', 'country', 'score'] },
    ],
    alerts: [alert, { ...alert, id: 6, resolved_at: NOW - 3 * HOUR, prediction_drift: false, predictions: [], features: ['age'], message: 'age drifted' }],
  });
  it('lists windows and alerts', () => {
    expect(pointRow(h.points[2])).toEqual(['2025-03-01T11:00:00Z', '2025-03-01T12:00:00Z', '1200', '50%', 'DRIFT', 'age,country,score']);
    expect(pointRow(h.points[1])).toEqual(['2025-03-01T10:00:00Z', '2025-03-01T11:00:00Z', '900', '0%', 'no', '-']);
    expect(pointRow(h.points[0])).toEqual(['2025-03-01T09:00:00Z', '2025-03-01T10:00:00Z', '3', '-', '-', '-']);
    expect(pointRow({ ...h.points[1], prediction_drift: true, drifted: ['score'] })[4]).toBe('predictions');
    expect(alertRow(h.alerts[0])).toEqual(['7', '2025-03-01T10:00:00Z', 'active', 'age,country,score(prediction)', 'age, country drifted for 3 windows']);
    expect(alertRow(h.alerts[1])).toEqual(['6', '2025-03-01T10:00:00Z', '2025-03-01T09:00:00Z', 'age', 'age drifted']);
    const out = formatHistory(h);
    expect(out.split('\n')[0]).toBe('fraud 3: 3 closed windows');
    expect(out).toMatch(/^FROM +TO +ROWS +SHARE +DRIFT +DRIFTED-FEATURES$/m);
    expect(out).toMatch(/^ID +RAISED +RESOLVED +FEATURES +MESSAGE$/m);
  });
  it('says when there is nothing yet', () => {
    const out = formatHistory({ name: 'm', version: '1', points: [], alerts: [] });
    expect(out).toContain('no closed windows yet');
    expect(out).toContain('no alerts');
  });
});

describe('drift config and reference output', () => {
  it('prints effective settings and marks the model overrides', () => {
    const c = DriftConfigResult.parse({
      name: 'fraud',
      overrides: { drift_share: 0.3, thresholds: { psi: 0.25 }, features: { note: { ignore: true } } },
      effective: {
        numeric_method: null, categorical_method: 'jensenshannon', thresholds: { ks: 0.05, chisquare: 0.05, wasserstein: 0.1, jensenshannon: 0.1, psi: 0.25 },
        drift_share: 0.3, alert_after: 3, small_reference_rows: 1000, features: { note: { ignore: true } },
      },
    });
    const out = formatConfig(c);
    expect(out).toMatch(/^drift settings of fraud$/m);
    expect(out).toMatch(/numeric method +auto: ks up to 1000 reference rows, else wasserstein$/m);
    expect(out).toMatch(/categorical method +jensenshannon$/m);
    expect(out).toMatch(/psi +0\.25 \(drift at or above\) +\(model\)$/m);
    expect(out).toMatch(/ks +0\.05 \(drift when p below\)$/m);
    expect(out).toMatch(/drift share +30% of input features +\(model\)$/m);
    expect(out).toMatch(/alert after +3 consecutive drifting windows$/m);
    expect(out).toMatch(/features +note: ignored +\(model\)$/m);
    expect(formatConfig({ ...c, overrides: {} })).toMatch(/^drift settings of fraud \(node defaults, no model overrides\)$/m);
  });
  it('prints the reference built and its features, or that a traffic reference is pending', () => {
    const done = DriftSetReferenceResult.parse({ upload_id: null, received_rows: 5000, reference: report.reference, features: ['age', 'amount'] });
    expect(formatReferenceResult(done, 'fraud', NOW, 'gpu-01')).toBe(
      'fraud on gpu-01: reference: dataset train.csv, 5000 rows (sampled from 12000), matched by name, created 1d ago by alice (2025-02-28T10:00:00Z)\n  features (2): age, amount');
    const pending = DriftSetReferenceResult.parse({ upload_id: null, received_rows: 0, reference: null, features: [] });
    expect(formatReferenceResult(pending, 'fraud', NOW)).toMatch(/built from the next requests served .*fleetml drift show fraud/);
  });
});

describe('drift command arguments', () => {
  it('checks params against the protocol and names the flag', () => {
    expect(checkParams(DriftReportParams, { name: 'fraud', window: '24h', histograms: false })).toEqual({ name: 'fraud', window: '24h', histograms: false });
    expect(() => checkParams(DriftReportParams, { name: 'fraud', window: '90' })).toThrow(/--window "90": a window is a duration like 5m, 1h, 24h/);
    expect(() => checkParams(DriftReportParams, { name: 'Fraud' })).toThrow(/model name "Fraud"/);
    expect(() => checkParams(DriftReportParams, { name: 'f', version: 'a b' })).toThrow(UsageError);
    expect(() => checkParams(DriftConfigParams, { name: 'f', set: { drift_share: 2 } })).toThrow(/--set-json drift_share/);
    expect(() => checkParams(DriftConfigParams, { name: 'f', set: { bogus: 1 } })).toThrow(/--set-json/);
  });
});
