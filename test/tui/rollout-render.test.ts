import { describe, expect, test } from 'vitest';
import { Rollout } from '../../shared/protocol/rollout.js';
import { analysisLines, decisionLine, nodeLines, rolloutDetailLines, rolloutHeaderLines, stepLines } from '../../tui/render/rollout-detail.js';
import {
  allRollouts, findRolloutEntry, parseRolloutKey, rolloutCounts, rolloutFilterText, rolloutKey, rolloutRow, rolloutTone, ROLLOUT_COLUMNS,
} from '../../tui/render/rollout-row.js';
import { T0 } from './fixtures.js';
import { churnRolledBack, figures, fraudCanary, resnetPaused, rolloutFleet, spec } from './rollout-fixtures.js';

const texts = (ls: { text: string }[]) => ls.map((l) => l.text);

describe('fixtures', () => {
  test('every fixture rollout is a valid protocol Rollout', () => {
    for (const r of [fraudCanary(), churnRolledBack(), resnetPaused()]) expect(Rollout.safeParse(r).success).toBe(true);
  });
});

describe('rollout rows', () => {
  test('every rollout of the fleet, unfinished first then newest, keyed node/id', () => {
    const es = allRollouts(rolloutFleet());
    expect(es.map((e) => `${e.node}:${e.rollout.name}`)).toEqual(['gpu01:fraud', 'mig01:resnet50', 'gpu01:churn']);
    expect(rolloutKey(es[0])).toBe(`gpu01/${fraudCanary().id}`);
    expect(parseRolloutKey('gpu01/ro-1')).toEqual({ node: 'gpu01', id: 'ro-1' });
    expect(parseRolloutKey('gpu01/')).toBeNull();
    expect(findRolloutEntry(rolloutFleet(), `mig01/${resnetPaused().id}`)?.rollout.name).toBe('resnet50');
    expect(findRolloutEntry(rolloutFleet(), `gpu01/${resnetPaused().id}`)).toBeUndefined();
  });
  test('a row has a cell per column: short id, versions, state, step, node count, age, last decision', () => {
    const row = rolloutRow({ node: 'gpu01', rollout: fraudCanary() }, T0);
    expect(row).toHaveLength(ROLLOUT_COLUMNS.length);
    expect(row).toEqual(['gpu01', 'ro-7f3a9', 'fraud', '3→4', 'canary', 'RUNNING', '2/3', '2', '20m', 'step ok: candidate at 50% on gpu01, cpu01']);
    expect(rolloutRow({ node: 'gpu01', rollout: fraudCanary({ step: -1, decisions: [] }) }, T0).slice(6)).toEqual(['-/3', '2', '20m', '–']);
  });
  test('tones, counts and filter text', () => {
    expect(rolloutTone('running')).toBe('ok');
    expect(rolloutTone('paused')).toBe('warn');
    expect(rolloutTone('rolled_back')).toBe('bad');
    expect(rolloutCounts(allRollouts(rolloutFleet()))).toBe('3 rollouts · 1 running · 1 paused · 1 rolled back/aborted/failed');
    expect(rolloutFilterText({ node: 'mig01', rollout: resnetPaused() })).toContain('gpu06');
  });
});

