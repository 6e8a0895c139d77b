// The fleet-wide list views (issue 14): rows of an unreachable node marked stale, sorting by column (shift+letter),
// footer hints that apply to the selected row only, and the models keys (load, unload, traffic split, rollout) with
// their confirmations, hidden in read-only mode and without FleetActions.
import { describe, expect, test } from 'vitest';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { fmtClock, staleMark } from '../../tui/render/stale.js';
import { nextSort, sortRows, sortedColumns } from '../../tui/render/sort.js';
import { JOBS, FakeFleetActions, FakeFleetSource, T0 } from './fixtures.js';
import { rolloutFleet } from './rollout-fixtures.js';
import { jobTableRow } from '../../tui/views/JobsView.js';
import { modelTableRow } from '../../tui/views/ModelsView.js';
import { driftTableRow } from '../../tui/views/DriftView.js';
import { allModels } from '../../tui/render/model-row.js';
import { trafficText } from '../../tui/render/model-detail.js';
import { ENTER, ESC, SHIFT_TAB, renderApp, type AppProps } from './harness.js';

const start = (props: Partial<AppProps> = {}, size = { rows: 30, columns: 140 }) => renderApp({ actions: new FakeFleetActions(), ...props }, size);
const footer = (f: string) => f.split('\n').at(-1) ?? '';
const BACKSPACE = '\x7f';

/** The fixture fleet with gpu01 gone down at T0 (its jobs, models and alerts are what it last said). */
function gpu01Down(): FakeFleetSource {
  const src = new FakeFleetSource();
  src.nodes = src.nodes.map((n): FleetNode => (n.name === 'gpu01' ? { ...n, conn: 'unreachable', error: 'connect ECONNREFUSED', lastSeen: T0 } : n));
  return src;
}

describe('stale rows of an unreachable node', () => {
  const mark = `stale ${fmtClock(T0, Date.now())}`;
  test('fmtClock: the time on the same day, the date too on another day', () => {
    const noon = new Date(2026, 11, 3, 12, 0).getTime();
    expect(fmtClock(new Date(2026, 11, 3, 9, 5).getTime(), noon)).toBe('09:05');
    expect(fmtClock(new Date(2026, 11, 2, 23, 55).getTime(), noon)).toBe('12-02 23:55');
    expect(staleMark({ conn: 'up', lastSeen: noon }, noon)).toBeNull();
    expect(staleMark({ conn: 'unreachable', lastSeen: null }, noon)).toBe('stale');
  });
  test(':jobs keeps the jobs of a down node, dimmed, with "stale HH:MM" and a note in the summary', async () => {
    const { frame, type, fits } = await start({ source: gpu01Down() });
    await type(':', 'jobs', ENTER);
    const f = frame();
    expect(f).toMatch(new RegExp(`gpu01 +job-17 +train +running .*${mark}`));
    expect(f).toMatch(new RegExp(`gpu01 +a1queued +train-big +queued .*${mark} · needs 2 GPUs`));
    expect(f).toContain('unreachable: gpu01 (since');
    expect(f).not.toMatch(new RegExp(`sim01 .*${mark}`)); // live nodes are not marked
    fits();
  });
  test(':models shows "stale HH:MM" in LOADED (not "yes": it is not known now), and :drift marks the rows too', async () => {
    const { frame, type } = await start({ source: gpu01Down() });
    await type(':', 'models', ENTER);
    expect(frame()).toMatch(new RegExp(`gpu01 +resnet50 +2 +${mark}`));
    expect(frame()).toMatch(/mig01 +resnet50 +2 +yes \(cpu\)/);
    expect(frame()).toContain('unreachable: gpu01 (since');
    await type(':', 'drift', ENTER);
    expect(frame()).toMatch(new RegExp(`gpu01 +resnet50 +2 +yes +no +– +${mark}`));
    expect(frame()).toContain('unreachable: gpu01 (since');
  });
  test(':rollouts and the job detail mark a down node the same way', async () => {
    const nodes = rolloutFleet().map((n): FleetNode => (n.name === 'gpu01' ? { ...n, conn: 'unreachable', lastSeen: T0 } : n));
    const { frame, type } = await start({ source: new FakeFleetSource(nodes) });
    await type(':', 'rollouts', ENTER);
    expect(frame()).toMatch(new RegExp(`^. gpu01 .*${mark}`, 'm'));
    expect(frame()).not.toMatch(new RegExp(`^. mig01 .*${mark}`, 'm'));
    expect(frame()).toContain('unreachable: gpu01 (since');
    const down = await start({ source: gpu01Down() });
    await down.type(':', 'job-detail', ' ', 'gpu01/job-17', ENTER);
    expect(down.frame()).toContain(`${mark}: gpu01 is unreachable; what follows is what it last reported`);
  });
  test('the stale rows are dimmed in every view (tone dim, whatever the state), live rows keep their tone', () => {
    const [down] = gpu01Down().snapshot();
    const live = { ...down, conn: 'up' as const };
    const now = Date.now();
    const j = JOBS.running();
    expect(jobTableRow(j, down, now).tone).toBe('dim');
    expect(jobTableRow(j, live, now).tone).toBe('ok');
    const e = allModels([down]).find((x) => x.model.loaded)!;
    expect(modelTableRow(e, down, now)).toMatchObject({ tone: 'dim' });
    expect(modelTableRow(e, down, now).cells[3]).toBe(mark);
    expect(modelTableRow(e, live, now).tone).not.toBe('dim');
    const d = { ...e, alert: undefined };
    expect(driftTableRow(d, down, now)).toMatchObject({ tone: 'dim' });
    expect(driftTableRow(d, down, now).cells[6]).toBe(mark);
  });
});

