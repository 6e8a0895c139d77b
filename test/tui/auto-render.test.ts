import { afterEach, describe, expect, test } from 'vitest';
import { FakeFleetSource } from './fixtures.js';
import { ENTER, renderApp, unmountAll } from './harness.js';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Automation, AutomationRun } from '../../shared/protocol/automation.js';
import { AUTO_COLUMNS, allAutomations, autoCounts, autoFilterText, autoKey, autoRow, autoTone, triggerLabel } from '../../tui/render/auto-row.js';
import { T0, fleet } from './fixtures.js';

const auto = (name: string, trigger: unknown, state: 'active' | 'paused' = 'active') => Automation.parse({
  name, model: 'credit', state, created_at: T0 - 86_400_000, created_by: 'ops', updated_at: T0 - 86_400_000,
  spec: { name, model: 'credit', trigger, job: { driver: 'process', command: ['python3', 'train.py'] }, gate: { metric: 'accuracy', bound: 0.9 } },
});
const run = (automation: string, id: string, state: AutomationRun['state'], reason: string, updated: number, repeats = 0) => AutomationRun.parse({
  id, automation, model: 'credit', trigger: { kind: 'drift', detail: 'drift alert 1', key: 'drift:v1:1' }, state, reason, parent_version: 'v1', job_id: null, version: null,
  rollout_id: null, data_digest: null, data_source: null, metrics: null, repeats, created_at: updated - 1000, updated_at: updated, finished_at: null, history: [],
});
function autoFleet(): FleetNode[] {
  return fleet().map((n, i) => (i === 0 ? { ...n, autos: {
    automations: [auto('credit-drift', { kind: 'drift' }), auto('credit-nightly', { kind: 'schedule', cron: '0 3 * * *' }, 'paused')],
    runs: [run('credit-drift', 'r2', 'suppressed', 'cooldown: run r1 ended …', T0 - 5000, 3), run('credit-drift', 'r1', 'rolling_out', 'test gate passed', T0 - 60_000)],
  } } : i === 1 ? { ...n, autos: { automations: [auto('credit-perf', { kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9 })], runs: [run('credit-perf', 'r9', 'failed', 'gate failed: accuracy 0.7 < 0.9', T0 - 120_000)] } } : n));
}

describe('automation rows', () => {
  test('every automation of the fleet, by node then name, with its newest run', () => {
    const es = allAutomations(autoFleet());
    const nodes = autoFleet().map((n) => n.name);
    expect(es.map(autoKey)).toEqual([`${nodes[0]}/credit-drift`, `${nodes[0]}/credit-nightly`, `${nodes[1]}/credit-perf`].sort((a, b) => a.localeCompare(b)));
    expect(es.find((e) => e.automation.name === 'credit-drift')?.last?.id).toBe('r1'); // in flight, though a newer trigger was suppressed
    expect(es.find((e) => e.automation.name === 'credit-nightly')?.last).toBeNull();
  });
  test('a row has a cell per column: trigger as written, the run state, its age, its reason with repeats', () => {
    const e = allAutomations(autoFleet()).find((x) => x.automation.name === 'credit-drift')!;
    const row = autoRow(e, T0);
    expect(row).toHaveLength(AUTO_COLUMNS.length);
    expect(row.slice(1)).toEqual(['credit-drift', 'credit', 'drift', 'active', 'ROLLING_OUT', '1m', 'r1: test gate passed']);
    expect(autoTone(e)).toBe('warn');
    const sup = { ...e, last: run('credit-drift', 'r2', 'suppressed', 'cooldown: run r1 ended …', T0 - 5000, 3) };
    expect(autoRow(sup, T0).slice(5)).toEqual(['SUPPRESSED', '5s', 'r2: cooldown: run r1 ended … (×4)']);
    expect(autoTone(sup)).toBe('dim');
    const perf = allAutomations(autoFleet()).find((x) => x.automation.name === 'credit-perf')!;
    expect(triggerLabel(perf.automation)).toBe('perf:accuracy<0.9');
    expect(autoTone(perf)).toBe('bad');
    const nightly = allAutomations(autoFleet()).find((x) => x.automation.name === 'credit-nightly')!;
    expect(autoRow(nightly, T0).slice(3)).toEqual(['cron 0 3 * * *', 'paused', '–', '–', 'no runs yet']);
    expect(autoFilterText(nightly)).toMatch(/credit-nightly credit cron 0 3 \* \* \* paused/);
  });
  test('the summary counts runs in flight, paused automations and bad last runs', () => {
    const es = allAutomations(autoFleet()).map((e) => (e.automation.name === 'credit-drift' ? { ...e, last: run('credit-drift', 'r1', 'rolling_out', '', T0) } : e));
    expect(autoCounts(es)).toBe('3 automations · 1 run in flight · 1 paused · 1 last run failed/rolled back');
    expect(autoCounts([])).toBe('0 automations');
  });
});

describe(':auto', () => {
  afterEach(() => unmountAll());
  test('lists every automation with its newest run, and fits the terminal', async () => {
    const { frame, type, fits } = await renderApp({ source: new FakeFleetSource(autoFleet()) }, { rows: 24, columns: 80 });
    await type(':', 'auto', ENTER);
    const f = frame();
    expect(f).toContain('3 automations · 1 run in flight · 1 paused · 1 last run failed/rolled back');
    expect(f).toMatch(/credit-drift +credit +drift +active +ROLLING_OUT/);
    expect(f).toMatch(/credit-nightly .*paused/);
    fits();
  });
});
