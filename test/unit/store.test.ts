import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, migrate } from '../../agent/store/db.js';
import { TokenStore } from '../../agent/store/tokens.js';
import { AuditLog, digestParams } from '../../agent/store/audit.js';
import { nodeIdentity } from '../../agent/store/identity.js';
import { ensureAdminToken } from '../../agent/bootstrap.js';
import { tempDir } from '../helpers/agent.js';

describe('store', () => {
  it('opens in WAL mode with foreign keys and the current schema; reopening keeps the data', () => {
    const t = tempDir();
    const db = openStore(t.dir);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    for (const f of ['fleetml.db', 'fleetml.db-wal', 'fleetml.db-shm']) expect(statSync(join(t.dir, f)).mode & 0o777).toBe(0o600);
    const id = nodeIdentity(db);
    db.close();
    const again = openStore(t.dir);
    expect(nodeIdentity(again)).toBe(id);
    expect(migrate(again)).toBe(again.pragma('user_version', { simple: true }));
    again.close();
    t.cleanup();
  });
  it('refuses a database from a newer agent', () => {
    const t = tempDir();
    const db = openStore(t.dir);
    db.pragma('user_version = 999');
    expect(() => migrate(db)).toThrow(/newer than this agent/);
    db.close(); t.cleanup();
  });
});

describe('tokens', () => {
  it('verifies a created token, rejects tampered ones, and revokes', () => {
    const t = tempDir();
    const db = openStore(t.dir);
    const s = new TokenStore(db);
    const { token, row } = s.create('ci', 'operate');
    expect(s.verify(token)).toMatchObject({ name: 'ci', role: 'operate', id: row.id });
    expect(s.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect(s.verify('fml_' + row.id + '_short')).toBeNull();
    expect(() => s.create('ci', 'read')).toThrow(/already exists/);
    expect(s.revoke('ci')).toEqual([row.id]);
    expect(s.verify(token)).toBeNull();
    expect(s.isActive(row.id)).toBe(false);
    expect(s.revoke('ci')).toEqual([]);
    db.close(); t.cleanup();
  });
  it('creates the first admin token only once, even after every token is revoked', () => {
    const t = tempDir();
    const db = openStore(t.dir);
    const s = new TokenStore(db);
    expect(ensureAdminToken(s, db, t.dir)).toMatch(/admin\.token$/);
    expect(ensureAdminToken(s, db, t.dir)).toBeNull();
    expect(s.list().map((r) => r.role)).toEqual(['admin']);
    // revoking every token (a lockdown) must not mint a new admin token at the next start
    s.revoke(s.list()[0].name);
    expect(ensureAdminToken(s, db, t.dir)).toBeNull();
    db.close(); t.cleanup();
  });
});

describe('audit', () => {
  it('records a digest of params, not the params', () => {
    const t = tempDir();
    const db = openStore(t.dir);
    const a = new AuditLog(db);
    a.record({ token_name: 'ops', role: 'admin', method: 'token.create', params: { name: 'x', secret: 'hunter2' }, outcome: 'ok', remote: '127.0.0.1' });
    const [row] = a.list();
    expect(row).toMatchObject({ token_name: 'ops', method: 'token.create', outcome: 'ok', params_digest: digestParams({ name: 'x', secret: 'hunter2' }) });
    expect(JSON.stringify(row)).not.toContain('hunter2');
    db.close(); t.cleanup();
  });
});

describe('audit retention sweep', () => {
  const HOUR = 3_600_000;
  it('sweeps periodically: rows that age past the retention go on a later run, young rows stay', async () => {
    const t = tempDir();
    const db = openStore(t.dir);
    const audit = new AuditLog(db);
    const now = Date.now();
    const add = (ts: number, who: string) => audit.record({ ts, token_name: who, role: 'operate', method: 'job.submit', params: {}, outcome: 'ok', remote: null });
    const count = (who: string) => (db.prepare('SELECT COUNT(*) AS n FROM audit WHERE token_name = ?').get(who) as { n: number }).n;
    const swept: unknown[] = [];
    const stop = audit.retain({ retentionMs: 24 * HOUR, maxRows: 1_000_000, minAgeMs: HOUR }, (r) => swept.push(r), (e) => { throw e; }, 50);
    expect(swept).toEqual([]); // nothing to remove at the first run: no row written
    add(now - 25 * HOUR, 'expired');
    add(now - 23 * HOUR, 'kept');
    await new Promise((r) => setTimeout(r, 200));
    stop();
    expect(count('expired')).toBe(0);
    expect(count('kept')).toBe(1);
    expect(swept).toHaveLength(1);
    expect(count('agent')).toBe(1);
    db.close();
    t.cleanup();
  });
  it('caps by write order but never removes a row younger than the minimum age', () => {
    const t = tempDir();
    const db = openStore(t.dir);
    const audit = new AuditLog(db);
    const now = Date.now();
    for (let i = 0; i < 10; i++) audit.record({ ts: now - 3 * HOUR, token_name: 'old', role: 'operate', method: 'm', params: {}, outcome: 'ok', remote: null });
    for (let i = 0; i < 10; i++) audit.record({ ts: now - 60_000, token_name: 'young', role: 'operate', method: 'm', params: {}, outcome: 'ok', remote: null });
    // cap 15: the 5 oldest go, all of them old
    expect(audit.sweep({ retentionMs: 90 * 24 * HOUR, maxRows: 15, minAgeMs: HOUR }, now)).toMatchObject({ removed: 5, by_age: 0, by_rows: 5 });
    // cap 5: the 5 old ones left go, the 10 young ones stay (and the first sweep's own row, written at `now`)
    expect(audit.sweep({ retentionMs: 90 * 24 * HOUR, maxRows: 5, minAgeMs: HOUR }, now)).toMatchObject({ removed: 5, by_rows: 5 });
    expect(audit.sweep({ retentionMs: 90 * 24 * HOUR, maxRows: 5, minAgeMs: HOUR }, now)).toBeNull();
    expect((db.prepare("SELECT COUNT(*) AS n FROM audit WHERE token_name = 'young'").get() as { n: number }).n).toBe(10);
    db.close();
    t.cleanup();
  });
});