describe('sort by column', () => {
  test('nextSort: ascending first, the same key again reverses, another key starts ascending', () => {
    expect(nextSort(undefined, 'name')).toEqual({ by: 'name', desc: false });
    expect(nextSort({ by: 'name', desc: false }, 'name')).toEqual({ by: 'name', desc: true });
    expect(nextSort({ by: 'name', desc: true }, 'age')).toEqual({ by: 'age', desc: false });
  });
  test('sortRows keeps the default order on ties and without a sort; sortedColumns marks the header', () => {
    const keys = { name: { column: 0, compare: (a: { n: string }, b: { n: string }) => a.n.localeCompare(b.n) } };
    const rows = [{ n: 'b', i: 1 }, { n: 'a', i: 2 }, { n: 'b', i: 3 }];
    expect(sortRows(rows, undefined, keys).map((r) => r.i)).toEqual([1, 2, 3]);
    expect(sortRows(rows, { by: 'name', desc: false }, keys).map((r) => r.i)).toEqual([2, 1, 3]);
    expect(sortRows(rows, { by: 'name', desc: true }, keys).map((r) => r.i)).toEqual([1, 3, 2]);
    expect(sortRows(rows, { by: 'age', desc: false }, keys).map((r) => r.i)).toEqual([1, 2, 3]); // a sort the view lacks
    expect(sortedColumns([{ header: 'NAME', width: 4 }], { by: 'name', desc: true }, keys)[0]).toEqual({ header: 'NAME↓', width: 5 });
  });
  test(':jobs: N sorts by name ↑, N again ↓, A by age (youngest first); the header shows the column', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'jobs', ENTER, 'N');
    const names = () => frame().split('\n').filter((l) => /^[> ] gpu01 /.test(l)).map((l) => l.split(/\s+/)[3]);
    expect(frame()).toMatch(/NAME↑/);
    const asc = names();
    expect(asc).toEqual([...asc].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    await type('N');
    expect(frame()).toMatch(/NAME↓/);
    expect(names()).toEqual([...asc].reverse());
    await type('A');
    expect(frame()).toMatch(/AGE↑/);
    expect(frame()).not.toMatch(/NAME[↑↓]/);
    expect(frame()).toMatch(/^> gpu01 +a1queued/m); // the newest job first
    fits();
  });
  test(':models: R sorts by requests/s (highest last ↑, first ↓), and Enter opens the row shown selected', async () => {
    const { frame, type } = await start();
    await type(':', 'models', ENTER, 'R', 'R');
    expect(frame()).toMatch(/REQ\/S↓/);
    expect(frame()).toMatch(/^> gpu01 +resnet50 +2 /m);
    await type(ENTER);
    expect(frame()).toContain('cluster › models › gpu01/resnet50@2');
  });
  test(':rollouts: S sorts by state; P stays promote (not a sort key)', async () => {
    const { frame, type } = await start({ source: new FakeFleetSource(rolloutFleet()) });
    await type(':', 'rollouts', ENTER, 'S');
    expect(frame()).toMatch(/STATE↑/);
    await type('?');
    expect(frame()).toMatch(/S +sort by state \(again: reverse\)/);
    expect(frame()).toMatch(/P +promote \(dangerous\)/);
    expect(frame()).not.toMatch(/P +sort/);
  });
});

