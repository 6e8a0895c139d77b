import { describe, expect, test } from 'vitest';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { FakeFleetActions, FakeFleetSource } from './fixtures.js';
import { CTRL_A, DOWN, ENTER, ESC, renderApp, tick, unmountAll } from './harness.js';
import { churnRolledBack, fraudCanary, resnetPaused, rolloutFleet, shadowCompleted } from './rollout-fixtures.js';
import { rolloutActions } from '../../tui/rollout-keys.js';
import { initialState } from '../../tui/state.js';

function fakeActions(): FakeFleetActions {
  const a = new FakeFleetActions();
  for (const [node, r] of [['gpu01', fraudCanary()], ['gpu01', churnRolledBack()], ['mig01', resnetPaused()]] as const) a.rollouts.set(`${node}/${r.id}`, r);
  return a;
}

interface StartOpts { size?: { rows: number; columns: number }; actions?: FakeFleetActions | null; readonly?: boolean; nodes?: FleetNode[] }

async function start(o: StartOpts = {}) {
  const actions = o.actions === null ? undefined : o.actions ?? fakeActions();
  const source = new FakeFleetSource(o.nodes ?? rolloutFleet());
  return { ...(await renderApp({ source, actions, readonly: o.readonly }, o.size ?? { rows: 40, columns: 120 })), actions, source };
}

describe(':rollouts', () => {
  test('lists the rollouts of every coordinator, unfinished first; Enter opens one', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'rollouts', ENTER);
    const f = frame();
    expect(f).toContain('3 rollouts · 1 running · 1 paused · 1 rolled back/aborted/failed');
    expect(f).toMatch(/NODE +ID +MODEL +VERSIONS +STRATEGY +STATE +STEP +NODES +AGE +LAST DECISION/);
    expect(f).toMatch(/> gpu01 +ro-7f3a9 +fraud +3→4 +canary +RUNNING +2\/3 +2 +\S+ +step ok: candidate at 50%/);
    expect(f).toMatch(/mig01 +ro-99999 +resnet50 +1→2 +rolling +PAUSED +1\/3 +3/);
    expect(f).toMatch(/gpu01 +ro-11111 +churn +2→3 +canary +ROLLED_BACK/);
    // unfinished (fraud, resnet50) before the rolled back one
    expect(f.indexOf('resnet50')).toBeLessThan(f.indexOf('churn'));
    // the footer offers what the selected rollout can take: the running canary pauses, the paused one resumes
    expect(f).toContain('<p> pause  <P> promote  <ctrl+a> abort');
    expect(f).not.toContain('<r> resume');
    await type(DOWN);
    expect(frame()).toContain('<r> resume  <P> promote  <ctrl+a> abort');
    expect(frame()).not.toContain('<p> pause');
    await type('k');
    fits();
    await type(ENTER);
    expect(frame()).toContain('rollout gpu01/ro-7f3a9c21-0d4e-4b8a-9f00-1234567890ab');
    expect(frame()).toContain('fraud 3 → 4 · canary · RUNNING · coordinator gpu01');
  });
  test('the filter matches model, state and node names', async () => {
    const { frame, type } = await start();
    await type(':', 'ro', ENTER, '/', 'gpu06', ENTER);
    expect(frame()).toContain('1 rollout · 1 paused');
    expect(frame()).toMatch(/> mig01 +ro-99999 +resnet50/);
  });
  test('an agent without rollouts is named; an empty fleet says how to start one', async () => {
    const nodes = rolloutFleet().map((n) => (n.name === 'cpu01' ? { ...n, rollouts: null } : n));
    const { frame, type } = await start({ nodes });
    await type(':', 'rollouts', ENTER);
    expect(frame()).toContain('no rollouts from cpu01 (agent without rollouts?)');
    unmountAll();
    const empty = await start({ nodes: rolloutFleet().map((n) => ({ ...n, rollouts: n.rollouts ? [] : null })) });
    await empty.type(':', 'rollouts', ENTER);
    expect(empty.frame()).toContain('no rollouts yet; start one with `fleetml rollout start MODEL --to VERSION`');
  });
  test('the list follows the pushed changes (rollout.events)', async () => {
    const { frame, type, source } = await start();
    await type(':', 'rollouts', ENTER);
    expect(frame()).toMatch(/fraud +3→4 +canary +RUNNING +2\/3/);
    source.set(source.nodes.map((n) => (n.name === 'gpu01' ? { ...n, rollouts: [fraudCanary({ state: 'promoted', step: 2, updated_at: fraudCanary().updated_at + 1 }), churnRolledBack()] } : n)));
    await tick(50);
    expect(frame()).toMatch(/fraud +3→4 +canary +PROMOTED +3\/3/);
  });
});

