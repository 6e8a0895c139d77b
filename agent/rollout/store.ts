import type { Db } from '../store/db.js';
import type { Rollout } from '../../shared/protocol/index.js';

/** SQLite repository of rollouts (migration v6): one JSON document per rollout, rewritten in one statement per change. */
export class RolloutStore {
  constructor(private readonly db: Db) {}

  save(r: Rollout): void {
    this.db.prepare('INSERT INTO rollouts (id, name, state, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, doc = excluded.doc, updated_at = excluded.updated_at')
      .run(r.id, r.name, r.state, JSON.stringify(r), r.created_at, r.updated_at);
  }

  get(id: string): Rollout | null {
    const row = this.db.prepare('SELECT doc FROM rollouts WHERE id = ?').get(id) as { doc: string } | undefined;
    return row ? JSON.parse(row.doc) : null;
  }

  list(name: string | undefined, limit: number): Rollout[] {
    const rows = (name
      ? this.db.prepare('SELECT doc FROM rollouts WHERE name = ? ORDER BY created_at DESC LIMIT ?').all(name, limit)
      : this.db.prepare('SELECT doc FROM rollouts ORDER BY created_at DESC LIMIT ?').all(limit)) as Array<{ doc: string }>;
    return rows.map((r) => JSON.parse(r.doc));
  }

  /** Rollouts still in progress (to resume after a restart). */
  active(): Rollout[] {
    return (this.db.prepare("SELECT doc FROM rollouts WHERE state IN ('gating', 'running', 'paused', 'rolling_back', 'aborting') ORDER BY created_at").all() as Array<{ doc: string }>).map((r) => JSON.parse(r.doc));
  }

  /** Stores a rollout's test set (with the rollout document in one transaction). */
  saveWithTestSet(r: Rollout, testSet: unknown): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO rollout_test_sets (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data').run(r.id, JSON.stringify(testSet));
      this.save(r);
    })();
  }

  testSet(id: string): unknown {
    const row = this.db.prepare('SELECT data FROM rollout_test_sets WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? JSON.parse(row.data) : null;
  }
}
