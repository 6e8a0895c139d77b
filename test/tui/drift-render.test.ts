import { describe, expect, test } from 'vitest';
import { DriftAlert, DriftHistoryResult, DriftReport } from '../../shared/protocol/drift.js';
import { driftHeaderLines, driftLayout, fmtSpan, predictionsText, referenceText, scoreLine, scoreSeries, type DriftHeaderContext } from '../../tui/render/drift-detail.js';
import { hbar, histogramLayout, histogramLines } from '../../tui/render/drift-histogram.js';
import { DRIFT_FEATURE_COLUMNS, DRIFT_LIST_COLUMNS, driftEntries, driftListRow, featureRow, featureTone, fmtScore, fmtShare, fmtThreshold, parseDriftKey } from '../../tui/render/drift-row.js';
import { formatRow, layoutColumns } from '../../tui/render/table.js';
import { churnAlert, churnHistory, churnReport, driftFleet } from './drift-fixtures.js';
import { T0 } from './fixtures.js';

const ctx = (over: Partial<DriftHeaderContext> = {}): DriftHeaderContext => ({
  target: { node: 'gpu01', name: 'churn', version: '3' }, window: '1h', alert: null, error: null, retryInMs: null, loading: false, now: T0, ...over,
});

describe('drift fixtures', () => {
  test('are what the protocol allows', () => {
    expect(() => DriftReport.parse(churnReport())).not.toThrow();
    expect(() => DriftReport.parse(churnReport({ reference: null, alert: null }))).not.toThrow();
    expect(() => DriftHistoryResult.parse(churnHistory())).not.toThrow();
    expect(() => DriftAlert.parse(churnAlert())).not.toThrow();
  });
});

describe('feature rows', () => {
  const r = DriftReport.parse(churnReport());
  const [age, income, plan, , region, pred] = r.features;
  test('cells: feature, method, score, threshold with its side, status, missing share, PSI, quality', () => {
    expect(featureRow(age)).toEqual(['age', 'ks', '0.0012', '<0.05', 'DRIFT', '0%', '0.310', '']);
    expect(featureRow(income)).toEqual(['income', 'wasserstein', '0.180', '≥0.1', 'DRIFT', '1.3%', '0.220', 'range']);
    expect(featureRow(plan)).toEqual(['plan', 'chisquare', '0.610', '<0.05', 'ok', '0%', '0.0040', '']);
    // Not computed: a dash, never 0.
    expect(featureRow(region)).toEqual(['region', 'jensenshannon', '–', '≥0.1', 'ignored', '0%', '–', '']);
    expect(featureRow(pred)[0]).toBe('→ churn_prob');
  });
  test('drifting rows are red, ignored ones dim, others plain; the status text says DRIFT without colour', () => {
    expect(r.features.map(featureTone)).toEqual(['bad', 'bad', undefined, undefined, 'dim', undefined]);
    expect(featureRow(age)[4]).toBe('DRIFT');
  });
  test('number formats', () => {
    expect([fmtScore(0), fmtScore(3.2e-7), fmtScore(0.0042), fmtScore(0.05), fmtScore(12.345), fmtScore(1234), fmtScore(null)]).toEqual(['0', '3.2e-7', '0.0042', '0.050', '12.345', '1.23e+3', '–']);
    expect([fmtShare(0), fmtShare(0.0004), fmtShare(0.025), fmtShare(0.4), fmtShare(1)]).toEqual(['0%', '<0.1%', '2.5%', '40%', '100%']);
    expect(fmtThreshold({ method: 'psi', threshold: 0.2 })).toBe('≥0.2');
  });
  test('a row fits its laid-out width on narrow and wide screens', () => {
    for (const w of [38, 60, 100, 160]) {
      const lay = layoutColumns(DRIFT_FEATURE_COLUMNS, w);
      for (const f of r.features) expect(formatRow(DRIFT_FEATURE_COLUMNS, lay, featureRow(f)).length).toBeLessThanOrEqual(Math.max(w, 10));
    }
    // Narrow: QUALITY and PSI go first, FEATURE and STATUS stay.
    const narrow = layoutColumns(DRIFT_FEATURE_COLUMNS, 50).keep.map((i) => DRIFT_FEATURE_COLUMNS[i].header);
    expect(narrow).toContain('FEATURE');
    expect(narrow).toContain('STATUS');
    expect(narrow).not.toContain('QUALITY');
  });
  test('drift keys: node/name@version or node/name', () => {
    expect(parseDriftKey('gpu01/churn@3')).toEqual({ node: 'gpu01', name: 'churn', version: '3' });
    expect(parseDriftKey('gpu01/churn')).toEqual({ node: 'gpu01', name: 'churn' });
    for (const bad of [null, '', 'churn', '/churn', 'gpu01/', 'gpu01/churn@', 'a/b/c']) expect(parseDriftKey(bad)).toBeNull();
  });
});

