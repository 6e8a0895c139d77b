import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { z } from 'zod';
import { PROTOCOL_HEADER, PROTOCOL_VERSION, BinaryInferResponseHeader, ErrorCodes, Hello, decodeFrame, encodeFrame, errorNameOf, methods, splitPayload, topics } from '../protocol/index.js';
import type { MethodName, ParamsOf, ResultOf, TopicEvent, TopicName, TopicParamsIn, TopicSnapshot } from '../protocol/index.js';

/** Options of an agent connection (defaults in brackets). */
export interface AgentClientOptions {
  url: string;
  token: string;
  /** Reconnect with backoff after a drop [true]. */
  reconnect?: boolean;
  /** Backoff bounds, ms [250, 30000]; jittered, doubled per failure, reset on success. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Client-side ping; a missed pong drops the connection [10000]. */
  pingIntervalMs?: number;
  /** Per-call timeout, ms [15000]. */
  callTimeoutMs?: number;
  /** Connect timeout, ms [5000]. */
  connectTimeoutMs?: number;
  /** Extra CA (PEM) for wss with a private CA. */
  ca?: string | Buffer;
}

/** Connection states reported by the `state` event. */
export type ClientState = 'connecting' | 'open' | 'unreachable' | 'unauthorized' | 'incompatible' | 'closed';

/** An error answered by the agent: the JSON-RPC code, its stable name, the message and data. */
export class RpcCallError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
    this.name = 'RpcCallError';
  }
  /** Stable symbolic code (e.g. "FORBIDDEN"). */
  get codeName(): string { return (this.data as { code?: string } | undefined)?.code ?? errorNameOf(this.code) ?? String(this.code); }
}

/** Why a connection attempt failed, in words a user can act on. */
export class ConnectError extends Error {
  constructor(message: string, readonly state: ClientState, readonly status?: number) { super(message); this.name = 'ConnectError'; }
}

/**
 * What a subscription handler receives: an event with its seq, or (after a reconnect) a fresh snapshot. Both are
 * decoded with the topic's schemas; `snapshot` tells them apart and narrows `data`.
 */
export type TopicMessage<T extends TopicName> =
  | { snapshot: false; seq: number; data: TopicEvent<T> }
  | { snapshot: true; seq: 0; data: TopicSnapshot<T> };
export type SubHandler<T extends TopicName> = (message: TopicMessage<T>) => void;
interface SubRecord { topic: TopicName; params: Record<string, unknown>; handler: (message: { snapshot: boolean; seq: number; data: unknown }) => void; serverId: string | null; active: boolean }

/** A live subscription: the snapshot the agent answered with, decoded with the topic's schema. */
export interface Subscription<T extends TopicName> { readonly snapshot: TopicSnapshot<T>; close(): Promise<void> }

/** An event or snapshot the agent sent that does not match the topic's declaration (reported as 'handler-error'). */
export class TopicDecodeError extends Error {
  constructor(readonly topic: TopicName, what: 'event' | 'snapshot', detail: string) {
    super(`${topic} ${what} from the agent does not match the protocol: ${detail}`);
    this.name = 'TopicDecodeError';
  }
}

const issuesText = (e: z.ZodError) => e.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

/**
 * Decode a topic's event with its schema; throws TopicDecodeError (the event is not handed on). Unknown keys are
 * dropped, so a newer agent's extra fields do not make an older client refuse its events.
 */
function decodeEvent<T extends TopicName>(topic: T, data: unknown): TopicEvent<T> {
  const r = topics[topic].event.safeParse(data);
  if (!r.success) throw new TopicDecodeError(topic, 'event', issuesText(r.error));
  return r.data as TopicEvent<T>;
}

/**
 * Decode a topic's snapshot. A list in it ({jobs}, {alerts}, {rollouts}, {lines}) is decoded item by item when the
 * whole does not decode: the items that do are kept, and `onDropped` hears about the rest. Throws TopicDecodeError
 * only when nothing can be salvaged.
 */
function decodeSnapshot<T extends TopicName>(topic: T, data: unknown, onDropped: (e: TopicDecodeError) => void): TopicSnapshot<T> {
  const schema = topics[topic].snapshot as z.ZodType;
  const r = schema.safeParse(data);
  if (r.success) return r.data as TopicSnapshot<T>;
  if (schema instanceof z.ZodObject && data && typeof data === 'object') {
    const kept: Record<string, unknown> = { ...(data as Record<string, unknown>) };
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const items = kept[key];
      if (!(field instanceof z.ZodArray) || !Array.isArray(items)) continue;
      const good: unknown[] = [];
      for (const item of items) {
        const one = (field.element as z.ZodType).safeParse(item);
        if (one.success) good.push(one.data);
        else onDropped(new TopicDecodeError(topic, 'snapshot', `${key}: an item was left out (${issuesText(one.error)})`));
      }
      kept[key] = good;
    }
    const again = schema.safeParse(kept);
    if (again.success) return again.data as TopicSnapshot<T>;
  }
  throw new TopicDecodeError(topic, 'snapshot', issuesText(r.error));
}

