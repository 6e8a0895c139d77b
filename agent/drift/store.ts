import { z } from 'zod';
import type { Db } from '../store/db.js';
import { decodeStored, type DecodeWarn } from '../store/decode.js';
import { DriftAlert, DriftPoint, DriftSettings, ReferenceInfo } from '../../shared/protocol/index.js';
import type { FeatureType } from '../../shared/protocol/index.js';
import type { AccJson } from './profile.js';

/** A stored reference: its info, the feature names (in feature order) and per-feature profiles. */
export interface StoredReference {
  info: ReferenceInfo;
  features: Array<{ name: string; role: 'input' | 'prediction'; type: FeatureType }>;
  profile: Array<{ edges: number[] | null; acc: AccJson }>;
}

/** A stored bucket: its window, rows, per-feature accumulators and (once closed) how it was judged. */
export interface StoredBucket { start: number; end: number; rows: number; accs: AccJson[]; judgement: DriftPoint | null }

const Names = z.array(z.string());

/** SQLite repository of the drift tables (migrations v5 and v8). Every write is one statement or one transaction. */
export class DriftStore {
  /**
   * JSON columns that reach clients (reports, history, alerts, settings) are decoded with their protocol schema;
   * a row that does not match is read as stored with one warning (agent/store/decode.ts), never lost or fatal.
   */
  constructor(private readonly db: Db, private readonly warn?: DecodeWarn) {}

  /** Runs fn in one transaction (a bucket's judgement and its alert change are written together). */
  transaction(fn: () => void): void { this.db.transaction(fn)(); }

  reference(name: string, version: string): StoredReference | null {
    const r = this.db.prepare('SELECT info, features, profile FROM drift_references WHERE name = ? AND version = ?').get(name, version) as { info: string; features: string; profile: string } | undefined;
    // info reaches clients (decoded); features and profiles are the monitor's own (JSON as written by saveReference)
    return r ? { info: decodeStored(ReferenceInfo, r.info, { table: 'drift_references', id: `${name}@${version}`, column: 'info' }, this.warn), features: JSON.parse(r.features), profile: JSON.parse(r.profile) } : null;
  }

  saveReference(name: string, version: string, ref: StoredReference): void {
    this.db.prepare('INSERT INTO drift_references (name, version, info, features, profile) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, version) DO UPDATE SET info = excluded.info, features = excluded.features, profile = excluded.profile')
      .run(name, version, JSON.stringify(ref.info), JSON.stringify(ref.features), JSON.stringify(ref.profile));
  }

  /** Upserts an open or closed bucket. */
  saveBucket(name: string, version: string, b: StoredBucket): void {
    this.db.prepare('INSERT INTO drift_buckets (name, version, start_ms, end_ms, rows, profile, judgement) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, start_ms) DO UPDATE SET end_ms = excluded.end_ms, rows = excluded.rows, profile = excluded.profile, judgement = excluded.judgement')
      .run(name, version, b.start, b.end, b.rows, JSON.stringify(b.accs), b.judgement ? JSON.stringify(b.judgement) : null);
  }

  /** Buckets of a version whose window ends after `since`, oldest first. */
  buckets(name: string, version: string, since: number, limit = 100_000): StoredBucket[] {
    const rows = this.db.prepare('SELECT start_ms, end_ms, rows, profile, judgement FROM drift_buckets WHERE name = ? AND version = ? AND end_ms > ? ORDER BY start_ms LIMIT ?')
      .all(name, version, since, limit) as Array<{ start_ms: number; end_ms: number; rows: number; profile: string; judgement: string | null }>;
    return rows.map((r) => ({ start: r.start_ms, end: r.end_ms, rows: r.rows, accs: JSON.parse(r.profile), judgement: r.judgement ? JSON.parse(r.judgement) : null }));
  }

  /**
   * Profiles of a version's buckets that start in [fromStart, toStart), oldest first, without their judgements (what
   * merging windows needs: DriftMonitor reads one hour block or a partial hour at a time).
   */
  bucketProfiles(name: string, version: string, fromStart: number, toStart: number): Array<{ start: number; end: number; rows: number; accs: AccJson[]; judged: boolean }> {
    const rows = this.db.prepare('SELECT start_ms, end_ms, rows, profile, judgement IS NOT NULL AS judged FROM drift_buckets WHERE name = ? AND version = ? AND start_ms >= ? AND start_ms < ? ORDER BY start_ms')
      .all(name, version, fromStart, Math.min(toStart, Number.MAX_SAFE_INTEGER)) as Array<{ start_ms: number; end_ms: number; rows: number; profile: string; judged: number }>;
    return rows.map((r) => ({ start: r.start_ms, end: r.end_ms, rows: r.rows, accs: JSON.parse(r.profile), judged: r.judged === 1 }));
  }