describe('rollout detail', () => {
  test('header: title, state, coordinator, step, age, reason, gate, warnings', () => {
    expect(texts(rolloutHeaderLines(fraudCanary(), T0, 'gpu01'))).toEqual([
      'fraud 3 → 4 · canary · RUNNING · coordinator gpu01',
      `  id ${fraudCanary().id} · step 2/3 for 2m (steps of 5m) · by alice 20m ago · new features from Q3`,
      '  test gate: accuracy ≥ 0.9, regression ≤ 0.01 on 2 rows',
      '  warning: cpu01: 1.2 GiB host memory free, both versions need 1.6 GiB while warming',
    ]);
    expect(rolloutHeaderLines(churnRolledBack(), T0)[1].text).not.toContain(' for ');
  });
  test('steps: done ✓, current >, each node\'s weight', () => {
    const s = stepLines(fraudCanary());
    expect(texts(s.lines)).toEqual(['STEPS (3)', '✓  1  gpu01  10%  cpu01  10%  canary 10%', '>  2  gpu01  50%  cpu01  50%  canary 50%', '   3  gpu01 100%  cpu01 100%  all traffic']);
    expect(s.focus).toBe(2);
  });
  test('nodes: stable, weight, state, error', () => {
    const t = texts(nodeLines(resnetPaused()).lines);
    expect(t[1]).toMatch(/NODE +STABLE +WEIGHT +STATE +ERROR/);
    expect(t[4]).toMatch(/gpu06 +– +0% +unreachable +connect ECONNREFUSED/);
  });
  test('analysis: the last judging decision\'s figures next to the thresholds, failures marked', () => {
    const ok = texts(analysisLines(fraudCanary()).lines);
    expect(ok[0]).toBe('ANALYSIS · thresholds: error rate ≤ 1% · p95 ratio ≤ 1.5 · drift ≤ 0.2 · requests ≥ 100');
    expect(ok[1]).toMatch(/last: step 1 at \S+ · pass: within thresholds on gpu01, cpu01/);
    expect(ok[3]).toBe('  cpu01  requests 150 ≥ 100 ok · error rate 0.2% ≤ 1% ok · p95 ratio 0.98 ≤ 1.5 ok · drift - ≤ 0.2 (unknown)');
    const bad = analysisLines(churnRolledBack());
    // the analysis that failed, not the rollback that repeats its figures
    expect(bad.lines[1].text).toMatch(/fail: gpu01: p95 ratio 2.1 > 1.5$/);
    expect(bad.lines[2]).toMatchObject({ tone: 'bad' });
    expect(bad.lines[2].text).toContain('p95 ratio 2.1 ≤ 1.5 FAIL');
    expect(texts(analysisLines(fraudCanary({ decisions: [] })).lines)[1]).toContain('no analysis yet');
  });
  test('thresholds come from the stored spec', () => {
    const r = fraudCanary({ spec: spec({ analysis: { max_error_rate: 0.05, max_p95_ratio: 2, max_drift: 0.2, min_requests: 10, max_waits: 3 } }) });
    expect(analysisLines(r).lines[0].text).toBe('ANALYSIS · thresholds: error rate ≤ 5% · p95 ratio ≤ 2 · drift ≤ 0.2 · requests ≥ 10');
  });
  test('shadow shows the disagreement; a rollback\'s figures stand in when nothing judged', () => {
    const d = { ts: T0, step: 0, outcome: 'pass' as const, reason: 'ok', by: 'coordinator' };
    const shadow = fraudCanary({ strategy: 'shadow', decisions: [{ ...d, kind: 'analysis', figures: [figures('gpu01', { disagreement: 0.031 })] }] });
    expect(analysisLines(shadow).lines[2].text).toContain('disagreement 3.1%');
    const rolledBack = fraudCanary({ decisions: [{ ...d, kind: 'rollback', figures: [figures('cpu01')] }] });
    expect(analysisLines(rolledBack).lines[2].text).toMatch(/^ {2}cpu01 +requests 412/);
  });
  test('decision lines: time, step, kind, outcome, reason, who', () => {
    const l = decisionLine(churnRolledBack().decisions[2]);
    expect(l.text).toMatch(/^ {2}\d\d:\d\d:\d\d #1  analysis fail  gpu01: p95 ratio 2.1 > 1.5 \(coordinator\)$/);
    expect(l.tone).toBe('bad');
  });
  test.each([4, 8, 12, 20, 30, 60])('never more lines than the height (%i)', (h) => {
    for (const r of [fraudCanary(), churnRolledBack(), resnetPaused()]) {
      for (const offset of [0, 3, 99]) expect(rolloutDetailLines(r, T0, { height: h, offset }).length).toBeLessThanOrEqual(h);
    }
  });
  test('when short, the steps shrink around the current step and the decisions keep room', () => {
    const t = texts(rolloutDetailLines(resnetPaused(), T0, { height: 14 }));
    expect(t).toContain('>  1  mig01 100%  gpu05   0%  gpu06   0%  wave 1: mig01');
    expect(t.some((l) => l.startsWith('DECISIONS (6, newest first'))).toBe(true);
    expect(t.filter((l) => /^ {2}\d\d:\d\d:\d\d #/.test(l)).length).toBeGreaterThanOrEqual(2);
  });
  test('offset scrolls the decisions (newest first)', () => {
    const top = texts(rolloutDetailLines(resnetPaused(), T0, { height: 40 }));
    expect(top.find((l) => /#1 +pause/.test(l))).toBeDefined();
    const scrolled = texts(rolloutDetailLines(resnetPaused(), T0, { height: 24, offset: 5 }));
    expect(scrolled.find((l) => /#- +plan/.test(l))).toBeDefined();
    expect(scrolled.find((l) => /#1 +pause/.test(l))).toBeUndefined();
  });
});