describe(':drift list rows', () => {
  test('versions with an active alert come first, with the share and drifting features of the alert', () => {
    const rows = driftEntries(driftFleet());
    expect(driftListRow(rows[0])).toEqual(['gpu01', 'churn', '3', 'yes', 'ALERT', '50%', 'age, income']);
    // Nodes that report alerts but have none: "no"; versions of nodes are listed in allModels order.
    expect(rows.slice(1).map((e) => driftListRow(e)[4])).toEqual(['no', 'no', 'no', 'no']);
    for (const e of rows) expect(formatRow(DRIFT_LIST_COLUMNS, layoutColumns(DRIFT_LIST_COLUMNS, 60), driftListRow(e)).length).toBeLessThanOrEqual(60);
  });
  test('a node that does not report alerts shows "–", not "no"', () => {
    const nodes = driftFleet().map((n) => (n.name === 'mig01' ? { ...n, driftAlerts: null } : n));
    const mig = driftEntries(nodes).find((e) => e.node === 'mig01')!;
    expect(driftListRow(mig)[4]).toBe('–');
  });
  test('a resolved alert is not active', () => {
    const nodes = driftFleet().map((n) => (n.name === 'gpu01' ? { ...n, driftAlerts: [{ ...churnAlert(), resolved_at: T0 }] } : n));
    expect(driftEntries(nodes).filter((e) => e.alert)).toEqual([]);
  });
});

