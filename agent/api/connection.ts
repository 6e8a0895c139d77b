import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { ConnectionLike, Principal } from './context.js';

// One sample goes to every subscriber: encode its data once, not once per connection.
const encoded = new WeakMap<object, string>();
function encodeOnce(data: unknown): string {
  if (typeof data !== 'object' || data === null) return JSON.stringify(data) ?? 'null';
  let s = encoded.get(data);
  if (s === undefined) { s = JSON.stringify(data); encoded.set(data, s); }
  return s;
}

/** Limits of one connection's send side. */
export interface SendLimits { conflateAboveBytes: number; maxBufferBytes: number }

/**
 * One WebSocket peer. Invariants:
 * - memory per connection is bounded: conflatable events keep at most one pending payload per subscription
 *   (latest wins) while the socket's send buffer is above conflateAboveBytes; a peer whose buffer passes
 *   maxBufferBytes is dropped;
 * - closing the socket disposes every subscription it holds (dispose() is idempotent).
 */
export class Connection implements ConnectionLike {
  private subs = new Map<string, { dispose: () => void; seq: number }>();
  private pending = new Map<string, string>();
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Events replaced by a newer one before they could be sent. */
  conflated = 0;
  /** Time of the last pong (or open). */
  lastPong = Date.now();

  constructor(readonly id: string, readonly ws: WebSocket, readonly principal: Principal, readonly remote: string | null,
    private readonly limits: SendLimits, private readonly log: Logger) {}

  /** Send a frame unless the peer has stopped reading (then drop it). */
  send(text: string): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.limits.maxBufferBytes) {
      this.log.warn({ conn: this.id, remote: this.remote, buffered: this.ws.bufferedAmount }, 'peer is not reading; closing');
      this.ws.terminate();
      return;
    }
    this.ws.send(text, (err) => { if (!err && this.pending.size) this.flush(); });
  }

  /** Send a binary frame (or a text one), with the same buffer limits as send(). */
  sendBinaryOrText(out: Buffer | string): void {
    if (typeof out === 'string') return this.send(out);
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.limits.maxBufferBytes) { this.ws.terminate(); return; }
    this.ws.send(out, { binary: true });
  }

  addSubscription(id: string, dispose: () => void): void { this.subs.set(id, { dispose, seq: 0 }); }

  removeSubscription(id: string): boolean {
    const s = this.subs.get(id);
    if (!s) return false;
    this.subs.delete(id); this.pending.delete(id);
    try { s.dispose(); } catch { /* ignore */ }
    return true;
  }

  get subscriptionCount(): number { return this.subs.size; }

  sendEvent(subscriptionId: string, data: unknown, conflate: boolean): void {
    const s = this.subs.get(subscriptionId);
    if (!s || this.closed) return;
    s.seq++; // seq counts events produced: a gap tells the client that conflation dropped some
    const frame = `{"jsonrpc":"2.0","method":"subscription","params":{"subscriptionId":${JSON.stringify(subscriptionId)},"seq":${s.seq},"data":${encodeOnce(data)}}}`;
    // An older event still waiting is replaced, never overtaken: events of one subscription go out in seq order.
    if (conflate && (this.pending.has(subscriptionId) || this.ws.bufferedAmount > this.limits.conflateAboveBytes)) {
      if (this.pending.has(subscriptionId)) this.conflated++;
      this.pending.set(subscriptionId, frame);
      this.scheduleFlush();
      return;
    }
    this.send(frame);
  }

  private scheduleFlush() {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => { this.flushTimer = null; this.flush(); }, 50);
  }

  private flush() {
    if (this.closed) return;
    for (const [id, frame] of this.pending) {
      if (this.ws.bufferedAmount > this.limits.conflateAboveBytes) { this.scheduleFlush(); return; }
      this.pending.delete(id);
      this.send(frame);
    }
  }

  /** Dispose all subscriptions and timers. Idempotent. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const id of [...this.subs.keys()]) this.removeSubscription(id);
    this.pending.clear();
  }
}