describe('models keys', () => {
  test('the footer offers load on an unloaded version, unload on a loaded one, nothing on a stale node', async () => {
    const { frame, type } = await start();
    await type(':', 'models', ENTER);
    expect(frame()).toMatch(/^> gpu01 +bert-sentiment/m); // not loaded
    expect(footer(frame())).toContain('<l> load');
    expect(footer(frame())).not.toContain('<u> unload');
    await type('j');
    expect(footer(frame())).toContain('<u> unload');
    expect(footer(frame())).not.toContain('<l> load');
    const down = await start({ source: gpu01Down() });
    await down.type(':', 'models', ENTER);
    expect(footer(down.frame())).not.toMatch(/load|traffic|rollout/);
    await down.type('l');
    expect(down.frame()).toContain('gpu01 is unreachable');
  });
  test('l asks y/n then loads; n keeps it; u on an unloaded version says why nothing happens', async () => {
    const actions = new FakeFleetActions();
    const { frame, type } = await start({ actions });
    await type(':', 'models', ENTER, 'u');
    expect(frame()).toContain('bert-sentiment@0.3.1 on gpu01 is not loaded; <l> loads it');
    await type('l');
    expect(frame()).toContain('Load bert-sentiment@0.3.1 on gpu01 (into memory, warmed up)? y/n');
    await type('n');
    expect(actions.modelCalls).toEqual([]);
    await type('l', 'y');
    expect(actions.modelCalls).toEqual([{ op: 'load', node: 'gpu01', args: { name: 'bert-sentiment', version: '0.3.1' } }]);
    expect(frame()).toContain('loaded bert-sentiment@0.3.1 on gpu01');
  });
  test('a opens the traffic form; a bad split stays in the form; a good one asks y/n and routes', async () => {
    const actions = new FakeFleetActions();
    const { frame, type } = await start({ actions });
    await type(':', 'models', ENTER, 'j', 'a');
    expect(frame()).toContain('TRAFFIC SPLIT · resnet50 on gpu01');
    expect(frame()).toMatch(/> split +2=100█/);
    await type(...Array(6).fill(BACKSPACE), '2=90 1', ENTER);
    expect(frame()).toContain('error: "1" has no weight');
    await type('=10', ENTER);
    expect(frame()).toContain('Route resnet50 on gpu01: 2 90% · 1 10%? y/n');
    await type('y');
    expect(actions.modelCalls).toEqual([{ op: 'alias', node: 'gpu01', args: { name: 'resnet50', targets: [{ version: '2', weight: 90 }, { version: '1', weight: 10 }], reason: undefined } }]);
    expect(frame()).toContain('resnet50 on gpu01 now routes 2 90% · 1 10%');
  });
  test('r opens the rollout form (to = the row\'s version); a check failure and the agent\'s refusal stay in the form', async () => {
    const actions = new FakeFleetActions();
    actions.refuse = 'no stable version to replace';
    const { frame, type } = await start({ actions });
    await type(':', 'models', ENTER, 'j', 'r');
    expect(frame()).toContain('NEW ROLLOUT · resnet50 from gpu01 (coordinator)');
    expect(frame()).toMatch(/ {2}to +2$/m);
    await type(SHIFT_TAB, ...Array(3).fill('\t'), ...Array(12).fill(BACKSPACE), '10,50', ENTER);
    expect(frame()).toContain('error: steps: the last canary step must be 100');
    expect(actions.modelCalls).toEqual([]);
    await type(',100', ENTER);
    expect(frame()).toContain('error: rollout start refused by gpu01: no stable version to replace');
    expect(actions.modelCalls).toEqual([{ op: 'startRollout', node: 'gpu01', args: { name: 'resnet50', to: '2', strategy: 'canary', steps: [10, 50, 100], step_duration_s: 300 } }]);
    await type(ESC);
    expect(frame()).not.toContain('NEW ROLLOUT');
  });
  for (const size of [{ rows: 24, columns: 80 }, { rows: 10, columns: 60 }, { rows: 8, columns: 40 }]) {
    test(`the model forms and sorted, stale lists never exceed the terminal (${size.rows}×${size.columns})`, async () => {
      const { type, fits, frame } = await start({ source: gpu01Down() }, size);
      for (const keys of [[':', 'models', ENTER, 'N'], [':', 'jobs', ENTER, 'A'], [':', 'drift', ENTER, 'S']]) { await type(...keys); fits(); }
      const live = await start({}, size);
      await live.type(':', 'models', ENTER, 'a');
      live.fits();
      await live.type(ESC, 'r', SHIFT_TAB);
      live.fits();
      expect(live.frame()).toMatch(/> to +2█|> to +0\.3\.1█/);
      expect(frame()).toBeTruthy();
    });
  }
  test('read-only mode hides and disables every models key', async () => {
    const actions = new FakeFleetActions();
    const { frame, type } = await start({ actions, readonly: true });
    await type(':', 'models', ENTER, '?');
    expect(frame()).not.toMatch(/load|traffic|rollout/);
    await type(ESC, 'l', 'a', 'r', 'j', 'u');
    expect(frame()).not.toMatch(/y\/n|TRAFFIC SPLIT|NEW ROLLOUT/);
    expect(actions.modelCalls).toEqual([]);
  });
});