describe('drift header', () => {
  test('target, window, rows, reference, dataset drift vs threshold, prediction drift, alert banner naming the features', () => {
    const r = DriftReport.parse(churnReport());
    const lines = driftHeaderLines(r, ctx({ alert: r.alert }));
    const text = lines.map((l) => l.text);
    expect(text[0]).toMatch(/^churn@3 on gpu01 · window 1h \(\d\d:\d\d → \d\d:\d\d\) · 1,200 rows$/);
    expect(text[1]).toBe('reference: dataset train.csv · 800 rows · matched by name · built 1d ago by alice');
    expect(text[2]).toBe('dataset drift: YES · share 50% (2/4 features) ≥ threshold 50% · predictions: no drift');
    expect(lines[2].tone).toBe('bad');
    expect(text[3]).toMatch(/^ACTIVE ALERT: drift in age, income · 3 windows in a row · since \d{4}-/);
    expect(lines[3]).toMatchObject({ tone: 'bad', bold: true });
    expect(lines).toHaveLength(4);
  });
  test('a window within one day shows times only; one that spans midnight shows dates', () => {
    const at = (d: number, h: number, m: number) => new Date(2026, 11, d, h, m).getTime();
    expect(fmtSpan(at(3, 13, 0), at(3, 14, 0))).toBe('13:00 → 14:00');
    expect(fmtSpan(at(2, 23, 55), at(3, 0, 55))).toBe('12-02 23:55 → 12-03 00:55');
    const r = DriftReport.parse(churnReport({ from: at(2, 1, 0), to: at(3, 1, 0), window: '24h' }));
    expect(driftHeaderLines(r, ctx())[0].text).toContain('window 24h (12-02 01:00 → 12-03 01:00)');
  });
  test('never "predictions: no drift" above an active prediction alert: the window and the alert are both said', () => {
    const alert = { ...churnAlert(), prediction_drift: true, predictions: ['churn_prob'] };
    expect(predictionsText({ prediction_drift: false }, [], alert)).toBe('no drift this window · ALERT (churn_prob)');
    expect(predictionsText({ prediction_drift: true }, ['churn_prob'], alert)).toBe('DRIFT (churn_prob) · ALERT (churn_prob)');
    expect(predictionsText({ prediction_drift: false }, [], churnAlert())).toBe('no drift'); // an alert on inputs only
    expect(predictionsText({ prediction_drift: false }, [], null)).toBe('no drift');
    const r = DriftReport.parse(churnReport({ dataset_drift: false, prediction_drift: false }));
    const lines = driftHeaderLines(r, ctx({ alert }));
    expect(lines[2].text).toMatch(/^dataset drift: no \(this window; alert active\) · .* · predictions: no drift this window · ALERT \(churn_prob\)$/);
    expect(lines[2].tone).toBe('bad');
    expect(lines.map((l) => l.text).join('\n')).not.toMatch(/predictions: no drift$/m);
  });
  test('no reference yet says how to give one; no alert, no banner', () => {
    const r = DriftReport.parse(churnReport({ reference: null, alert: null, dataset_drift: false, drift_share: 0, features: [] }));
    const lines = driftHeaderLines(r, ctx());
    expect(referenceText(r, T0)).toMatchObject({ tone: 'warn' });
    expect(lines[1].text).toContain('no reference yet: set one with `fleetml drift reference churn --from data.csv`');
    expect(lines.map((l) => l.text).join('\n')).not.toContain('ALERT');
  });
  test('before the first answer: loading; after a failure: the error and when it retries', () => {
    expect(driftHeaderLines(null, ctx({ loading: true }))[0].text).toBe('churn@3 on gpu01 · window 1h · loading…');
    const err = driftHeaderLines(null, ctx({ error: 'churn@3 has no reference yet', retryInMs: 3900 }));
    expect(err[1]).toEqual({ text: 'error: churn@3 has no reference yet · retrying in 4s', tone: 'bad' });
  });
  test('live performance of the version (labels joined by request id) when the node reports it', () => {
    const r = DriftReport.parse(churnReport({ alert: null }));
    const perf = { name: 'churn', version: '3', task: 'classification' as const, accuracy: 0.9, f1: 0.85, mae: null, rmse: null, labelled: 200, requests: 1200, window: '1h' };
    expect(driftHeaderLines(r, ctx({ perf })).map((l) => l.text)).toContain('live performance: accuracy 0.900 · f1 0.850 (200 labelled of 1200 kept · 1h)');
    expect(driftHeaderLines(r, ctx({ perf: null })).at(-1)).toEqual({ text: 'live performance: – (no requests kept for feedback)', tone: 'dim' });
    expect(driftHeaderLines(r, ctx()).map((l) => l.text).join('\n')).not.toContain('live performance');
  });
  test('sampled capture and dropped rows are shown', () => {
    const r = DriftReport.parse(churnReport({ capture: { sample_rate: 0.25, dropped: 1234 } }));
    expect(driftHeaderLines(r, ctx())[0].text).toContain('capture 25% sampled, 1,234 dropped');
  });
});

describe('score over time', () => {
  const h = DriftHistoryResult.parse(churnHistory());
  const age = DriftReport.parse(churnReport()).features[0];
  test('series per closed window, nulls where not scored', () => {
    expect(scoreSeries(h.points, 'age')).toHaveLength(12);
    expect(scoreSeries(h.points, 'region').every((v) => v === null)).toBe(true);
    expect(scoreSeries(h.points, 'unknown').every((v) => v === null)).toBe(true);
  });
  test('a sparkline that fits the width, with the current and last window score', () => {
    const l = scoreLine(age, h.points, 80);
    expect(l.text.length).toBeLessThanOrEqual(80);
    expect(l.text).toMatch(/^age score \(ks <0\.05\): +[▁▂▃▄▅▆▇█ ]+ now 0\.0012 · last window 0\.0012 · 12 windows$/);
    expect(l.tone).toBe('bad');
    expect(scoreLine(age, null, 80).text).toContain('history loading');
    expect(scoreLine({ ...age, name: 'region' }, h.points, 80).text).toContain('no closed window scored yet');
    expect(scoreLine(age, h.points, 20).text.length).toBeLessThanOrEqual(20);
  });
});

