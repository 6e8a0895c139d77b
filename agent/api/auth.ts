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

/**
 * Verifies tokens and slows down repeated failures per remote address:
 * after `free` failures within the window, every attempt from that address waits 2^(n-free) * 100 ms (capped)
 * BEFORE its token is checked, and at most `maxPending` attempts per address may wait at once.
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

  /** Principal for a request, or null. */
  verify(req: IncomingMessage): Principal | null {
    const t = bearerOf(req);
    if (!t) return null;
    const row = this.tokens.verify(t);
    if (!row) return null;
    const now = Date.now();
    if (now - (this.touched.get(row.id) ?? 0) > 60_000) { this.touched.set(row.id, now); try { this.tokens.touch(row.id, now); } catch { /* busy db: skip */ } }
    return { tokenId: row.id, tokenName: row.name, role: row.role };
  }

  /** Record a failure from addr; returns the penalty the next attempt from it will wait. */
  fail(addr: string, now = Date.now()): number {
    let f = this.failures.get(addr);
    if (!f || now - f.first > this.windowMs) { f = { n: 0, first: now }; this.failures.set(addr, f); }
    f.n++;
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string); // bounded memory
    return this.penalty(addr, now);
  }

  /** How long an attempt from addr waits before its token is even checked. */
  penalty(addr: string, now = Date.now()): number {
    const f = this.failures.get(addr);
    if (!f || now - f.first > this.windowMs || f.n < this.free) return 0;
    return Math.min(this.maxDelayMs, 100 * 2 ** Math.min(20, f.n - this.free));
  }

  /** A success clears the address's failure count. */
  succeed(addr: string): void { this.failures.delete(addr); }

  /** Admit one more pending attempt from addr (false when it already has maxPending waiting). */
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
