import type { Db } from '../store/db.js';
import type { DecodeWarn } from '../store/decode.js';
import { ROLLOUT_TERMINAL_STATES, Rollout, RolloutDecision } from '../../shared/protocol/index.js';
import { Baselines } from './types.js';

/**
 * SQLite repository of rollouts (migrations v6, v7, v9): one JSON document per rollout (what clients receive),
 * rewritten in one statement per change; the coordinator's own bookkeeping (the counters at the current step's start)
 * in the `baseline` column; a rollout's test set in rollout_test_sets. Every row read back is decoded with its schema.
 */
export class RolloutStore {
  constructor(private readonly db: Db, private readonly warn?: DecodeWarn) {}

  /** Writes the document (the baseline column is left as it is). */
  save(r: Rollout): void {
    this.db.prepare('INSERT INTO rollouts (id, name, state, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, doc = excluded.doc, updated_at = excluded.updated_at')
      .run(r.id, r.name, r.state, JSON.stringify(r), r.created_at, r.updated_at);
  }

  get(id: string): Rollout | null {
    const row = this.db.prepare('SELECT id, doc FROM rollouts WHERE id = ?').get(id) as Row | undefined;
    return row ? decodeRollout(row, this.warn) : null;
  }

  list(name: string | undefined, limit: number): Rollout[] {
    const rows = (name
      ? this.db.prepare('SELECT id, doc FROM rollouts WHERE name = ? ORDER BY created_at DESC LIMIT ?').all(name, limit)
      : this.db.prepare('SELECT id, doc FROM rollouts ORDER BY created_at DESC LIMIT ?').all(limit)) as Row[];
    return rows.map((r) => decodeRollout(r, this.warn));
  }

  /** Rollouts still in progress (to resume after a restart): every stored state but the terminal ones. */
  active(): Rollout[] {
    const terminal = ROLLOUT_TERMINAL_STATES.map(() => '?').join(', ');
    return (this.db.prepare(`SELECT id, doc FROM rollouts WHERE state NOT IN (${terminal}) ORDER BY created_at`).all(...ROLLOUT_TERMINAL_STATES) as Row[]).map((r) => decodeRollout(r, this.warn));
  }

  /** Stores a rollout's test set (with the rollout document in one transaction). */
  saveWithTestSet(r: Rollout, testSet: unknown): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO rollout_test_sets (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data').run(r.id, JSON.stringify(testSet));
      this.save(r);
    })();
  }

  /** The stored test set (decoded by the caller with TestSet), or null. */
  testSet(id: string): unknown {
    const row = this.db.prepare('SELECT data FROM rollout_test_sets WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? JSON.parse(row.data) : null;
  }

  /** Records the counters at the current step's start (coordinator bookkeeping, never sent to clients). */
  setBaseline(id: string, b: Baselines): void {
    this.db.prepare('UPDATE rollouts SET baseline = ? WHERE id = ?').run(JSON.stringify(b), id);
  }

  /** The counters at the current step's start, or null (none recorded, or unreadable: the analysis counts from zero). */
  baseline(id: string): Baselines | null {
    const row = this.db.prepare('SELECT baseline FROM rollouts WHERE id = ?').get(id) as { baseline: string | null } | undefined;
    if (!row?.baseline) return null;
    const b = Baselines.safeParse(JSON.parse(row.baseline));
    return b.success ? b.data : null;
  }
}

interface Row { id: string; doc: string }

/**
 * Decodes a stored document; documents written before the decisions were typed are upgraded first (see
 * upgradeLegacy). One that still does not decode is read as stored with a warning (the policy of
 * agent/store/decode.ts): a stored rollout is never lost, and never stops the agent or the other rollouts.
 */
export function decodeRollout(row: Row, warn?: DecodeWarn): Rollout {
  const raw = JSON.parse(row.doc) as unknown;
  const first = Rollout.safeParse(raw);
  if (first.success) return first.data;
  const upgraded = upgradeLegacy(raw);
  const again = Rollout.safeParse(upgraded);
  if (again.success) return again.data;
  warn?.({ table: 'rollouts', id: row.id, column: 'doc', issues: again.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) }, 'a stored rollout does not match its schema; it is read as stored');
  return upgraded as Rollout;
}

/**
 * Shapes older agents stored: a spec whose gate kept the whole test set (now its name and row count), and gate
 * decisions that failed before judging with figures {candidate: evaluation, current: evaluation} (now GateFigures).
 * A decision whose figures still do not decode keeps its kind, reason and outcome without them.
 */
function upgradeLegacy(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const doc = raw as Record<string, unknown> & { spec?: Record<string, unknown>; nodes?: Array<{ name?: string }>; decisions?: unknown[] };
  const gate = doc.spec?.gate as { metric?: string; bound?: number; max_regression?: number; test_set?: { name?: string | null; rows?: unknown } } | undefined;
  if (gate?.test_set && Array.isArray(gate.test_set.rows)) gate.test_set = { name: gate.test_set.name ?? null, rows: gate.test_set.rows.length };
  if (Array.isArray(doc.decisions)) {
    doc.decisions = doc.decisions.map((d0) => {
      if (RolloutDecision.safeParse(d0).success || !d0 || typeof d0 !== 'object') return d0;
      const d = d0 as Record<string, unknown> & { figures?: Record<string, unknown> };
      const f = d.figures;
      if (d.kind === 'gate' && f && typeof f.candidate === 'object' && f.candidate !== null && gate?.metric) {
        const cand = f.candidate as Record<string, unknown>; const cur = (f.current ?? null) as Record<string, unknown> | null;
        const metricOf = (e: Record<string, unknown> | null) => (e && typeof e[gate.metric!] === 'number' ? e[gate.metric!] as number : null);
        const up = { ...d, figures: { node: doc.nodes?.[0]?.name ?? '', rows: cand.rows, metric: gate.metric, candidate: metricOf(cand), current: metricOf(cur), bound: gate.bound, max_regression: gate.max_regression, candidate_all: cand, current_all: cur } };
        if (RolloutDecision.safeParse(up).success) return up;
      }
      const { figures: _dropped, ...rest } = d;
      return RolloutDecision.safeParse(rest).success ? rest : d;
    });
  }
  return doc;
}
