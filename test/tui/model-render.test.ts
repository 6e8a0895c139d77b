import { describe, expect, test } from 'vitest';
import { modelDetailLines, shortSha } from '../../tui/render/model-detail.js';
import { MODEL_COLUMNS, allModels, findModel, fmtLive, fmtLiveDetail, fmtLatency, fmtPushedAge, fmtP50, fmtRps, modelCounts, modelFilterText, modelKey, modelRow, modelTone, parseModelKey } from '../../tui/render/model-row.js';
import { formatRow, layoutColumns } from '../../tui/render/table.js';
import { MODELS, PERF_V2, T0, fleet, modelStats, unreachable } from './fixtures.js';

const now = T0;

describe('model rows', () => {
  test('one row per version per node: by name, highest version first, then node', () => {
    const rows = allModels(fleet());
    expect(rows.map((e) => `${e.node} ${e.model.name}@${e.model.version}`)).toEqual([
      'gpu01 bert-sentiment@0.3.1', 'gpu01 resnet50@2', 'mig01 resnet50@2', 'gpu01 resnet50@1',
    ]);
    expect(rows.find((e) => e.node === 'mig01')?.stats?.requests).toBe(0);
  });
  test('cells: node, name, version, loaded (provider), req/s, p50 (queue/compute), p95, errors, live, size, pushed age', () => {
    const [bert, v2, v2mig, v1] = allModels(fleet()).map((e) => modelRow(e, now));
    expect(v2).toEqual(['gpu01', 'resnet50', '2', 'yes (cuda)', '42', '6.2ms (350µs/5.8ms)', '15ms', '3', 'acc 0.750', '93M', '2h']);
    // requests kept but none labelled yet: no live figure
    expect(v1).toEqual(['gpu01', 'resnet50', '1', 'yes (cuda)', '0.4', '7.9ms (120µs/7.7ms)', '21ms', '0', '–', '93M', '10d']);
    expect(v2mig).toEqual(['mig01', 'resnet50', '2', 'yes (cpu)', '–', '–', '–', '0', '–', '93M', '30m']);
    // Not loaded: no serving figures at all.
    expect(bert).toEqual(['gpu01', 'bert-sentiment', '0.3.1', 'no', '–', '–', '–', '–', '–', '438M', '1d']);
  });
  test('live performance: accuracy for classifiers, MAE for regressors, in the cell and the detail line', () => {
    const reg = { ...PERF_V2, task: 'regression' as const, accuracy: null, f1: null, mae: 0.12345, rmse: 0.2 };
    expect([fmtLive(PERF_V2), fmtLive(reg), fmtLive(null), fmtLive({ ...PERF_V2, task: null })]).toEqual(['acc 0.750', 'mae 0.123', '–', '–']);
    expect(fmtLiveDetail(PERF_V2)).toBe('accuracy 0.750 · f1 0.733 (40 labelled of 120 kept · 1h)');
    expect(fmtLiveDetail(reg)).toBe('mae 0.123 · rmse 0.200 (40 labelled of 120 kept · 1h)');
    expect(fmtLiveDetail({ ...PERF_V2, task: null, labelled: 0 })).toMatch(/^– \(0 labelled of 120 kept · 1h; send labels with: fleetml feedback send resnet50/);
    expect(fmtLiveDetail(null)).toBe('– (no requests kept for feedback)');
    // the LIVE column is the first to go on narrow screens
    expect(layoutColumns(MODEL_COLUMNS, 100).keep.map((i) => MODEL_COLUMNS[i].header)).not.toContain('LIVE');
    expect(layoutColumns(MODEL_COLUMNS, 110).keep.map((i) => MODEL_COLUMNS[i].header)).toContain('LIVE');
  });
  test('unknown figures are "–", never 0', () => {
    expect([fmtLatency(null), fmtLatency(undefined), fmtRps(null), fmtP50(null)]).toEqual(['–', '–', '–', '–']);
    expect(fmtP50(modelStats({ name: 'x', version: '1', latency_us: { p50: 900, p95: null, queue_p50: null, compute_p50: null } }))).toBe('900µs');
    expect(fmtP50(modelStats({ name: 'x', version: '1', latency_us: { p50: 900, p95: null, queue_p50: null, compute_p50: 800 } }))).toBe('900µs (–/800µs)');
  });
  test('latency and rate formats', () => {
    expect([fmtLatency(850), fmtLatency(1234), fmtLatency(38_400), fmtLatency(2_100_000)]).toEqual(['850µs', '1.2ms', '38ms', '2.1s']);
    expect([fmtRps(0), fmtRps(3.14), fmtRps(41.7), fmtRps(12_345)]).toEqual(['0.0', '3.1', '42', '12.3k']);
  });
  test('pushed ages fit their column', () => {
    expect([fmtPushedAge(90_000), fmtPushedAge(5 * 3_600_000 + 12 * 60_000), fmtPushedAge(412 * 86_400_000 + 3 * 3_600_000), fmtPushedAge(1107 * 86_400_000 + 23 * 3_600_000)]).toEqual(['1m', '5h12m', '412d3h', '1107d']);
  });
  test('tones: errors warn, loaded ok, unloaded plain', () => {
    expect(allModels(fleet()).map(modelTone)).toEqual([undefined, 'warn', 'ok', 'ok']);
  });
  test('keys round-trip; lookups by key', () => {
    const e = allModels(fleet())[1];
    expect(modelKey(e)).toBe('gpu01/resnet50@2');
    expect(parseModelKey('gpu01/bert-sentiment@0.3.1')).toEqual({ node: 'gpu01', name: 'bert-sentiment', version: '0.3.1' });
    expect([parseModelKey(null), parseModelKey('gpu01'), parseModelKey('gpu01/x@'), parseModelKey('/x@1')]).toEqual([null, null, null, null]);
    expect(findModel(fleet(), 'mig01/resnet50@2')?.model.provider).toBe('cpu');
    expect(findModel(fleet(), 'gpu03/resnet50@2')).toBeUndefined();
    expect(findModel([unreachable()], 'gpu03/resnet50@2')).toBeUndefined();
  });
  test('filter text: node, name@version, provider, pusher, commit, dataset, meta', () => {
    const t = modelFilterText(allModels(fleet())[1]);
    for (const w of ['gpu01', 'resnet50@2', 'cuda', 'loaded', 'bob', '9e8d7c6', 'imagenet-train-2024.tar', 'epochs=90']) expect(t).toContain(w);
    expect(modelFilterText(allModels(fleet())[0])).toContain('unloaded');
  });
  test('summary counts', () => {
    expect(modelCounts(allModels(fleet()))).toBe('4 versions of 2 models · 3 loaded');
    expect(modelCounts([])).toBe('0 versions of 0 models');
  });
  test('rows fit: every column at 110, every one but LIVE at 100, low-priority ones dropped at 80', () => {
    expect(layoutColumns(MODEL_COLUMNS, 108).keep).toHaveLength(MODEL_COLUMNS.length);
    const wide = layoutColumns(MODEL_COLUMNS, 98);
    expect(wide.keep).toHaveLength(MODEL_COLUMNS.length - 1);
    const narrow = layoutColumns(MODEL_COLUMNS, 78);
    const cells = modelRow(allModels(fleet())[1], now);
    expect(formatRow(MODEL_COLUMNS, narrow, cells).length).toBe(78);
    expect(narrow.keep.map((i) => MODEL_COLUMNS[i].header)).toContain('P50 (QUEUE/COMPUTE)');
  });
});

describe('model detail', () => {
  const text = (key: string) => modelDetailLines(findModel(fleet(), key)!, now).map((l) => l.text);
  test('signature: inputs and outputs with dtype and shape', () => {
    const t = text('gpu01/bert-sentiment@0.3.1').join('\n');
    expect(t).toContain('bert-sentiment@0.3.1 on gpu01: NOT LOADED');
    expect(t).toMatch(/inputs +input_ids {7}int64 {2}\[batch, 128\]/);
    expect(t).toMatch(/\n {14}attention_mask {2}int64 {2}\[batch, 128\]/);
    expect(t).toMatch(/outputs +probs +float32 +\[batch, 2\]/);
  });
  test('lineage, hash, pusher and serving figures', () => {
    const lines = text('gpu01/resnet50@2');
    const t = lines.join('\n');
    expect(lines[0]).toBe('resnet50@2 on gpu01: LOADED (cuda)');
    expect(t).toContain(`sha256      ${'c2'.padEnd(64, 'f')}`);
    expect(t).toMatch(/pushed +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(2h ago\) by bob/);
    expect(t).toContain('commit      9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d');
    expect(t).toContain('dataset     ab12cd34ef56 imagenet-train-2024.tar');
    expect(t).toContain('meta        top1=0.802');
    expect(t).toContain('epochs=90');
    expect(t).toContain('live        accuracy 0.750 · f1 0.733 (40 labelled of 120 kept · 1h)');
    expect(t).toContain('requests    48210 total · 42 req/s · 2 in flight');
    expect(t).toContain('errors      3 (0.0%)');
    expect(t).toContain('latency     p50 6.2ms (queue 350µs · compute 5.8ms) · p95 15ms');
    expect(['SIGNATURE', 'LINEAGE', 'SERVING'].every((h) => lines.includes(h))).toBe(true);
  });
  test('unknown lineage and figures render as "–"', () => {
    const bert = text('gpu01/bert-sentiment@0.3.1').join('\n');
    expect(bert).toContain('commit      –');
    expect(bert).toContain('dataset     –');
    expect(bert).toContain('meta        –');
    expect(bert).toContain('figures     – (not loaded)');
    const fresh = text('mig01/resnet50@2').join('\n');
    expect(fresh).toContain('requests    0 total · – req/s · 0 in flight');
    expect(fresh).toContain('latency     p50 – (queue – · compute –) · p95 –');
    const noStats = modelDetailLines({ node: 'gpu01', model: MODELS.resnetV1(), stats: null }, now).map((l) => l.text);
    expect(noStats).toContain('  figures     – (not reported yet)');
    expect(shortSha(null)).toBe('–');
  });
});

import { fmtBatch } from '../../tui/render/model-row.js';
test('mean batch size shows one decimal, unknown as a dash', () => {
  expect(fmtBatch({ avg_batch: 3.25 } as never)).toBe('3.3');
  expect(fmtBatch({ avg_batch: null } as never)).toBe('–');
  expect(fmtBatch(null)).toBe('–');
});
