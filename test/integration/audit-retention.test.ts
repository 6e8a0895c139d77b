import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { loadConfig, type AgentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { createLogger } from '../../agent/log.js';
import { tempDir } from '../helpers/agent.js';

// Audit retention on a real agent and its real SQLite file: rows written while the agent was down (as years of
// traffic would have left them) are swept at start-up — by age, then by the row cap, which spares young rows — and
// the sweep leaves its own audit row.
const HOUR = 3_600_000;
const t = tempDir();
afterAll(() => t.cleanup());

const config = (): AgentConfig => {
  const c = loadConfig({ listen: '127.0.0.1:0', dataDir: t.dir, name: 'audit-node', gpuSource: 'none', jobDriver: ['fake'] }, {});
  c.audit = { retention_days: 90, max_rows: 100, min_age_h: 24 };
  return c;
};

describe('audit retention', () => {
  it('removes rows past retention_days and the oldest beyond max_rows, never a row younger than min_age_h, and audits the sweep', async () => {
    // a first start creates the schema (and writes the first admin token's row)
    await (await startAgent(config(), createLogger('silent'))).stop();
    const now = Date.now();
    const db = new Database(join(t.dir, 'fleetml.db'));
    const ins = db.prepare("INSERT INTO audit (ts, token_name, role, method, params_digest, outcome, remote) VALUES (?, ?, 'operate', 'job.submit', 'x', 'ok', NULL)");
    db.transaction(() => {
      for (let i = 0; i < 50; i++) ins.run(now - 100 * 24 * HOUR + i, 'ancient'); // past 90 days
      for (let i = 0; i < 200; i++) ins.run(now - 48 * HOUR + i, 'old'); // older than min_age_h: the cap may take them
      for (let i = 0; i < 150; i++) ins.run(now - HOUR + i, 'young'); // over the cap too, but younger than 24 h
    })();
    const before = db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number };
    db.close();

    const agent = await startAgent(config(), createLogger('silent'));
    try {
      const ro = new Database(join(t.dir, 'fleetml.db'), { readonly: true });
      const by = (who: string) => (ro.prepare('SELECT COUNT(*) AS n FROM audit WHERE token_name = ?').get(who) as { n: number }).n;
      expect(by('ancient')).toBe(0);
      expect(by('old')).toBe(0);
      expect(by('young')).toBe(150); // the table stays above max_rows: young rows are never capped away
      expect((ro.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n).toBe(before.n - 250 + 1); // only those went, and the sweep's row came
      const rows = ro.prepare("SELECT token_name, role, method, outcome, detail FROM audit WHERE method = 'audit.retention'").all() as Array<{ token_name: string; role: string; outcome: string; detail: string }>;
      ro.close();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ token_name: 'agent', outcome: 'ok' });
      const d = JSON.parse(rows[0].detail);
      expect(d).toMatchObject({ removed: 250, by_age: 50, by_rows: 200, max_rows: 100, retention_ms: 90 * 24 * HOUR, min_age_ms: 24 * HOUR });
      expect(d.cutoff_ts).toBeGreaterThanOrEqual(now - 90 * 24 * HOUR);
      expect(d.rows_cutoff_ts).toBe(now - 48 * HOUR + 199); // the newest row the cap removed
    } finally { await agent.stop(); }
  });

  it('writes no audit row when a sweep removes nothing (a restart with nothing to remove)', async () => {
    const agent = await startAgent(config(), createLogger('silent'));
    await agent.stop();
    const ro = new Database(join(t.dir, 'fleetml.db'), { readonly: true });
    expect((ro.prepare("SELECT COUNT(*) AS n FROM audit WHERE method = 'audit.retention'").get() as { n: number }).n).toBe(1);
    ro.close();
  });
});
