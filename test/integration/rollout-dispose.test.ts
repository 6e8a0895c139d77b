import { afterEach, describe, expect, it } from 'vitest';
import { RolloutCoordinator } from '../../agent/rollout/coordinator.js';
import { RolloutStore } from '../../agent/rollout/store.js';
import { AuditLog } from '../../agent/store/audit.js';
import { openStore, type Db } from '../../agent/store/db.js';
import { createLogger } from '../../agent/log.js';
import type { NodeCaller } from '../../agent/cluster/peers.js';
import { tempDir } from '../helpers/agent.js';

// dispose() resolves only after the step in flight has finished (main.ts closes the database right after it), with
// a real SQLite store and a NodeCaller whose model.alias hangs until the test lets it go.
let cleanup: (() => void) | null = null;
let db: Db | null = null;
afterEach(() => { db?.close(); db = null; cleanup?.(); cleanup = null; });

function fakeNodes(aliasGate: Promise<void>, calls: string[]): NodeCaller {
  const answers: Record<string, unknown> = {
    'model.list': { models: [{ name: 'm', version: '1', loaded: true, size_bytes: 10 }, { name: 'm', version: '2', loaded: true, size_bytes: 10 }] },
    'model.history': { events: [{ targets: [{ version: '1', weight: 100 }] }] },
    'model.stats': { models: [] },
  };
  return {
    self: 'n1', names: () => ['n1'], url: () => 'ws://n1',
    call: (async (_node: string, method: string) => {
      calls.push(method);
      if (method === 'model.alias') { await aliasGate; calls.push('model.alias done'); return { name: 'm', targets: [] }; }
      return answers[method];
    }) as NodeCaller['call'],
  };
}

describe('RolloutCoordinator.dispose', () => {
  it('waits for the locked step in flight before it resolves, and refuses new calls after', async () => {
    const t = tempDir(); cleanup = t.cleanup;
    db = openStore(t.dir);
    let release!: () => void;
    const gate = new Promise<void>((res) => { release = res; });
    const calls: string[] = [];
    const store = new RolloutStore(db);
    const co = new RolloutCoordinator({ store, audit: new AuditLog(db), log: createLogger('silent'), nodes: fakeNodes(gate, calls), tickMs: 20 });
    co.start();
    const r = await co.startRollout({ name: 'm', to: '2', steps: [50, 100] }, 'alice');
    const until = Date.now() + 5000;
    while (!calls.includes('model.alias') && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
    expect(calls).toContain('model.alias');
    let disposed = false;
    const d = co.dispose().then(() => { disposed = true; });
    await new Promise((res) => setTimeout(res, 100));
    expect(disposed).toBe(false);
    release();
    await d;
    expect(calls).toContain('model.alias done');
    // the step's records were written before dispose resolved (the store can close now)
    const after = store.get(r.id)!;
    expect(after.nodes[0]).toMatchObject({ state: 'serving', weight: 50 });
    expect(after.decisions.map((x) => x.kind)).toEqual(['plan', 'step']);
    expect(store.baseline(r.id)).toEqual({ n1: { cand: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0, p95: null }, shadow: null } });
    await expect(co.pause(r.id, 'alice')).rejects.toThrow(/shutting down/);
  });
});
