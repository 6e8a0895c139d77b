/**
 * Test sets staged by rollout.uploadTestSet: a gate's labelled data too large for one frame, sent as the bytes of its
 * JSON in chunks (in order, by offset), checked against the sha256 and the TestSet schema at the final chunk, then
 * held until rollout.start or model.evaluate uses it. In memory only: a restart drops them (the client uploads again).
 *
 * Lifecycle of one entry:   receiving ──final chunk, digest and schema ok──▶ staged ──taken / released──▶ gone
 *                              └──────────── 10 minutes without a chunk or a use ─────────────┘ (expired)
 * Invariants: an entry belongs to the token that began it (another token's id reads as unknown); unfinished and
 * staged entries together count against uploads.max_per_token and uploads.max_total (each holds memory); the bytes of
 * one upload never exceed TEST_SET_MAX_BYTES. Expiry is checked on every call (no timer).
 */
import { createHash, randomBytes } from 'node:crypto';
import { RpcError, TestSet } from '../../shared/protocol/index.js';

/** Idle time after which an unfinished or unused staged test set is dropped (ms). */
export const TEST_SET_IDLE_MS = 10 * 60_000;
/** Largest upload (bytes of JSON): far above what 50 000 rows of a few features take. */
export const TEST_SET_MAX_BYTES = 256 * 1024 ** 2;

interface Entry { id: string; by: string; touched: number; parts: Buffer[]; received: number; hash: ReturnType<typeof createHash>; set: TestSet | null }

/** The staged test sets of one agent (built by agent/main.ts, used by the rollout and model handlers). */
export class TestSetUploads {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly caps: { maxPerToken: number; maxTotal: number }, now?: () => number) { this.now = now ?? Date.now; }

  /** One chunk of rollout.uploadTestSet from `by`. */
  receive(p: { upload_id?: string; offset: number; data_b64: string; final: boolean; sha256?: string }, by: string): { upload_id: string; received_bytes: number; test_set: { id: string; name: string | null; rows: number } | null } {
    this.expire();
    let e: Entry;
    if (p.upload_id) {
      e = this.own(p.upload_id, by);
      if (e.set) throw new RpcError('CONFLICT', `test set ${e.id} is already complete: reference it (gate.test_set_id), or start a new upload without upload_id`);
    } else {
      this.admit(by);
      e = { id: `ts_${randomBytes(8).toString('hex')}`, by, touched: this.now(), parts: [], received: 0, hash: createHash('sha256'), set: null };
      this.entries.set(e.id, e);
    }
    if (p.offset !== e.received) {
      throw new RpcError('INVALID_PARAMS', `test set upload ${e.id}: chunk at offset ${p.offset}, expected ${e.received} (send the chunks in order)`, { expected_offset: e.received });
    }
    const data = Buffer.from(p.data_b64, 'base64');
    if (e.received + data.length > TEST_SET_MAX_BYTES) {
      this.entries.delete(e.id);
      throw new RpcError('INVALID_PARAMS', `test set upload ${e.id} is larger than ${TEST_SET_MAX_BYTES / 1024 ** 2} MiB: sample the test set down`);
    }
    e.parts.push(data); e.received += data.length; e.hash.update(data); e.touched = this.now();
    if (!p.final) return { upload_id: e.id, received_bytes: e.received, test_set: null };
    const digest = e.hash.digest('hex');
    // a refused final chunk ends the upload: the client starts again
    if (digest !== p.sha256) { this.entries.delete(e.id); throw new RpcError('INVALID_PARAMS', `test set upload ${e.id}: sha256 of the ${e.received} bytes received is ${digest}, the final chunk says ${p.sha256}; upload it again`); }
    let raw: unknown;
    try { raw = JSON.parse(Buffer.concat(e.parts).toString('utf8')); } catch (err) {
      this.entries.delete(e.id);
      throw new RpcError('INVALID_PARAMS', `test set upload ${e.id} is not JSON: ${(err as Error).message}`);
    }
    const parsed = TestSet.safeParse(raw);
    if (!parsed.success) {
      this.entries.delete(e.id);
      throw new RpcError('INVALID_PARAMS', `test set upload ${e.id} is not a test set ({name?, rows, labels}): ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    e.set = parsed.data; e.parts = [];
    return { upload_id: e.id, received_bytes: e.received, test_set: { id: e.id, name: e.set.name ?? null, rows: e.set.rows.length } };
  }

  /** The staged test set `id` of `by` (NOT_FOUND: unknown, another token's, expired; CONFLICT: not complete yet). */
  get(id: string, by: string): TestSet {
    this.expire();
    const e = this.own(id, by);
    if (!e.set) throw new RpcError('CONFLICT', `test set upload ${id} is not complete: send its final chunk (with the sha256) first`);
    e.touched = this.now();
    return e.set;
  }

  /** Drops a staged test set (used: stored with its rollout, or evaluated for the last time). */
  release(id: string): void { this.entries.delete(id); }

  /** Entries held now (unfinished and staged). */
  get size(): number { this.expire(); return this.entries.size; }

  private own(id: string, by: string): Entry {
    const e = this.entries.get(id);
    if (!e || e.by !== by) throw new RpcError('NOT_FOUND', `no test set ${id} of this token (staged test sets are dropped after ${TEST_SET_IDLE_MS / 60_000} minutes unused, and by a restart): upload it again`);
    return e;
  }

  private admit(by: string): void {
    const mine = [...this.entries.values()].filter((x) => x.by === by).length;
    const hint = `use or finish one, or wait until an unused one expires (${TEST_SET_IDLE_MS / 60_000} minutes)`;
    if (mine >= this.caps.maxPerToken) throw new RpcError('OVERLOADED', `token ${by} already holds ${mine} test set uploads, the most one token may hold (uploads.max_per_token ${this.caps.maxPerToken}): ${hint}`, { limit: 'uploads.max_per_token', max: this.caps.maxPerToken, unfinished: mine });
    if (this.entries.size >= this.caps.maxTotal) throw new RpcError('OVERLOADED', `the node already holds ${this.entries.size} test set uploads, the most it holds (uploads.max_total ${this.caps.maxTotal}): ${hint}`, { limit: 'uploads.max_total', max: this.caps.maxTotal, unfinished: this.entries.size });
  }

  private expire(): void {
    const now = this.now();
    for (const [id, e] of this.entries) if (now - e.touched > TEST_SET_IDLE_MS) this.entries.delete(id);
  }
}
