import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './db.js';
import type { Role } from '../../shared/protocol/index.js';

/** A stored token (never the secret). */
export interface TokenRow { id: string; name: string; role: Role; created_at: number; last_used_at: number | null; revoked_at: number | null }

const PREFIX = 'fml';
const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Token repository: only sha256 hashes of secrets are stored. Token format: fml_<id>_<secret>. */
export class TokenStore {
  constructor(private readonly db: Db) {}

  /** Create a token; returns the plaintext once (it cannot be recovered later). */
  create(name: string, role: Role, now = Date.now()): { token: string; row: TokenRow } {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    try {
      this.db.prepare('INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(id, name, role, hash(secret), now);
    } catch (e) {
      if (String((e as Error).message).includes('UNIQUE')) throw new Error(`a token named "${name}" already exists; pick another --name or revoke it first`);
      throw e;
    }
    return { token: `${PREFIX}_${id}_${secret}`, row: { id, name, role, created_at: now, last_used_at: null, revoked_at: null } };
  }

  /** Verify a presented token; returns its row when valid and not revoked. Constant-time on the secret. */
  verify(token: string): TokenRow | null {
    const m = /^fml_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})$/.exec(token);
    if (!m) return null;
    const row = this.db.prepare('SELECT id, name, role, secret_hash, created_at, last_used_at, revoked_at FROM tokens WHERE id = ?').get(m[1]) as (TokenRow & { secret_hash: string }) | undefined;
    if (!row || row.revoked_at !== null) return null;
    const a = Buffer.from(row.secret_hash, 'hex');
    const b = Buffer.from(hash(m[2]), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    const { secret_hash: _omit, ...rest } = row;
    return rest;
  }

  /** Record use (best effort, throttled by the caller). */
  touch(id: string, now = Date.now()): void {
    this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(now, id);
  }

  /** All tokens, newest first. */
  list(): TokenRow[] {
    return this.db.prepare('SELECT id, name, role, created_at, last_used_at, revoked_at FROM tokens ORDER BY created_at DESC, name').all() as TokenRow[];
  }

  /** Revoke by name or id; returns the ids revoked (empty when no active token matched). */
  revoke(nameOrId: string, now = Date.now()): string[] {
    const rows = this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE (name = ? OR id = ?) AND revoked_at IS NULL RETURNING id').all(now, nameOrId, nameOrId) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  /** Whether a token id exists and is not revoked. */
  isActive(id: string): boolean {
    const r = this.db.prepare('SELECT revoked_at FROM tokens WHERE id = ?').get(id) as { revoked_at: number | null } | undefined;
    return r !== undefined && r.revoked_at === null;
  }

  /** Number of tokens ever created, revoked ones included. */
  totalCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
  }

  /** Number of tokens that are not revoked. */
  activeCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM tokens WHERE revoked_at IS NULL').get() as { n: number }).n;
  }
}
