// Automations and their runs in SQLite (tables of the automations migration). Documents are decoded with their
// schemas on the way out (agent/store/decode.ts): a row that no longer matches is read as stored, with a warning.
import { Automation, AutomationRun, AUTO_RUN_TERMINAL_STATES } from '../../shared/protocol/index.js';
import type { Db } from '../store/db.js';
import { decodeStored, type DecodeWarn } from '../store/decode.js';

const TERMINAL_SQL = AUTO_RUN_TERMINAL_STATES.map((s) => `'${s}'`).join(',');

/** Repository of automations and runs. Every write is one statement (or one transaction): a kill -9 leaves either. */
export class AutomationStore {
  constructor(private readonly db: Db, private readonly warn?: DecodeWarn) {}

  private auto(r: { name: string; doc: string }): Automation {
    return decodeStored(Automation, r.doc, { table: 'automations', id: r.name, column: 'doc' }, this.warn);
  }
  private run(r: { id: string; doc: string }): AutomationRun {
    return decodeStored(AutomationRun, r.doc, { table: 'automation_runs', id: r.id, column: 'doc' }, this.warn);
  }

  /** Insert a new automation; false when the name exists. */
  insert(a: Automation): boolean {
    const r = this.db.prepare('INSERT INTO automations (name, model, state, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING')
      .run(a.name, a.model, a.state, JSON.stringify(a), a.created_at, a.updated_at);
    return r.changes === 1;
  }

  /** Rewrite an automation's document. */
  update(a: Automation): void {
    this.db.prepare('UPDATE automations SET state = ?, doc = ?, updated_at = ? WHERE name = ?').run(a.state, JSON.stringify(a), a.updated_at, a.name);
  }

  get(name: string): Automation | null {
    const r = this.db.prepare('SELECT name, doc FROM automations WHERE name = ?').get(name) as { name: string; doc: string } | undefined;
    return r ? this.auto(r) : null;
  }

  list(model?: string): Automation[] {
    const rows = (model
      ? this.db.prepare('SELECT name, doc FROM automations WHERE model = ? ORDER BY name').all(model)
      : this.db.prepare('SELECT name, doc FROM automations ORDER BY name').all()) as Array<{ name: string; doc: string }>;
    return rows.map((r) => this.auto(r));
  }

  /** Remove an automation and its runs (one transaction). */
  remove(name: string): boolean {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM automation_runs WHERE automation = ?').run(name);
      return this.db.prepare('DELETE FROM automations WHERE name = ?').run(name).changes === 1;
    })();
  }

  /** Insert or rewrite a run's document. */
  putRun(r: AutomationRun): void {
    this.db.prepare(`INSERT INTO automation_runs (id, automation, model, state, trigger_key, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET state = excluded.state, doc = excluded.doc, updated_at = excluded.updated_at`)
      .run(r.id, r.automation, r.model, r.state, r.trigger.key, JSON.stringify(r), r.created_at, r.updated_at);
  }

  getRun(id: string): AutomationRun | null {
    const r = this.db.prepare('SELECT id, doc FROM automation_runs WHERE id = ?').get(id) as { id: string; doc: string } | undefined;
    return r ? this.run(r) : null;
  }

  /** Runs newest first (of one automation), at most `limit`. */
  runs(automation: string | undefined, limit: number): AutomationRun[] {
    const rows = (automation
      ? this.db.prepare('SELECT id, doc FROM automation_runs WHERE automation = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(automation, limit)
      : this.db.prepare('SELECT id, doc FROM automation_runs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit)) as Array<{ id: string; doc: string }>;
    return rows.map((r) => this.run(r));
  }

  /** Runs of an automation created at or after `since` (the storm guards' view), newest first. */
  runsSince(automation: string, since: number): AutomationRun[] {
    const rows = this.db.prepare('SELECT id, doc FROM automation_runs WHERE automation = ? AND created_at >= ? ORDER BY created_at DESC, rowid DESC LIMIT 10000').all(automation, since) as Array<{ id: string; doc: string }>;
    return rows.map((r) => this.run(r));
  }

  /** The newest run of an automation that was not suppressed (its cooldown starts when it ends). */
  lastRealRun(automation: string): AutomationRun | null {
    const r = this.db.prepare("SELECT id, doc FROM automation_runs WHERE automation = ? AND state != 'suppressed' ORDER BY created_at DESC, rowid DESC LIMIT 1").get(automation) as { id: string; doc: string } | undefined;
    return r ? this.run(r) : null;
  }

  /** Runs not yet over (of one model, or all): what resumes after a restart and what the in-flight guard sees. */
  inFlight(model?: string): AutomationRun[] {
    const rows = (model
      ? this.db.prepare(`SELECT id, doc FROM automation_runs WHERE model = ? AND state NOT IN (${TERMINAL_SQL}) ORDER BY created_at`).all(model)
      : this.db.prepare(`SELECT id, doc FROM automation_runs WHERE state NOT IN (${TERMINAL_SQL}) ORDER BY created_at`).all()) as Array<{ id: string; doc: string }>;
    return rows.map((r) => this.run(r));
  }
}
