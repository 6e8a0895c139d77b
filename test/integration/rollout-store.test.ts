import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { RolloutStore } from '../../agent/rollout/store.js';
import { migrate } from '../../agent/store/db.js';
import { migrations } from '../../agent/store/migrations.js';
import { tempDir } from '../helpers/agent.js';
import { fraudCanary } from '../tui/rollout-fixtures.js';

// Rows written by an agent before rollout records were typed (schema v8) still read after the upgrade: the
// coordinator's `baseline` leaves the document for its own column, the old shapes of the gate decision's figures and
// of the spec's test set are upgraded on read, and every row comes back decoded by the protocol schema.
let cleanup: (() => void) | null = null;
afterEach(() => { cleanup?.(); cleanup = null; });

describe('RolloutStore on rows of an older agent', () => {
  it('moves the baseline to its column and decodes old documents', () => {
    const t = tempDir(); cleanup = t.cleanup;
    const db = new Database(join(t.dir, 'fleetml.db'));
    for (let v = 0; v < 8; v++) db.exec(migrations[v]);
    db.pragma('user_version = 8');
    const base = { gpu01: { cand: { requests: 5, errors: 0 }, stable: { requests: 40, errors: 1, p95: 900 }, shadow: null } };
    const ev = { name: 'fraud', version: '4', rows: 2, task: 'classification', accuracy: null, f1: null, mae: 1, rmse: 1 };
    const r = fraudCanary();
    const old = {
      ...r, baseline: base,
      spec: { ...r.spec, gate: { ...r.spec.gate, test_set: { rows: [[1, 2], [3, 4]], labels: [0, 1] } } },
      decisions: [...r.decisions.filter((d) => d.kind !== 'gate'), { ts: r.created_at + 1, step: -1, kind: 'gate', outcome: 'fail', reason: 'accuracy does not apply', by: 'coordinator', figures: { candidate: ev, current: null } }],
    };
    db.prepare('INSERT INTO rollouts (id, name, state, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(r.id, r.name, r.state, JSON.stringify(old), r.created_at, r.updated_at);
    migrate(db);
    const store = new RolloutStore(db);
    expect(store.baseline(r.id)).toEqual(base);
    const doc = JSON.parse((db.prepare('SELECT doc FROM rollouts WHERE id = ?').get(r.id) as { doc: string }).doc);
    expect(doc).not.toHaveProperty('baseline');
    const got = store.get(r.id)!;
    expect(got.spec.gate?.test_set).toEqual({ name: null, rows: 2 });
    const gate = got.decisions.find((d) => d.kind === 'gate')!;
    expect(gate.kind === 'gate' && gate.figures).toMatchObject({ node: 'gpu01', metric: 'accuracy', candidate: null, current: null, candidate_all: ev, current_all: null });
    expect(store.active().map((x) => x.id)).toEqual([r.id]);
    // a save rewrites the document and leaves the bookkeeping alone
    store.save(got);
    expect(store.baseline(r.id)).toEqual(base);
    db.close();
  });

  it('reads a document that no longer decodes as stored, with a warning, and keeps serving the others', () => {
    const t = tempDir(); cleanup = t.cleanup;
    const db = new Database(join(t.dir, 'fleetml.db'));
    migrate(db);
    const warnings: string[] = [];
    const store = new RolloutStore(db, (f) => warnings.push(`${f.table}/${f.id}`));
    const good = fraudCanary();
    const bad = { ...fraudCanary(), id: 'ro-bad', nodes: fraudCanary().nodes.map((n) => ({ ...n, error: 'x'.repeat(10_000) })) };
    for (const r of [good, bad]) db.prepare('INSERT INTO rollouts (id, name, state, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(r.id, r.name, r.state, JSON.stringify(r), r.created_at, r.updated_at);
    expect(store.active().map((x) => x.id).sort()).toEqual([good.id, 'ro-bad'].sort());
    expect(store.get('ro-bad')!.nodes[0].error).toHaveLength(10_000);
    expect(store.list(undefined, 10)).toHaveLength(2);
    expect(warnings).toContain('rollouts/ro-bad');
    db.close();
  });
});