describe('histogram', () => {
  const age = DriftReport.parse(churnReport()).features[0].histogram!;
  test('bars in eighths, one scale, exactly the width; a non-zero share always shows', () => {
    expect(hbar(1, 1, 4)).toBe('████');
    expect(hbar(0.5, 1, 4)).toBe('██  ');
    expect(hbar(0.3, 1, 4)).toMatch(/^█[▏▎▍▌▋▊▉] {2}$/);
    expect(hbar(0.0001, 1, 4)).toBe('▏   ');
    expect(hbar(0, 1, 4)).toBe('    ');
    expect(hbar(0.2, 0, 3)).toBe('   ');
  });
  test('stacked (ref over cur per bin) when two lines per bin fit', () => {
    const lines = histogramLines(age, { width: 56, height: 20, title: 'age over 1h' });
    expect(histogramLayout(5, 20)).toBe('stacked');
    expect(lines).toHaveLength(11);
    expect(lines[0].text).toBe('age over 1h (ref: reference, cur: current window)');
    expect(lines[1].text).toMatch(/^\[18, 30\) ref █+\S* +30%$/);
    expect(lines[2].text).toMatch(/^ {8} cur █+\S* +10%$/);
    // One scale for both series: the largest share (35%) fills the bar.
    const bars = lines.slice(1).map((l) => l.text.replace(/^.{8} (ref|cur) /, '').replace(/ +\S+%$/, '').trimEnd().length);
    expect(Math.max(...bars)).toBe(56 - 8 - 11);
    // Bars stop at 40 cells on wide terminals.
    expect(Math.max(...histogramLines(age, { width: 200, height: 20 }).map((l) => (l.text.match(/█[█▏▎▍▌▋▊▉]*/)?.[0].length ?? 0)))).toBe(40);
    for (const l of lines) expect(l.text.length).toBeLessThanOrEqual(56);
  });
  test('side by side (one line per bin) when that is what fits; bins left out are counted', () => {
    const side = histogramLines(age, { width: 70, height: 6 });
    expect(side).toHaveLength(6);
    expect(side[0].text).toBe('reference vs current: reference │ current');
    expect(side[1].text).toMatch(/^\[18, 30\) █+\S* +30% │ █+\S* +10%$/);
    const cut = histogramLines(age, { width: 70, height: 4 });
    expect(cut).toHaveLength(4);
    expect(cut[3].text).toBe('… 3 more bins (a taller terminal shows them)');
    for (const w of [20, 40, 70, 200]) for (const h of [1, 2, 3, 6, 11, 30]) {
      const ls = histogramLines(age, { width: w, height: h });
      expect(ls.length).toBeLessThanOrEqual(h);
      for (const l of ls) expect(l.text.length).toBeLessThanOrEqual(w);
    }
  });
  test('no bins, no room', () => {
    expect(histogramLines({ labels: [], reference: [], current: [] }, { width: 40, height: 3 })[0].text).toContain('no bins');
    expect(histogramLines(age, { width: 40, height: 0 })).toEqual([]);
  });
});

describe('drift layout', () => {
  test('everything fits: all rows, the sparkline and a stacked histogram', () => {
    expect(driftLayout(30, 6, 5)).toEqual({ table: true, tableRows: 6, spark: true, hist: 22 });
  });
  test('tight: the table keeps three rows, the histogram shrinks, then goes, then the sparkline', () => {
    const l = driftLayout(12, 50, 5);
    expect(l.tableRows + 1 + (l.spark ? 1 : 0) + l.hist).toBeLessThanOrEqual(12);
    expect(l.tableRows).toBe(4);
    expect(driftLayout(5, 50, 5)).toEqual({ table: true, tableRows: 3, spark: true, hist: 0 });
    expect(driftLayout(4, 50, 5)).toEqual({ table: true, tableRows: 3, spark: false, hist: 0 });
    expect(driftLayout(0, 50, 5).table).toBe(false);
    for (let h = 0; h < 40; h++) for (const n of [0, 1, 6, 50]) for (const b of [0, 3, 10]) {
      const l = driftLayout(h, n, b);
      expect((l.table ? 1 + l.tableRows : 0) + (l.spark ? 1 : 0) + l.hist).toBeLessThanOrEqual(h);
    }
  });
});
