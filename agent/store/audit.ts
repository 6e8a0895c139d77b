import { createHash } from 'node:crypto';
import type { Db } from './db.js';

/** One audit row: who did what, a digest of the params (not the params: they may hold secrets or tensors), and the outcome.
 * Rows the agent writes for its own decisions (rollouts) also carry a JSON `detail` (why, and the figures). */
export interface AuditEntry { ts: number; token_name: string; role: string; method: string; params_digest: string; outcome: string; remote: string | null }

/** sha256 of the canonical JSON of params. */
export function digestParams(params: unknown): string {
  return createHash('sha256').update(JSON.stringify(params ?? null)).digest('hex');
}

/** Audit log repository (append only). */
export class AuditLog {
  constructor(private readonly db: Db) {}
  /** Append a row; written before the mutation is acknowledged. */
  record(e: Omit<AuditEntry, 'ts' | 'params_digest'> & { params: unknown; ts?: number; detail?: unknown }): void {
    this.db.prepare('INSERT INTO audit (ts, token_name, role, method, params_digest, outcome, remote, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(e.ts ?? Date.now(), e.token_name, e.role, e.method, digestParams(e.params), e.outcome, e.remote, e.detail === undefined ? null : JSON.stringify(e.detail));
  }
  /** Latest rows first. */
  list(limit = 100): AuditEntry[] {
    return this.db.prepare('SELECT ts, token_name, role, method, params_digest, outcome, remote FROM audit ORDER BY id DESC LIMIT ?').all(limit) as AuditEntry[];
  }
}
