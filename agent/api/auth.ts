import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TokenStore } from '../store/tokens.js';
import type { Principal } from './context.js';

/** Extract a bearer token from the upgrade/HTTP request (Authorization header only: tokens never go in URLs). */
export function bearerOf(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

/** Key of a presented credential in the failure table: a short digest, never the token itself. */
function credentialKey(token: string | null): string {
  return token === null ? 'cred:none' : `cred:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}

/**
 * Verifies tokens and slows down repeated FAILURES (brute force, a script retrying a stale token).
 *
 * Invariants (each one was an attack before):
 * - A valid token is checked first and answered at once: no penalty, no pending limit. Failing clients on the same
 *   address (all of loopback, one SSH tunnel, one NAT) can never lock out a client that holds a valid token.
 * - Failures count per address AND per presented credential. After `free` failures in the window, a failing
 *   attempt waits 2^(n-free) * 100 ms (capped at maxDelayMs) before its 401, using the larger of the two counts;
 *   at most `maxPending` failing attempts per address wait at once (more answer 429 at once).
 * - A success does not clear the address's count: a valid login from a shared address must not reset the
 *   slow-down of a guesser behind the same address. Counts expire with the window.
 * - Memory is bounded: at most MAX_KEYS failure records (oldest dropped first).
 */
export class Authenticator {
  private failures = new Map<string, { n: number; first: number }>();
  private touched = new Map<string, number>();
  private pending = new Map<string, number>();
  constructor(
    private readonly tokens: TokenStore,
    private readonly free: number,
    private readonly maxDelayMs: number,
    private readonly windowMs = 10 * 60_000,
    private readonly maxPending = 16,
  ) {}

  /** Most failure records kept (addresses and credentials together). */
  static readonly MAX_KEYS = 10_000;

  /** Authenticate a request: the principal of a valid token at once; else, after the failure penalty, null
   * (or 'busy' when too many failing attempts from this address are already waiting). `onFailure` is called once
   * per failed attempt (metrics). */
  async check(req: IncomingMessage, addr: string, onFailure?: () => void): Promise<Principal | null | 'busy'> {
    const token = bearerOf(req);
    const p = token ? this.verifyToken(token) : null;
    if (p) return p;
    onFailure?.();
    const cred = credentialKey(token);
    const addrKey = `addr:${addr}`;
    if (!this.enter(addr)) { this.fail(addrKey); this.fail(cred); return 'busy'; }
    try {
      const wait = Math.max(this.penalty(addrKey), this.penalty(cred));
      this.fail(addrKey);
      this.fail(cred);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return null;
    } finally {
      this.leave(addr);
    }
  }

  private verifyToken(t: string): Principal | null {
    const row = this.tokens.verify(t);
    if (!row) return null;
    const now = Date.now();
    if (now - (this.touched.get(row.id) ?? 0) > 60_000) { this.touched.set(row.id, now); try { this.tokens.touch(row.id, now); } catch { /* busy db: skip */ } }
    return { tokenId: row.id, tokenName: row.name, role: row.role };
  }

  /** Record a failure under key (an address or a credential); returns the penalty the next failing attempt under
   * it will wait. */
  fail(key: string, now = Date.now()): number {
    let f = this.failures.get(key);
    if (!f || now - f.first > this.windowMs) f = { n: 0, first: now };
    // re-insert on every failure: the map's order is what eviction drops first, so a key that keeps failing (one
    // address behind many guessed credentials) stays while one-off credential keys go
    this.failures.delete(key);
    this.failures.set(key, f);
    f.n++;
    while (this.failures.size > Authenticator.MAX_KEYS) this.failures.delete(this.failures.keys().next().value as string);
    return this.penalty(key, now);
  }

  /** How long a failing attempt under key waits before its answer. */
  penalty(key: string, now = Date.now()): number {
    const f = this.failures.get(key);
    if (!f || now - f.first > this.windowMs || f.n < this.free) return 0;
    return Math.min(this.maxDelayMs, 100 * 2 ** Math.min(20, f.n - this.free));
  }

  /** Admit one more pending failing attempt from addr (false when it already has maxPending waiting). */
  enter(addr: string): boolean {
    const n = this.pending.get(addr) ?? 0;
    if (n >= this.maxPending) return false;
    this.pending.set(addr, n + 1);
    return true;
  }
  /** The attempt from addr is answered. */
  leave(addr: string): void {
    const n = (this.pending.get(addr) ?? 1) - 1;
    if (n <= 0) this.pending.delete(addr); else this.pending.set(addr, n);
  }

  /** Whether a token id is still active (checked on the ping tick for open sessions). */
  stillActive(tokenId: string): boolean { return this.tokens.isActive(tokenId); }
}
