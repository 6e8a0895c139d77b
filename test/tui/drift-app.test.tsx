import { describe, expect, test } from 'vitest';
import { churnHistory, churnReport, driftFleet } from './drift-fixtures.js';
import { FakeFleetActions, FakeFleetSource } from './fixtures.js';
import { DOWN, ENTER, ESC, renderApp, tick } from './harness.js';

function fakeActions(): FakeFleetActions {
  const a = new FakeFleetActions();
  a.reports.set('gpu01/churn', churnReport());
  a.histories.set('gpu01/churn', churnHistory());
  return a;
}

async function start(size = { rows: 30, columns: 110 }, actions = fakeActions()) {
  return { ...(await renderApp({ source: new FakeFleetSource(driftFleet()), actions }, size)), actions };
}

describe(':drift', () => {
  test('lists every version with its alert state, alerted first; Enter opens its drift', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'drift', ENTER);
    const f = frame();
    expect(f).toContain('5 versions · 1 with an active drift alert');
    expect(f).toMatch(/NODE +MODEL +VERSION +LOADED +ALERT +SHARE +DRIFTING/);
    expect(f).toMatch(/> gpu01 +churn +3 +yes +ALERT +50% +age, income/);
    expect(f).toMatch(/gpu01 +resnet50 +2 +yes +no +–/);
    fits();
    await type(ENTER);
    expect(frame()).toContain('drift gpu01/churn@3 · window 1h');
    expect(frame()).toContain('ACTIVE ALERT: drift in age, income');
  });
  test('the model drift screen: header, feature table, sparkline and histogram of the selected feature', async () => {
    const { frame, type, fits, actions } = await start({ rows: 40, columns: 110 });
    await type(':', 'drift-model gpu01/churn@3', ENTER);
    await tick(50);
    const f = frame();
    expect(f).toMatch(/churn@3 on gpu01 · window 1h \(\d\d:\d\d → \d\d:\d\d\) · 1,200 rows/);
    expect(f).toContain('reference: dataset train.csv · 800 rows · matched by name');
    expect(f).toContain('dataset drift: YES · share 50% (2/4 features) ≥ threshold 50% · predictions: no drift');
    expect(f).toMatch(/ACTIVE ALERT: drift in age, income · 3 windows in a row/);
    expect(f).toMatch(/FEATURE +METHOD +SCORE +THRESHOLD +STATUS +MISSING% +PSI +QUALITY/);
    // Drifting rows say DRIFT in text: readable with NO_COLOR.
    expect(f).toMatch(/> age +ks +0\.0012 +<0\.05 +DRIFT +0% +0\.310/);
    expect(f).toMatch(/income +wasserstein +0\.180 +≥0\.1 +DRIFT +1\.3% +0\.220 +range/);
    expect(f).toMatch(/region +jensenshannon +– +≥0\.1 +ignored/);
    expect(f).toMatch(/→ churn_prob +wasserstein/);
    expect(f).toMatch(/age score \(ks <0\.05\): +[▁▂▃▄▅▆▇█]+ now 0\.0012 · last window 0\.0012 · 12 windows/);
    expect(f).toContain('age over 1h (ref: reference, cur: current window)');
    expect(f).toMatch(/\[18, 30\) ref █+/);
    fits();
    expect(actions.driftCalls.find((c) => c.method === 'report')?.opts).toMatchObject({ version: '3', window: '1h', histograms: true });
  });
  test('up/down select a feature: its sparkline and histogram follow', async () => {
    const { frame, type, actions } = await start({ rows: 40, columns: 110 });
    await type(':', 'dm gpu01/churn@3', ENTER);
    await tick(50);
    await type(DOWN);
    await tick(50);
    expect(frame()).toMatch(/> income +wasserstein/);
    expect(frame()).toContain('income score (wasserstein ≥0.1)');
    expect(frame()).toContain('income over 1h');
    expect(frame()).toMatch(/low +ref █+/);
    // The first report had every histogram (no feature named yet): moving needs no new call. The poller's tests cover asking at once.
    expect(actions.driftCalls[0].opts.feature).toBeUndefined();
    await type('k');
    expect(frame()).toMatch(/> age +ks/);
  });
  test('w cycles the window 1h → 24h → 5m → 1h and asks the agent for it', async () => {
    const { frame, type, actions } = await start();
    await type(':', 'drift-model gpu01/churn@3', ENTER, 'w');
    await tick(50);
    expect(frame()).toContain('drift gpu01/churn@3 · window 24h');
    expect(frame()).toMatch(/churn@3 on gpu01 · window 24h/);
    await type('w');
    await tick(50);
    expect(frame()).toContain('window 5m');
    await type('w');
    expect(frame()).toContain('window 1h');
    expect(actions.driftCalls.filter((c) => c.method === 'report').map((c) => c.opts.window)).toEqual(expect.arrayContaining(['1h', '24h', '5m']));
  });
  test('`d` on a model row or in the model detail opens its drift; Esc goes back', async () => {
    const { frame, type } = await start();
    await type(':', 'models', ENTER, DOWN);
    expect(frame()).toMatch(/> gpu01 +churn/);
    expect(frame()).toContain('<d> drift');
    await type('d');
    await tick(50);
    expect(frame()).toContain('drift gpu01/churn@3');
    expect(frame()).toContain('ACTIVE ALERT');
    await type(ESC);
    expect(frame()).toMatch(/> gpu01 +churn/);
    await type(ENTER, 'd');
    expect(frame()).toContain('drift gpu01/churn@3');
  });
  test('a failing call shows the agent\'s message and the retry; leaving the view stops polling', async () => {
    const actions = fakeActions();
    actions.reports.set('gpu01/churn', new Error('churn@3 has no reference yet; set one with `fleetml drift reference churn --from FILE`'));
    const { frame, type } = await start(undefined, actions);
    await type(':', 'drift-model gpu01/churn@3', ENTER);
    await tick(50);
    expect(frame()).toMatch(/error: churn@3 has no reference yet; set one with `fleetml drift reference churn --from FILE` · retrying in \ds/);
    await type(ESC);
    const n = actions.driftCalls.length;
    await tick(300);
    expect(actions.driftCalls.length).toBe(n);
    expect(actions.driftCalls.some((c) => c.overlapping)).toBe(false);
  });
  test('a node without drift monitoring: alerts unknown, shown as "–"', async () => {
    const src = new FakeFleetSource(driftFleet().map((n) => (n.name === 'mig01' ? { ...n, driftAlerts: null } : n)));
    const r = await renderApp({ source: src, actions: fakeActions(), title: undefined }, { rows: 30, columns: 110 });
    await r.type(':', 'drift', ENTER);
    expect(r.lastFrame()).toMatch(/mig01 +resnet50 +2 +yes +– +–/);
    expect(r.lastFrame()).toContain('no drift alerts from mig01');
  });
  test('help lists the drift keys and views', async () => {
    const { frame, type } = await start({ rows: 60, columns: 110 });
    await type(':', 'drift-model gpu01/churn@3', ENTER, '?');
    expect(frame()).toMatch(/w +window 5m\/1h\/24h/);
    expect(frame()).toMatch(/:drift :dr +drift view/);
    expect(frame()).toMatch(/:drift-model :dm NODE\/NAME@VERSION +drift-model view/);
  });
  test.each([[24, 80], [12, 60], [8, 40], [50, 200]])('drift views never exceed the terminal (%i×%i)', async (rows, columns) => {
    const { type, fits } = await start({ rows, columns });
    await type(':', 'drift', ENTER);
    fits();
    await type(ENTER);
    await tick(50);
    fits();
    for (let i = 0; i < 8; i++) await type(DOWN);
    fits();
    await type('w');
    await tick(50);
    fits();
    await type('?');
    fits();
  });
});