describe('rollout detail', () => {
  test('steps with weights, nodes, the last analysis next to its thresholds, decisions newest first', async () => {
    const { frame, type, fits } = await start({ size: { rows: 40, columns: 130 } });
    await type(':', 'rollouts', ENTER, ENTER);
    const f = frame();
    expect(f).toMatch(/id ro-7f3a9c21-0d4e-4b8a-9f00-1234567890ab · step 2\/3 for \S+ \(steps of 5m\) · by alice \S+ ago · new features from Q3/);
    expect(f).toContain('test gate: accuracy ≥ 0.9, regression ≤ 0.01 on 2 rows');
    expect(f).toContain('warning: cpu01: 1.2 GiB host memory free');
    expect(f).toMatch(/✓ +1 +gpu01 +10% +cpu01 +10% +canary 10%/);
    expect(f).toMatch(/> +2 +gpu01 +50% +cpu01 +50% +canary 50%/);
    expect(f).toMatch(/ {3}3 +gpu01 100% +cpu01 100% +all traffic/);
    expect(f).toMatch(/NODE +STABLE +WEIGHT +STATE +ERROR/);
    expect(f).toMatch(/gpu01 +3 +50% +serving/);
    expect(f).toContain('ANALYSIS · thresholds: error rate ≤ 1% · p95 ratio ≤ 1.5 · drift ≤ 0.2 · requests ≥ 100');
    expect(f).toContain('gpu01  requests 412 ≥ 100 ok · error rate 0.2% ≤ 1% ok · p95 ratio 1.11 ≤ 1.5 ok · drift 0.04 ≤ 0.2 ok');
    expect(f).toContain('DECISIONS (5, newest first)');
    const order = ['step     ok    candidate at 50%', 'analysis pass  within thresholds', 'step     ok    candidate at 10%', 'gate     pass', 'plan     info'].map((s) => f.indexOf(s));
    expect(order.every((x) => x > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    fits();
  });
  test('a rolled back rollout shows the failing figure and the rollback reason', async () => {
    const { frame, type } = await start();
    await type(':', 'rollout-detail gpu01/ro-11111111-2222-4333-8444-555555555555', ENTER);
    expect(frame()).toContain('churn 2 → 3 · canary · ROLLED_BACK');
    expect(frame()).toContain('p95 ratio 2.1 ≤ 1.5 FAIL');
    expect(frame()).toMatch(/rollback ok +automatic rollback to the stable version on gpu01/);
    expect(frame()).toMatch(/gpu01 +2 +0% +rolled_back/);
  });
  test('up/down scroll the decisions when they do not fit', async () => {
    const { frame, type, fits } = await start({ size: { rows: 24, columns: 100 } });
    await type(':', 'rd mig01/ro-99999999-8888-4777-8666-555555555555', ENTER);
    expect(frame()).toMatch(/DECISIONS \(6, newest first; ↑↓ scroll\)/);
    expect(frame()).toMatch(/pause +wait +12 requests < 100 after 4 step durations/);
    fits();
    for (let i = 0; i < 6; i++) await type(DOWN);
    expect(frame()).toMatch(/plan +info +3 waves of 1 node/);
    expect(frame()).not.toMatch(/pause +wait +12 requests/);
    fits();
  });
  test('an unknown rollout says so', async () => {
    const { frame, type } = await start();
    await type(':', 'rd gpu01/nope', ENTER);
    expect(frame()).toContain('rollout "gpu01/nope" not found (yet); :rollouts lists them');
  });
});

describe('rollout keys', () => {
  test('p pauses and r resumes at once, on the coordinator', async () => {
    const { frame, type, actions } = await start();
    await type(':', 'rollouts', ENTER, 'p');
    await tick();
    expect(actions!.rolloutCalls).toEqual([{ op: 'pause', node: 'gpu01', id: fraudCanary().id }]);
    expect(frame()).toContain('pause sent: rollout ro-7f3a9 (fraud 3 → 4) on gpu01 is paused at step 2/3');
    await type('r');
    expect(frame()).toContain('is running, not paused; nothing to resume');
    await type(DOWN, 'r');
    await tick();
    expect(actions!.rolloutCalls[1]).toEqual({ op: 'resume', node: 'mig01', id: resnetPaused().id });
    await type('p');
    expect(frame()).toContain('is paused already; <r> resumes it');
  });
  test('P promotes and ctrl-a aborts only after y; n keeps it', async () => {
    const { frame, type, actions } = await start();
    await type(':', 'rollouts', ENTER, ENTER, 'P');
    expect(frame()).toContain('Promote fraud 4 to 100% on every node (now 2/3)? y/n');
    await type('n');
    expect(frame()).not.toContain('y/n');
    expect(actions!.rolloutCalls).toEqual([]);
    await type(CTRL_A);
    expect(frame()).toContain('Abort fraud → 4 and restore the previous routing? y/n');
    await type('y');
    await tick();
    expect(actions!.rolloutCalls).toEqual([{ op: 'abort', node: 'gpu01', id: fraudCanary().id }]);
    expect(frame()).toContain('abort sent: rollout ro-7f3a9 (fraud 3 → 4) on gpu01 is aborted');
  });
  test('a finished rollout takes no action; a refusal shows the coordinator\'s message', async () => {
    const actions = fakeActions();
    actions.rollouts.set(`mig01/${resnetPaused().id}`, new Error('rollout is being changed by another client (CONFLICT)'));
    const { frame, type } = await start({ actions });
    await type(':', 'rollouts', ENTER, DOWN, DOWN, CTRL_A);
    expect(frame()).toContain('is rolled back; nothing to abort');
    await type('k', 'P', 'y');
    await tick();
    expect(frame()).toContain('promote refused by mig01: rollout is being changed by another client (CONFLICT)');
  });
  test('a completed shadow rollout, like every finished one, offers no pause, resume, promote or abort', async () => {
    const nodes = rolloutFleet().map((n) => (n.name === 'gpu01' ? { ...n, rollouts: [shadowCompleted()] } : { ...n, rollouts: [] }));
    const actions = fakeActions();
    const { frame, type } = await start({ nodes, actions });
    await type(':', 'rollouts', ENTER);
    expect(frame()).toContain('COMPLETED');
    expect(frame()).not.toMatch(/<p> pause|<r> resume|<P> promote|<ctrl\+a> abort/);
    await type(ENTER);
    expect(frame()).not.toMatch(/<p> pause|<r> resume|<P> promote|<ctrl\+a> abort/);
    await type(ESC);
    await type('p');
    expect(frame()).toContain('is completed; nothing to pause');
    await type(CTRL_A);
    expect(frame()).toContain('is completed; nothing to abort');
    await type('P');
    expect(frame()).not.toContain('y/n');
    expect(actions.rolloutCalls).toEqual([]);
  });
  test.each(['promoted', 'completed', 'rolled_back', 'aborted', 'failed'] as const)('keys on a %s rollout give a message, never a call or a dialog', (state) => {
    const r = { ...shadowCompleted(), state };
    const nodes = rolloutFleet().map((n) => (n.name === 'gpu01' ? { ...n, rollouts: [r] } : n));
    for (const id of ['pauseRollout', 'resumeRollout', 'promoteRollout', 'abortRollout']) {
      const out = rolloutActions(id, initialState({ root: 'rollouts' }), { nodes, item: `gpu01/${r.id}` }) ?? [];
      expect(out.map((a) => a.type)).toEqual(['message']);
    }
  });
  test('read-only, or no actions, hides and disables every rollout key', async () => {
    for (const o of [{ readonly: true }, { actions: null }] as StartOpts[]) {
      const { frame, type, actions } = await start({ ...o, size: { rows: 50, columns: 160 } });
      await type(':', 'rollouts', ENTER);
      expect(frame()).not.toContain('<p> pause');
      await type('p', 'r', 'P', CTRL_A);
      expect(frame()).not.toContain('y/n');
      expect(actions?.rolloutCalls ?? []).toEqual([]);
      await type('?');
      expect(frame()).not.toMatch(/promote|abort|resume/);
      unmountAll();
    }
  });
  test('help marks the rollout keys dangerous and lists the views', async () => {
    const { frame, type } = await start({ size: { rows: 60, columns: 120 } });
    await type(':', 'rollouts', ENTER, '?');
    expect(frame()).toMatch(/P +promote \(dangerous\)/);
    expect(frame()).toMatch(/<ctrl\+a> +abort \(dangerous\)/);
    expect(frame()).toMatch(/:rollouts :rollout :ro +rollouts view/);
    expect(frame()).toMatch(/:rollout-detail :rd NODE\/ROLLOUT_ID +rollout-detail view/);
  });
});

test.each([[24, 80], [12, 60], [8, 40], [50, 200]])('rollout views never exceed the terminal (%i×%i)', async (rows, columns) => {
  const { type, fits } = await start({ size: { rows, columns } });
  await type(':', 'rollouts', ENTER);
  fits();
  await type(ENTER);
  fits();
  for (let i = 0; i < 8; i++) await type(DOWN);
  fits();
  await type(ESC, DOWN, ENTER);
  fits();
  await type('P');
  fits();
  await type('n', '?');
  fits();
});
