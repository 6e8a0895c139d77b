/** Versioned schema migrations, applied in order at start-up. Append only: never edit a released entry. */
export const migrations: string[] = [
  // v1: tokens, audit log, node identity
  `CREATE TABLE tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('read','operate','admin')),
     secret_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     ts INTEGER NOT NULL,
     token_name TEXT NOT NULL,
     role TEXT NOT NULL,
     method TEXT NOT NULL,
     params_digest TEXT NOT NULL,
     outcome TEXT NOT NULL,
     remote TEXT
   );
   CREATE INDEX audit_ts ON audit(ts);
   CREATE TABLE node_identity (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     node_id TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
];
