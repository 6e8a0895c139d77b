// The console's list views against REAL agent processes (the built `fleetml agent`, --gpu-source none, fake job
// driver) through the real FleetClient: the `models` topic pushes versions, load state and routing without any
// model.list poll; the models keys (load, unload, traffic split, rollout start) change the node through the agent's
// API; and after one agent is killed (SIGKILL) its rows in :jobs, :models and :drift stay, dimmed and marked stale.
// The App is rendered with ink-testing-library (keys written to its stdin, frames read back); the agent API confirms
// what the screen shows. Needs a build (`npm run build`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { render } from 'ink-testing-library';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { FleetClient } from '../../shared/client/fleet-client.js';
import { App } from '../../tui/App.js';
import { fmtClock } from '../../tui/render/stale.js';
import { freePort } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENTER = '\r';
const BACKSPACE = '\x7f';

/** Polls `probe` until `ok`, else fails with `what` and the last value. */
async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await probe();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last:\n${typeof last === 'string' ? last : JSON.stringify(last)}`);
    await sleep(100);
    last = await probe();
  }
  return last;
}

describe('the console against real agents: models topic, models keys, stale rows of a killed agent', () => {
  let dir = '';
  let a: AgentProcess;
  let b: AgentProcess;
  let ca: AgentClient;
  let cb: AgentClient;
  let fleet: FleetClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetml-tui-models-'));
    const args = ['--gpu-source', 'none', '--job-driver', 'fake'];
    [a, b] = await Promise.all([
      freePort().then((port) => spawnAgent({ dataDir: join(dir, 'a'), port, name: 'tm-a', args })),
      freePort().then((port) => spawnAgent({ dataDir: join(dir, 'b'), port, name: 'tm-b', args })),
    ]);
    ca = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
    cb = new AgentClient({ url: b.url, token: b.token, reconnect: false, callTimeoutMs: 30_000 });
    await Promise.all([ca.connect(), cb.connect()]);
    await pushModel(ca, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    await pushModel(ca, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
    await pushModel(cb, 'scorer', modelBytes('logreg.onnx'), { version: 'v1' });
    await cb.call('job.submit', { spec: { driver: 'fake', name: 'long-train', command: ['echo', 'epoch 1', '&&', 'sleep', '600'] } });
    // The model list is never polled: what the console shows of models comes from the topic alone.
    fleet = new FleetClient([{ name: 'tm-a', url: a.url, token: a.token }, { name: 'tm-b', url: b.url, token: b.token }],
      { throttleMs: 20, backoffMaxMs: 1000, pingIntervalMs: 1000, modelPollMs: 3_600_000 });
    fleet.start();
    await until(() => fleet.snapshot(), (ns) => ns.every((n) => n.conn === 'up' && n.models !== null && n.jobs !== null), 'both agents up with models and jobs');
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await ca?.close().catch(() => undefined);
    await cb?.close().catch(() => undefined);
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test('the models topic: snapshot, then push, load, alias and remove arrive as events (no model.list poll)', async () => {
    const events: unknown[] = [];
    const sub = await ca.subscribe('models', {}, (m) => { if (!m.snapshot) events.push(m.data); });
    expect(sub.snapshot.models.map((m) => `${m.name}@${m.version}`).sort()).toEqual(['credit@v1', 'credit@v2']);
    expect(sub.snapshot.aliases).toEqual([]);
    const nodeA = () => fleet.snapshot()[0];

    await pushModel(ca, 'credit', modelBytes('logreg.onnx'), { version: 'v3' });
    await until(() => events, (e) => e.some((x: any) => x.model?.version === 'v3'), 'the {model} event of the push');
    await until(() => nodeA().models?.map((m) => m.version) ?? [], (v) => v.includes('v3'), 'v3 in the fleet client after the push');

    await ca.call('model.alias', { name: 'credit', targets: [{ version: 'v3', weight: 100 }] });
    await until(() => events, (e) => e.some((x: any) => x.alias?.name === 'credit' && x.alias.targets[0].version === 'v3'), 'the {alias} event');
    await until(() => nodeA().aliases ?? [], (al) => al.some((x) => x.name === 'credit' && x.targets[0]?.version === 'v3'), 'the new routing in the fleet client');
    // The alias loaded v3 (targets are warmed before the switch): the load state came as a {model} event too.
    await until(() => nodeA().models?.find((m) => m.version === 'v3')?.loaded ?? false, (l) => l, 'v3 loaded in the fleet client');

    await ca.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    await ca.call('model.remove', { name: 'credit', version: 'v3' });
    await until(() => events, (e) => e.some((x: any) => x.removed?.version === 'v3'), 'the {removed} event');
    await until(() => nodeA().models?.map((m) => m.version) ?? [], (v) => !v.includes('v3'), 'v3 gone from the fleet client');
    await sub.close();
  }, 60_000);

  test('models keys on a real agent: l loads, u unloads (each after y), a routes a split after y, r starts a rollout; a refusal keeps the form', async () => {
    const r = render(<App source={fleet} actions={fleet} size={{ rows: 30, columns: 140 }} color={false} title="it" />);
    try {
      const type = async (...keys: string[]) => { for (const k of keys) { r.stdin.write(k); await sleep(40); } };
      const frame = () => r.lastFrame() ?? '';
      const waitFrame = (ok: (f: string) => boolean, what: string) => until(frame, ok, what);
      const loadedOnA = async (v: string) => (await ca.call('model.get', { name: 'credit', version: v })).versions[0].loaded;

      await type(':', 'models', ENTER, '/', 'tm-a credit@v2', ENTER);
      await waitFrame((f) => /^> tm-a +credit +v2 /m.test(f), 'credit v2 on tm-a selected');
      if (await loadedOnA('v2')) { await type('u', 'y'); await until(() => loadedOnA('v2'), (l) => !l, 'v2 unloaded first'); }
      await waitFrame((f) => /<l> load/.test(f.split('\n').at(-1) ?? '') && !/<u> unload/.test(f.split('\n').at(-1) ?? ''), 'the footer offering load, not unload');
      await type('l');
      await waitFrame((f) => f.includes('Load credit@v2 on tm-a'), 'the load confirmation');
      await type('y');
      await until(() => loadedOnA('v2'), (l) => l, 'v2 loaded on the agent');
      await waitFrame((f) => f.includes('loaded credit@v2 on tm-a'), 'the loaded message');
      await waitFrame((f) => /^> tm-a +credit +v2 +yes/m.test(f) && /<u> unload/.test(f.split('\n').at(-1) ?? ''), 'the row loaded (pushed by the topic) and the footer offering unload');

      await type('u');
      await waitFrame((f) => f.includes('Unload credit@v2 on tm-a?'), 'the unload confirmation');
      await type('n');
      expect(await loadedOnA('v2')).toBe(true);
      await type('u', 'y');
      await until(() => loadedOnA('v2'), (l) => !l, 'v2 unloaded on the agent');
      await waitFrame((f) => /^> tm-a +credit +v2 +no /m.test(f), 'the row unloaded');

      // Traffic split: the form starts from the node's current routing; a bad split is refused in the form.
      await type('a');
      await waitFrame((f) => f.includes('TRAFFIC SPLIT · credit on tm-a'), 'the traffic form');
      await type(...Array(20).fill(BACKSPACE), 'v2=60 v1=30', ENTER);
      await waitFrame((f) => f.includes('error: targets: weights must sum to 100 (got 90)'), 'the sum refused in the form');
      await type(...Array(20).fill(BACKSPACE), 'v2=60 v1=40', ENTER);
      await waitFrame((f) => f.includes('Route credit on tm-a: v2 60% · v1 40%? y/n'), 'the split confirmation');
      await type('y');
      await until(async () => (await ca.call('model.history', { name: 'credit', limit: 1 })).events[0]?.targets, (t) => JSON.stringify(t) === JSON.stringify([{ version: 'v2', weight: 60 }, { version: 'v1', weight: 40 }]), 'the split on the agent');
      await waitFrame((f) => f.includes('credit on tm-a now routes v2 60% · v1 40%'), 'the routed message');
      // The detail view shows the split, pushed by the topic's {alias} event (the list is never polled).
      await type(ENTER);
      await waitFrame((f) => /traffic +60% \(v2 60% · v1 40%\)/.test(f), 'the split in the model detail');
      await type('\x1b');
      await sleep(100);

      // Rollout: a version the node does not have is refused by the coordinator and the form stays open.
      await type('r');
      await waitFrame((f) => f.includes('NEW ROLLOUT · credit from tm-a'), 'the rollout form');
      await type('\x1b[Z'); // shift+tab: back to "to"
      await type(...Array(5).fill(BACKSPACE), 'v9', ENTER);
      await waitFrame((f) => /error: rollout start refused by tm-a: .*v9/.test(f), 'the refusal in the form');
      expect(frame()).toContain('NEW ROLLOUT');
      await type(...Array(5).fill(BACKSPACE), 'v2', '\t', 'v1', '\t', '\t', ...Array(12).fill(BACKSPACE), '100', '\t', ...Array(5).fill(BACKSPACE), '30', ENTER);
      await waitFrame((f) => f.includes('started rollout') && f.includes('credit → v2 (canary) coordinated by tm-a'), 'the started message');
      const list = (await ca.call('rollout.list', {})).rollouts;
      expect(list.map((x) => [x.name, x.from, x.to, x.strategy])).toContainEqual(['credit', 'v1', 'v2', 'canary']);
      await ca.call('rollout.abort', { id: list[0].id }).catch(() => undefined);
      // Every change made from the console is in the agent's audit log, like one made from the CLI.
      const db = new Database(join(a.dataDir, 'fleetml.db'), { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare("SELECT method, outcome FROM audit WHERE method IN ('model.load', 'model.unload', 'model.alias', 'rollout.start') ORDER BY id").all() as { method: string; outcome: string }[];
        for (const m of ['model.load', 'model.unload', 'model.alias', 'rollout.start']) expect(rows.some((r) => r.method === m), `an audit row for ${m}`).toBe(true);
        expect(rows.filter((r) => r.method === 'rollout.start').map((r) => r.outcome)).toContain('ok');
      } finally { db.close(); }
    } finally {
      r.unmount();
    }
  }, 90_000);

  test('an agent killed with SIGKILL: its rows stay in :jobs, :models and :drift, dimmed and marked "stale HH:MM"', async () => {
    const r = render(<App source={fleet} actions={fleet} size={{ rows: 30, columns: 140 }} color={false} title="it" />);
    try {
      const type = async (...keys: string[]) => { for (const k of keys) { r.stdin.write(k); await sleep(40); } };
      const frame = () => r.lastFrame() ?? '';
      await type(':', 'jobs', ENTER);
      await until(frame, (f) => /^. tm-b +\S+ +long-train +running/m.test(f), 'the running job of tm-b');
      const seen = fleet.snapshot()[1].lastSeen!;
      await b.stop('SIGKILL');
      await until(() => fleet.snapshot()[1].conn, (c) => c === 'unreachable', 'tm-b unreachable');
      const mark = `stale ${fmtClock(fleet.snapshot()[1].lastSeen ?? seen, Date.now())}`;
      let f = await until(frame, (x) => x.includes(mark), 'the stale mark in :jobs');
      expect(f).toMatch(new RegExp(`^. tm-b +\\S+ +long-train +running .*${mark}`, 'm'));
      expect(f).toContain('unreachable: tm-b (since');
      await type(':', 'models', ENTER);
      f = await until(frame, (x) => /^. tm-b +scorer +v1 /m.test(x), 'the model row of tm-b');
      expect(f).toMatch(new RegExp(`^. tm-b +scorer +v1 +${mark}`, 'm'));
      expect(f).toMatch(/^. tm-a +credit +v1 +(yes|no)/m); // the live node's rows are not marked
      await type(':', 'drift', ENTER);
      f = await until(frame, (x) => /^. tm-b +scorer +v1 /m.test(x), 'the drift row of tm-b');
      expect(f).toMatch(new RegExp(`^. tm-b +scorer +v1 .*${mark}`, 'm'));
      // The model keys refuse a version on the unreachable node with a message instead of a call.
      await type(':', 'models', ENTER, '/', 'tm-b', ENTER, 'l');
      await until(frame, (x) => x.includes('tm-b is unreachable'), 'the refusal message');
    } finally {
      r.unmount();
    }
  }, 60_000);
});