describe('model detail', () => {
  test('the traffic line: this version\'s share of the split, or that no split is set', () => {
    const e = allModels(new FakeFleetSource().snapshot()).find((x) => x.node === 'gpu01' && x.model.name === 'resnet50' && x.model.version === '2')!;
    expect(trafficText({ ...e, routing: [{ version: '2', weight: 90 }, { version: '1', weight: 10 }] })).toBe('90% (2 90% · 1 10%)');
    expect(trafficText({ ...e, routing: null })).toBe('– (no traffic split: requests without a version go to the newest; <a> sets one)');
  });
  test('a version on an unreachable node says so above its last figures', async () => {
    const { frame, type } = await start({ source: gpu01Down() });
    await type(':', 'model-detail', ' ', 'gpu01/resnet50@2', ENTER);
    expect(frame()).toMatch(/stale \S+( \S+)?: gpu01 is unreachable; what follows is what it last reported/);
  });
});

describe('job footer conditions', () => {
  test('the job detail of a finished job offers logs, not cancel', async () => {
    const { frame, type } = await start();
    await type(':', 'job-detail', ' ', `gpu01/${JOBS.succeeded().id}`, ENTER);
    expect(footer(frame())).toContain('<l> logs');
    expect(footer(frame())).not.toContain('cancel');
  });
});