/**
 * A typed JSON-RPC client of one agent: calls, subscriptions, heartbeat, and reconnect with backoff that
 * resubscribes every subscription (its handler receives a fresh snapshot, meta.snapshot = true).
 * Events: 'state' (state, error|null), 'hello' (Hello).
 */
export class AgentClient extends EventEmitter {
  private ws: WebSocket | null = null;
  private nextId = 1;
  /** Calls awaiting their answer; `onResult` runs in the same tick the answer is read (before any later frame). */
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; onResult?: (result: any) => void }>();
  private subs = new Map<number, SubRecord>();
  private byServerId = new Map<string, SubRecord>();
  private subSeq = 0;
  private closedByUser = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private opening: Promise<Hello> | null = null;
  state: ClientState = 'closed';
  hello: Hello | null = null;
  lastError: string | null = null;
  /** When the next reconnect attempt happens (ms since epoch), when one is scheduled. */
  nextRetryAt: number | null = null;
  private readonly o: Required<Omit<AgentClientOptions, 'ca'>> & { ca?: string | Buffer };

  constructor(opts: AgentClientOptions) {
    super();
    this.o = { reconnect: true, backoffMinMs: 250, backoffMaxMs: 30_000, pingIntervalMs: 10_000, callTimeoutMs: 15_000, connectTimeoutMs: 5000, ...opts };
  }

  /** Connect (once); resolves with the agent's hello. With reconnect on, later drops are retried in the background. */
  connect(): Promise<Hello> {
    this.closedByUser = false;
    if (this.state === 'open' && this.hello) return Promise.resolve(this.hello);
    return this.opening ?? (this.opening = this.open().finally(() => { this.opening = null; }));
  }

  private setState(s: ClientState, err: string | null = null) {
    this.state = s; this.lastError = err;
    this.emit('state', s, err);
  }

  private open(): Promise<Hello> {
    this.setState('connecting', this.lastError);
    return new Promise<Hello>((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(this.o.url, {
        headers: { authorization: `Bearer ${this.o.token}`, [PROTOCOL_HEADER]: PROTOCOL_VERSION },
        handshakeTimeout: this.o.connectTimeoutMs, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024,
        ...(this.o.ca ? { ca: this.o.ca } : {}),
      });
      this.ws = ws;
      const fail = (e: ConnectError) => {
        if (settled) return;
        settled = true;
        this.setState(e.state, e.message);
        reject(e);
      };
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { if (body.length < 2000) body += c.toString(); });
        res.on('end', () => {
          let msg = body;
          try { msg = JSON.parse(body).error ?? body; } catch { /* plain text */ }
          const state: ClientState = res.statusCode === 401 ? 'unauthorized' : res.statusCode === 400 ? 'incompatible' : 'unreachable';
          fail(new ConnectError(`${this.o.url}: HTTP ${res.statusCode}${msg ? `: ${msg}` : ''}`, state, res.statusCode));
          ws.terminate();
        });
      });
      ws.on('error', (e: NodeJS.ErrnoException) => {
        fail(new ConnectError(`${this.o.url}: ${e.code === 'ECONNREFUSED' ? 'connection refused (is the agent running?)' : e.message}`, 'unreachable'));
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) { this.onBinary(data as Buffer); return; }
        let msg: any;
        try { msg = JSON.parse(data.toString()); } catch { return; }
        if (msg?.method === 'hello' && !settled) {
          const h = Hello.safeParse(msg.params);
          if (!h.success) { fail(new ConnectError('agent sent an invalid hello', 'incompatible')); ws.terminate(); return; }
          settled = true;
          this.hello = h.data; this.attempt = 0;
          this.setState('open');
          this.emit('hello', h.data);
          this.startPing(ws);
          this.resubscribeAll();
          resolve(h.data);
          return;
        }
        this.onMessage(msg);
      });
      ws.on('pong', () => { this.awaitingPong = false; });
      ws.on('close', (code, reason) => {
        if (this.ws === ws) this.ws = null;
        this.stopPing();
        this.failPending(new ConnectError(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`, 'unreachable'));
        for (const s of this.subs.values()) s.serverId = null;
        this.byServerId.clear();
        if (!settled) fail(new ConnectError(`${this.o.url}: connection closed during handshake (${code})`, 'unreachable'));
        if (this.closedByUser) { this.setState('closed'); return; }
        if (this.state === 'open') this.setState('unreachable', `connection lost (${code})`);
        this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect() {
    if (!this.o.reconnect || this.closedByUser || this.retryTimer) return;
    const base = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.attempt, 16));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt++;
    this.nextRetryAt = Date.now() + delay;
    this.emit('state', this.state, this.lastError);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null; this.nextRetryAt = null;
      this.connect().catch(() => { /* the close handler schedules the next try */ });
    }, delay);
  }

  private startPing(ws: WebSocket) {
    this.stopPing();
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) { ws.terminate(); return; } // missed a pong: the agent or the link is dead
      this.awaitingPong = true;
      try { ws.ping(); } catch { /* closing */ }
    }, this.o.pingIntervalMs);
    this.pingTimer.unref();
  }
  private stopPing() { if (this.pingTimer) clearInterval(this.pingTimer); this.pingTimer = null; }

  private onMessage(msg: any) {
    if (msg?.method === 'subscription' && msg.params) {
      const s = this.byServerId.get(msg.params.subscriptionId);
      if (s?.active) { try { s.handler({ snapshot: false, seq: msg.params.seq, data: decodeEvent(s.topic, msg.params.data) }); } catch (e) { this.emit('handler-error', e); } }
      return;
    }
    if (typeof msg?.id === 'number' && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id)!;
      this.pending.delete(msg.id); clearTimeout(p.timer);
      if (msg.error) p.reject(new RpcCallError(msg.error.code, msg.error.message, msg.error.data));
      else { p.onResult?.(msg.result); p.resolve(msg.result); }
    }
  }

  /** A binary answer (shared/protocol/binary-frame.ts): its header is checked, its payload handed on as a view. */
  private onBinary(buf: Buffer) {
    let frame: { header: unknown; payload: Buffer };
    try { frame = decodeFrame(buf); } catch { return; }
    const id = (frame.header as { id?: unknown } | null)?.id;
    const p = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!p) return;
    this.pending.delete(id as number); clearTimeout(p.timer);
    const h = BinaryInferResponseHeader.safeParse(frame.header);
    if (!h.success) { p.reject(new RpcCallError(ErrorCodes.INTERNAL_ERROR, `the agent sent an invalid binary answer: ${h.error.issues[0]?.message ?? 'bad header'}`, { code: 'INTERNAL_ERROR' })); return; }
    p.resolve({ result: h.data.result, payload: frame.payload });
  }

  /**
   * model.infer in the binary form: tensors as raw little-endian bytes, no JSON on the tensor data (frame codec:
   * shared/protocol/binary-frame.ts). Resolves with the outputs' bytes (views of the answer frame) and the request id
   * (`o.id`, else the agent's; null from agents before protocol 1.5); errors reject like call(), with the same stable codes.
   */
  async inferBinary(name: string, inputs: Array<{ name: string; datatype: string; shape: number[]; data: Buffer }>, o: { version?: string; id?: string; timeoutMs?: number } = {}):
    Promise<{ model_name: string; model_version: string; id: string | null; timing_us: { queue: number; compute: number }; outputs: Array<{ name: string; datatype: string; shape: number[]; data: Buffer }> }> {
    const ws = this.ws;
    if (!ws || this.state !== 'open') throw new ConnectError(`not connected to ${this.o.url}`, this.state);
    const id = this.nextId++;
    const header = { jsonrpc: '2.0', id, method: 'model.infer', params: { name, ...(o.version ? { version: o.version } : {}), ...(o.id !== undefined ? { id: o.id } : {}), inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, binary_data_size: t.data.length })) } };
    const timeoutMs = o.timeoutMs ?? this.o.callTimeoutMs;
    const r = await new Promise<{ result: BinaryInferResponseHeader['result']; payload: Buffer }>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new RpcCallError(ErrorCodes.TIMEOUT, `model.infer timed out after ${timeoutMs} ms`, { code: 'TIMEOUT' })); }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(encodeFrame(header, inputs.map((t) => t.data)), { binary: true }, (err) => { if (err && this.pending.has(id)) { clearTimeout(timer); this.pending.delete(id); reject(err); } });
    });
    let bytes: Buffer[];
    try { bytes = splitPayload(r.payload, r.result.outputs, 'outputs'); } catch (e) { throw new RpcCallError(ErrorCodes.INTERNAL_ERROR, `the agent sent an invalid binary answer: ${(e as Error).message}`, { code: 'INTERNAL_ERROR' }); }
    const outputs = r.result.outputs.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: bytes[i] }));
    return { model_name: r.result.model_name, model_version: r.result.model_version, id: r.result.id ?? null, timing_us: r.result.timing_us, outputs };
  }

  private failPending(e: Error) {
    for (const [id, p] of this.pending) { clearTimeout(p.timer); p.reject(e); this.pending.delete(id); }
  }

  /** Call a method; params and result are typed by the protocol. Rejects with RpcCallError or ConnectError. */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>, opts: { timeoutMs?: number } = {}): Promise<ResultOf<M>> {
    if (!Object.hasOwn(methods, method)) return Promise.reject(new Error(`unknown method ${method}`));
    return this.rawCall(method, params ?? {}, opts.timeoutMs) as Promise<ResultOf<M>>;
  }

  private rawCall(method: string, params: unknown, timeoutMs = this.o.callTimeoutMs, onResult?: (result: any) => void): Promise<unknown> {
    const ws = this.ws;
    if (!ws || this.state !== 'open') return Promise.reject(new ConnectError(`not connected to ${this.o.url}${this.lastError ? `: ${this.lastError}` : ''}`, this.state));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new RpcCallError(ErrorCodes.TIMEOUT, `${method} timed out after ${timeoutMs} ms`, { code: 'TIMEOUT' })); }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, ...(onResult ? { onResult } : {}) });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }), (err) => {
        if (err && this.pending.has(id)) { clearTimeout(timer); this.pending.delete(id); reject(err); }
      });
    });
  }

  /** Subscribe to a topic. The handler gets every event, and a fresh snapshot after each reconnect. */
  async subscribe<T extends TopicName>(topic: T, params: TopicParamsIn<T>, handler: SubHandler<T>): Promise<Subscription<T>> {
    const key = ++this.subSeq;
    const rec: SubRecord = { topic, params: params as Record<string, unknown>, handler: handler as SubRecord['handler'], serverId: null, active: true };
    this.subs.set(key, rec);
    const close = async () => {
      rec.active = false; this.subs.delete(key);
      const id = rec.serverId;
      if (id) { rec.serverId = null; this.byServerId.delete(id); await this.rawCall('unsubscribe', { subscriptionId: id }).catch(() => undefined); }
    };
    try {
      return { snapshot: (await this.subscribeCall(rec)).snapshot as TopicSnapshot<T>, close };
    } catch (e) {
      await close(); // a refused or undecodable answer leaves no live subscription on either side
      throw e;
    }
  }

  /**
   * The subscribe call of one record. Its id is registered the moment the answer is read: events the agent sends
   * right behind the answer (often in the same read) find their handler.
   */
  private async subscribeCall(rec: SubRecord): Promise<{ subscriptionId: string; snapshot: unknown }> {
    // The snapshot is decoded in the same tick: one that does not decode registers nothing (no event reaches the
    // handler), and the agent is told to drop the subscription.
    let decoded: { subscriptionId: string; snapshot: unknown } | null = null;
    let failure: unknown = null;
    const r = await this.rawCall('subscribe', { topic: rec.topic, params: rec.params }, this.o.callTimeoutMs, (res: ResultOf<'subscribe'>) => {
      try {
        decoded = { subscriptionId: res.subscriptionId, snapshot: res.snapshot == null ? res.snapshot : decodeSnapshot(rec.topic, res.snapshot, (e) => this.emit('handler-error', e)) };
        rec.serverId = res.subscriptionId; this.byServerId.set(res.subscriptionId, rec);
      } catch (e) { failure = e; }
    }) as ResultOf<'subscribe'>;
    if (failure !== null || decoded === null) {
      this.rawCall('unsubscribe', { subscriptionId: r.subscriptionId }).catch(() => undefined);
      throw failure ?? new Error('subscribe answered without a subscription');
    }
    return decoded;
  }

  private resubscribeAll() {
    for (const rec of this.subs.values()) {
      if (!rec.active || rec.serverId) continue;
      this.subscribeCall(rec).then((r) => {
        if (!rec.active) { // closed while resubscribing: end it on the agent too
          this.byServerId.delete(r.subscriptionId);
          this.rawCall('unsubscribe', { subscriptionId: r.subscriptionId }).catch(() => undefined);
          return;
        }
        if (r.snapshot != null) rec.handler({ snapshot: true, seq: 0, data: r.snapshot });
      }).catch((e) => this.emit('handler-error', e));
    }
  }

  /** Close for good: no reconnect; pending calls reject. */
  async close(): Promise<void> {
    this.closedByUser = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null; this.nextRetryAt = null;
    this.stopPing();
    const ws = this.ws;
    if (!ws) { this.setState('closed'); return; }
    await new Promise<void>((r) => {
      const t = setTimeout(() => { ws.terminate(); r(); }, 1000);
      ws.once('close', () => { clearTimeout(t); r(); });
      try { ws.close(1000, 'client closing'); } catch { clearTimeout(t); r(); }
    });
  }
}
