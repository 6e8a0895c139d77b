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
