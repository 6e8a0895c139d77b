// The :auto view on fixtures parsed by the protocol's schemas: every automation of the fleet with its trigger and
// where its last run stopped (and why); Enter opens its runs; the view fits any terminal.
import { describe, expect, test } from 'vitest';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Automation, AutomationRun } from '../../shared/protocol/automation.js';
import { FakeFleetSource, T0, fleet } from './fixtures.js';
import { ENTER, ESC, renderApp } from './harness.js';
import { autoCounts, allAutomations, runLine } from '../../tui/render/auto-row.js';

const MIN = 60_000;
const job = { driver: 'process', command: ['node', 'dist/scripts/train-logreg.js'] };
const automation = (name: string, model: string, trigger: unknown, state: 'active' | 'paused' = 'active') => Automation.parse({
  name, model, state, created_at: T0 - 60 * MIN, created_by: 'ops', updated_at: T0 - 60 * MIN,
  spec: { name, model, trigger, job, gate: { metric: 'accuracy', bound: 0.9 }, rollout: { strategy: 'canary', steps: [10, 50, 100] } },
});
const run = (id: string, auto: string, model: string, state: string, over: Record<string, unknown> = {}) => AutomationRun.parse({
  id, automation: auto, model, trigger: { kind: 'drift', detail: 'drift alert on income, debt_ratio', key: 'drift:credit' }, state, reason: null,
  parent_version: '1', job_id: null, version: null, rollout_id: null, data_digest: null, data_source: null, metrics: null, repeats: 1,
  created_at: T0 - 10 * MIN, updated_at: T0 - 5 * MIN, finished_at: null, history: [], ...over,
});

function autoFleet(): FleetNode[] {
  return fleet().map((n) => n.name === 'gpu01' ? {
    ...n,
    automations: [automation('credit-retrain', 'credit', { kind: 'drift' }), automation('credit-perf', 'credit', { kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9 }, 'paused')],
    autoRuns: [
      run('r-new', 'credit-retrain', 'credit', 'gating', { version: 'auto-r-new', reason: 'testing auto-r-new on 400 held-out rows', created_at: T0 - 2 * MIN }),
      run('r-old', 'credit-retrain', 'credit', 'failed', { version: 'auto-r-old', reason: 'the gate refused auto-r-old: accuracy 0.71 < 0.9', created_at: T0 - 90 * MIN, finished_at: T0 - 80 * MIN }),
      run('r-sup', 'credit-retrain', 'credit', 'suppressed', { reason: 'cooldown: the last run ended 10 min ago (cooldown 6h)', repeats: 4, created_at: T0 - 60 * MIN }),
    ],
  } : { ...n, automations: [], autoRuns: [] });
}

describe(':auto', () => {
  test('lists every automation with its trigger and where its newest run stands; Enter opens its runs, newest first', async () => {
    const { frame, type, fits } = await renderApp({ source: new FakeFleetSource(autoFleet()) }, { rows: 30, columns: 160 });
    await type(':', 'auto', ENTER);
    const f = frame();
    expect(f).toContain('2 automations · 1 paused · 1 running · 0 succeeded · 1 failed/rolled back · 1 suppressed');
    expect(f).toMatch(/NODE +NAME +MODEL +TRIGGER +STATE +RUNS +AGE +LAST RUN/);
    expect(f).toMatch(/gpu01 +credit-perf +credit +performance:accuracy<0\.9 +paused +0 +– +no run yet/);
    expect(f).toMatch(/gpu01 +credit-retrain +credit +drift +active +3 +\S+ +gating auto-r-new: testing auto-r-new on 400 held-out rows/);
    fits();
    await type('j', ENTER);
    const d = frame();
    expect(d).toContain('credit-retrain on credit · drift · active · 3 runs');
    expect(d.indexOf('r-new')).toBeLessThan(d.indexOf('r-sup'));
    expect(d.indexOf('r-sup')).toBeLessThan(d.indexOf('r-old'));
    expect(d).toMatch(/r-sup +suppressed +drift +– +\S+ +cooldown: the last run ended 10 min ago \(cooldown 6h\) \(×4\)/);
    expect(d).toMatch(/r-old +failed +drift +auto-r-old +\S+ +the gate refused auto-r-old: accuracy 0\.71 < 0\.9/);
    await type(ESC);
    expect(frame()).toContain('2 automations');
  });

  test('/ filters on name, model, trigger and the last run', async () => {
    const { frame, type } = await renderApp({ source: new FakeFleetSource(autoFleet()) }, { rows: 30, columns: 160 });
    await type(':', 'auto', ENTER, '/', 'performance', ENTER);
    expect(frame()).toContain('credit-perf');
    expect(frame()).not.toContain('credit-retrain');
  });

  test('says what to do when there is no automation', async () => {
    const nodes = autoFleet().map((n) => ({ ...n, automations: [], autoRuns: [] }));
    const { frame, type } = await renderApp({ source: new FakeFleetSource(nodes) }, { rows: 24, columns: 120 });
    await type(':', 'auto', ENTER);
    expect(frame()).toContain('no automations yet; create one with `fleetml auto create NAME --model MODEL --on drift');
  });

  test.each([[24, 80], [10, 60], [8, 40]])('never exceeds the terminal (%i×%i)', async (rows, columns) => {
    const { type, fits } = await renderApp({ source: new FakeFleetSource(autoFleet()) }, { rows, columns });
    await type(':', 'auto', ENTER);
    fits();
    await type(ENTER);
    fits();
  });

  test('pure parts: counts and a run line', () => {
    const e = allAutomations(autoFleet());
    expect(autoCounts(e)).toBe('2 automations · 1 paused · 1 running · 0 succeeded · 1 failed/rolled back · 1 suppressed');
    expect(runLine(e.find((x) => x.automation.name === 'credit-retrain')!.runs[2])).toBe('failed auto-r-old: the gate refused auto-r-old: accuracy 0.71 < 0.9');
  });
});
