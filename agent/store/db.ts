import Database from 'better-sqlite3';
import { mkdirSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { migrations } from './migrations.js';

/** The agent's SQLite handle (better-sqlite3). */
export type Db = Database.Database;

/** Open (or create) the agent database in dataDir: WAL, foreign keys on, migrations applied in order.
 * Never called at import time: main.ts (and the token CLI) call it explicitly. */
export function openStore(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The data dir is the agent's alone (tokens, database, job logs, models): process jobs run as another user and
  // must not even traverse it, whatever mode an existing directory was created with.
  try { chmodSync(dataDir, 0o700); } catch { /* not the owner: leave as is */ }
  const path = join(dataDir, 'fleetml.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // The database and its WAL/shm side files hold token hashes and the audit log: owner only, whatever the umask.
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try { if (existsSync(f)) chmodSync(f, 0o600); } catch { /* not the owner: leave as is */ }
  }
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL'); // WAL + NORMAL: durable across process crashes (kill -9); a power cut may lose the last commits
  db.pragma('busy_timeout = 5000'); // the token CLI may write while the agent runs
  migrate(db);
  return db;
}

/** Apply pending migrations; each runs in its own transaction and bumps user_version. */
export function migrate(db: Db): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) throw new Error(`database schema v${current} is newer than this agent (v${migrations.length}); upgrade fleetml`);
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}