  /**
   * Stored hour blocks of a version that start in [fromStart, toStart) and were merged under reference identity `ref`,
   * oldest first (rows of another reference are left out: the caller rebuilds them).
   */
  hours(name: string, version: string, fromStart: number, toStart: number, ref: string): Array<{ start: number; rows: number; accs: AccJson[] }> {
    const rows = this.db.prepare('SELECT start_ms, rows, profile FROM drift_hours WHERE name = ? AND version = ? AND start_ms >= ? AND start_ms < ? AND ref = ? ORDER BY start_ms')
      .all(name, version, fromStart, Math.min(toStart, Number.MAX_SAFE_INTEGER), ref) as Array<{ start_ms: number; rows: number; profile: string }>;
    return rows.map((r) => ({ start: r.start_ms, rows: r.rows, accs: JSON.parse(r.profile) }));
  }

  /** Upserts the merged profile of a complete hour (same JSON form as a bucket profile). */
  saveHour(name: string, version: string, start: number, ref: string, rows: number, accs: AccJson[]): void {
    this.db.prepare('INSERT INTO drift_hours (name, version, start_ms, ref, rows, profile) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, start_ms) DO UPDATE SET ref = excluded.ref, rows = excluded.rows, profile = excluded.profile')
      .run(name, version, start, ref, rows, JSON.stringify(accs));
  }

  /** Deletes a version's hour block starting at `start` (one of its buckets changed). */
  deleteHour(name: string, version: string, start: number): void {
    this.db.prepare('DELETE FROM drift_hours WHERE name = ? AND version = ? AND start_ms = ?').run(name, version, start);
  }

  /** Judgements only (history), newest `limit`, returned oldest first. */
  judgements(name: string, version: string, since: number, limit: number): DriftPoint[] {
    const rows = this.db.prepare('SELECT judgement FROM drift_buckets WHERE name = ? AND version = ? AND end_ms > ? AND judgement IS NOT NULL ORDER BY start_ms DESC LIMIT ?')
      .all(name, version, since, limit) as Array<{ judgement: string }>;
    return rows.reverse().map((r, i) => decodeStored(DriftPoint, r.judgement, { table: 'drift_buckets', id: `${name}@${version}#${i}`, column: 'judgement' }, this.warn));
  }

  /** Buckets closed (end ≤ now) but never judged: the agent was down when they closed. */
  unjudged(now: number): Array<{ name: string; version: string; start: number }> {
    return (this.db.prepare('SELECT name, version, start_ms FROM drift_buckets WHERE judgement IS NULL AND end_ms <= ? ORDER BY start_ms').all(now) as Array<{ name: string; version: string; start_ms: number }>)
      .map((r) => ({ name: r.name, version: r.version, start: r.start_ms }));
  }

  /** The open bucket of each version (end > now), to continue after a restart. */
  open(now: number): Array<{ name: string; version: string; bucket: StoredBucket }> {
    const rows = this.db.prepare('SELECT name, version, start_ms, end_ms, rows, profile FROM drift_buckets WHERE end_ms > ? AND judgement IS NULL').all(now) as Array<{ name: string; version: string; start_ms: number; end_ms: number; rows: number; profile: string }>;
    return rows.map((r) => ({ name: r.name, version: r.version, bucket: { start: r.start_ms, end: r.end_ms, rows: r.rows, accs: JSON.parse(r.profile), judgement: null } }));
  }

  /**
   * Deletes buckets that ended before `before`, and the hour blocks that start before it (they may hold a deleted
   * bucket; a report rebuilds one from the buckets left if it still needs it).
   */
  prune(before: number): number {
    let n = 0;
    this.transaction(() => {
      n = this.db.prepare('DELETE FROM drift_buckets WHERE end_ms < ?').run(before).changes;
      n += this.db.prepare('DELETE FROM drift_hours WHERE start_ms < ?').run(before).changes;
    });
    return n;
  }

  /**
   * A version's reference changed: its stored profiles use the old bin edges and can no longer be merged into windows.
   * Judged buckets stay for the history with their judgement, their profile emptied to '[]' (windows skip a profile
   * whose length does not match the features); unjudged ones (the open bucket) are deleted. Alerts are kept.
   */
  /**
   * Keeps a version's windows across a new reference whose features have the same types: only their histograms go
   * (they count over the old bin edges); reports then estimate them from the sketches over the new edges.
   */
  unbinBuckets(name: string, version: string): void {
    this.transaction(() => {
      const rows = this.db.prepare('SELECT start_ms, profile FROM drift_buckets WHERE name = ? AND version = ?').all(name, version) as Array<{ start_ms: number; profile: string }>;
      const upd = this.db.prepare('UPDATE drift_buckets SET profile = ? WHERE name = ? AND version = ? AND start_ms = ?');
      for (const r of rows) {
        const accs = JSON.parse(r.profile) as Array<{ t: string; hist?: unknown }>;
        if (!accs.some((a) => a.t === 'n' && a.hist)) continue;
        for (const a of accs) if (a.t === 'n') a.hist = null;
        upd.run(JSON.stringify(accs), name, version, r.start_ms);
      }
      // Hour blocks were merged under the old reference: gone (rebuilt from the unbinned buckets when needed).
      this.db.prepare('DELETE FROM drift_hours WHERE name = ? AND version = ?').run(name, version);
    });
  }

