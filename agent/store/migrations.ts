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
  // v2: jobs and their state history
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     name TEXT,
     spec TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('queued','starting','running','succeeded','failed','cancelled','lost')),
     reason TEXT,
     exit_code INTEGER,
     oom_killed INTEGER NOT NULL DEFAULT 0,
     gpus TEXT NOT NULL DEFAULT '[]',
     attempt INTEGER NOT NULL DEFAULT 0,
     handle TEXT,
     priority INTEGER NOT NULL DEFAULT 0,
     submitted_by TEXT NOT NULL,
     submitted_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     cancel_requested INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX jobs_state ON jobs(state);
   CREATE TABLE job_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
     ts INTEGER NOT NULL,
     state TEXT NOT NULL,
     reason TEXT
   );
   CREATE INDEX job_events_job ON job_events(job_id, id);`,
  // v3: model registry (versions are immutable; artifacts live on disk by sha256) and uploads in progress
  `CREATE TABLE model_versions (
     name TEXT NOT NULL,
     version TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     size_bytes INTEGER NOT NULL,
     inputs TEXT NOT NULL,
     outputs TEXT NOT NULL,
     pushed_by TEXT NOT NULL,
     pushed_at INTEGER NOT NULL,
     lineage TEXT NOT NULL,
     seq INTEGER NOT NULL,
     PRIMARY KEY (name, version)
   );
   CREATE TABLE model_uploads (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     version TEXT,
     received INTEGER NOT NULL,
     started_at INTEGER NOT NULL,
     pushed_by TEXT NOT NULL,
     lineage TEXT NOT NULL
   );`,
  // v4: aliases (a name → weighted versions) and their history
  `CREATE TABLE model_aliases (
     name TEXT PRIMARY KEY,
     targets TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     updated_by TEXT NOT NULL
   );
   CREATE TABLE model_alias_history (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL,
     ts INTEGER NOT NULL,
     targets TEXT NOT NULL,
     updated_by TEXT NOT NULL,
     reason TEXT
   );
   CREATE INDEX model_alias_history_name ON model_alias_history(name, id);`,
  // v5: drift — a reference profile per version, closed (and the open) window buckets with their judgement, alerts,
  // per-model settings
  `CREATE TABLE drift_references (
     name TEXT NOT NULL,
     version TEXT NOT NULL,
     info TEXT NOT NULL,
     features TEXT NOT NULL,
     profile TEXT NOT NULL,
     PRIMARY KEY (name, version)
   );
   CREATE TABLE drift_buckets (
     name TEXT NOT NULL,
     version TEXT NOT NULL,
     start_ms INTEGER NOT NULL,
     end_ms INTEGER NOT NULL,
     rows INTEGER NOT NULL,
     profile TEXT NOT NULL,
     judgement TEXT,
     PRIMARY KEY (name, version, start_ms)
   );
   CREATE TABLE drift_alerts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL,
     version TEXT NOT NULL,
     raised_at INTEGER NOT NULL,
     resolved_at INTEGER,
     features TEXT NOT NULL,
     predictions TEXT NOT NULL,
     drift_share REAL NOT NULL,
     consecutive INTEGER NOT NULL,
     message TEXT NOT NULL
   );
   CREATE INDEX drift_alerts_model ON drift_alerts(name, version, id);
   CREATE TABLE drift_settings (
     name TEXT PRIMARY KEY,
     settings TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     updated_by TEXT NOT NULL
   );`,
  // v6: rollouts (one JSON document per rollout, rewritten on every change) and a detail column for audit rows the
  // agent writes itself (rollout decisions: why, and the figures)
  `CREATE TABLE rollouts (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     state TEXT NOT NULL,
     doc TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX rollouts_created ON rollouts(created_at);
   ALTER TABLE audit ADD COLUMN detail TEXT;`,
  // v7: a rollout's test set, kept apart from its document (which is rewritten on every change)
  `CREATE TABLE rollout_test_sets (
     id TEXT PRIMARY KEY,
     data TEXT NOT NULL
   );`,
  // v8: drift hour blocks — the merged profile of a version's buckets that start in one complete aligned hour (every
  // one closed and judged), with its row count and the identity of the reference it was merged under (ref), so that
  // a cold report reads ≤ 25 hour rows instead of ~300 bucket profiles
  `CREATE TABLE drift_hours (
     name TEXT NOT NULL,
     version TEXT NOT NULL,
     start_ms INTEGER NOT NULL,
     ref TEXT NOT NULL,
     rows INTEGER NOT NULL,
     profile TEXT NOT NULL,
     PRIMARY KEY (name, version, start_ms)
   );`,
  // v9: the rollout coordinator's bookkeeping (the counters at the current step's start) in its own column, out of the
  // document clients receive; documents that held it as `baseline` give it up
  `ALTER TABLE rollouts ADD COLUMN baseline TEXT;
   UPDATE rollouts SET baseline = json_extract(doc, '$.baseline'), doc = json_remove(doc, '$.baseline')
     WHERE json_type(doc, '$.baseline') = 'object';`,
  // v10: the feedback join store (agent/serving/feedback.ts) — per served version, the kept requests a label sent later
  // by request id joins: request time, the prediction of the first output row (argmax when wider than 1) and its width,
  // the input row of tabular models (float32 LE), and the label once it came. Bounded per version, expiring.
  `CREATE TABLE feedback_requests (
     name TEXT NOT NULL,
     version TEXT NOT NULL,
     request_id TEXT NOT NULL,
     ts INTEGER NOT NULL,
     pred REAL,
     width INTEGER NOT NULL,
     input BLOB,
     label REAL,
     labelled_at INTEGER
   );
   CREATE UNIQUE INDEX feedback_requests_id ON feedback_requests(name, request_id, version);
   CREATE INDEX feedback_requests_ts ON feedback_requests(name, version, ts);`,
  // v11 in the merged order (ground truth's feedback table is v10): automations (one JSON document each) and their
  // runs (a document rewritten on every step; state, model and trigger key as columns for the storm guards' queries)
  `CREATE TABLE automations (
     name TEXT PRIMARY KEY,
     model TEXT NOT NULL,
     state TEXT NOT NULL,
     doc TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE automation_runs (
     id TEXT PRIMARY KEY,
     automation TEXT NOT NULL,
     model TEXT NOT NULL,
     state TEXT NOT NULL,
     trigger_key TEXT NOT NULL,
     doc TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX automation_runs_auto ON automation_runs(automation, created_at);
   CREATE INDEX automation_runs_model_state ON automation_runs(model, state);`,
];