  dropBuckets(name: string, version: string): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM drift_buckets WHERE name = ? AND version = ? AND judgement IS NULL').run(name, version);
      this.db.prepare("UPDATE drift_buckets SET profile = '[]' WHERE name = ? AND version = ?").run(name, version);
      this.db.prepare('DELETE FROM drift_hours WHERE name = ? AND version = ?').run(name, version);
    });
  }

  /** End of the newest bucket of a version (open or closed), or null without any. */
  lastBucketEnd(name: string, version: string): number | null {
    const r = this.db.prepare('SELECT MAX(end_ms) AS e FROM drift_buckets WHERE name = ? AND version = ?').get(name, version) as { e: number | null } | undefined;
    return r?.e ?? null;
  }

  raiseAlert(a: Omit<DriftAlert, 'id' | 'resolved_at'>): DriftAlert {
    const r = this.db.prepare('INSERT INTO drift_alerts (name, version, raised_at, resolved_at, features, predictions, drift_share, consecutive, message) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)')
      .run(a.name, a.version, a.raised_at, JSON.stringify(a.features), JSON.stringify(a.predictions), a.drift_share, a.consecutive, a.message);
    return { ...a, id: Number(r.lastInsertRowid), resolved_at: null };
  }

  /** Updates an active alert's figures (it keeps drifting). */
  updateAlert(id: number, consecutive: number, features: string[], predictions: string[], share: number): void {
    this.db.prepare('UPDATE drift_alerts SET consecutive = ?, features = ?, predictions = ?, drift_share = ? WHERE id = ?').run(consecutive, JSON.stringify(features), JSON.stringify(predictions), share, id);
  }

  /** Resolves an alert; `message` replaces its message (e.g. to say why it resolved). */
  resolveAlert(id: number, at: number, message?: string): void {
    if (message === undefined) this.db.prepare('UPDATE drift_alerts SET resolved_at = ? WHERE id = ?').run(at, id);
    else this.db.prepare('UPDATE drift_alerts SET resolved_at = ?, message = ? WHERE id = ?').run(at, message, id);
  }

  private alertRow(r: Record<string, unknown>): DriftAlert {
    const where = (column: string) => ({ table: 'drift_alerts', id: String(r.id), column });
    const features = decodeStored(Names, r.features as string, where('features'), this.warn);
    const predictions = decodeStored(Names, r.predictions as string, where('predictions'), this.warn);
    return decodeStored(DriftAlert, JSON.stringify({ id: r.id, name: r.name, version: r.version, raised_at: r.raised_at, resolved_at: r.resolved_at ?? null,
      features, predictions, prediction_drift: predictions.length > 0, drift_share: r.drift_share, consecutive: r.consecutive, message: r.message }), where('(row)'), this.warn);
  }

  activeAlerts(): DriftAlert[] {
    return (this.db.prepare('SELECT * FROM drift_alerts WHERE resolved_at IS NULL ORDER BY id').all() as Array<Record<string, unknown>>).map((r) => this.alertRow(r));
  }

  alerts(name: string, version: string, limit = 100): DriftAlert[] {
    return (this.db.prepare('SELECT * FROM drift_alerts WHERE name = ? AND version = ? ORDER BY id DESC LIMIT ?').all(name, version, limit) as Array<Record<string, unknown>>).map((r) => this.alertRow(r)).reverse();
  }

  settings(name: string): DriftSettings {
    const r = this.db.prepare('SELECT settings FROM drift_settings WHERE name = ?').get(name) as { settings: string } | undefined;
    return r ? decodeStored(DriftSettings, r.settings, { table: 'drift_settings', id: name, column: 'settings' }, this.warn) : {};
  }

  saveSettings(name: string, s: DriftSettings | null, by: string, at: number): void {
    if (s === null) this.db.prepare('DELETE FROM drift_settings WHERE name = ?').run(name);
    else this.db.prepare('INSERT INTO drift_settings (name, settings, updated_at, updated_by) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at, updated_by = excluded.updated_by')
      .run(name, JSON.stringify(s), at, by);
  }
}
