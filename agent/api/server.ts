import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCodes, PROTOCOL_HEADER, PROTOCOL_VERSION, protocolMajor, roleAllows } from '../../shared/protocol/index.js';
import type { AgentConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Authenticator } from './auth.js';
import type { Principal } from './context.js';
import { Connection } from './connection.js';
import type { RpcDispatcher } from './rpc.js';
import type { AgentMetrics } from './metrics.js';

/** `service` in the /healthz and /readyz bodies: what a launcher checks before it trusts the port. */
export const HEALTH_SERVICE = 'fleetml-agent';

/** What the server needs from the rest of the agent. */
export interface ApiDeps {
  config: AgentConfig;
  auth: Authenticator;
  dispatcher: RpcDispatcher;
  metrics: AgentMetrics;
  log: Logger;
  /** Identity sent in the hello notification. */
  identity: { node: string; nodeId: string; agentVersion: string };
  /** True once the agent can serve (store open, first sample taken). */
  ready: () => boolean;
}

/** An extra HTTP route (later issues add inference). Return false to fall through. */
export type HttpRoute = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

/**
 * HTTP(S) + WebSocket API on one port.
 * Upgrade path: /rpc only; protocol major checked (400), token checked (401; repeated failures are slowed, valid tokens never)
 * BEFORE the WebSocket exists, so an unauthenticated peer never reaches the dispatcher.
 */
export class ApiServer {
  readonly server: http.Server;
  private wss: WebSocketServer;
  private conns = new Set<Connection>();
  private pingTimer: NodeJS.Timeout | null = null;
  private routes: HttpRoute[] = [];

  constructor(private readonly d: ApiDeps) {
    const tls = d.config.tls;
    this.server = tls
      ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (q, s) => void this.onHttp(q, s))
      : http.createServer((q, s) => void this.onHttp(q, s));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: d.config.api.max_frame_bytes, perMessageDeflate: false });
    this.server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head));
    this.server.on('clientError', (_e, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); });
  }

  /** Handles binary WebSocket frames (the binary model.infer); unset: binary frames are refused. */
  binaryHandler: ((buf: Buffer, ctx: import('./context.js').CallContext) => Promise<Buffer | string>) | null = null;

  /** Add an HTTP route (tried in order before the built-in 404). */
  addRoute(r: HttpRoute): void { this.routes.push(r); }

  /** Listen on host:port; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as { address: string; port: number };
        const scheme = this.d.config.tls ? 'wss' : 'ws';
        const h = a.address.includes(':') ? `[${a.address}]` : a.address;
        this.startPing();
        resolve({ host: a.address, port: a.port, url: `${scheme}://${h}:${a.port}/rpc` });
      });
    });
  }

  get connectionCount(): number { return this.conns.size; }
  /** Events conflated on connections that have closed (live ones are added in conflated()). */
  private conflatedClosed = 0;
  /** Events conflated since start, over all connections. */
  conflated(): number { let n = this.conflatedClosed; for (const c of this.conns) n += c.conflated; return n; }
  subscriptionTotal(): number { let n = 0; for (const c of this.conns) n += c.subscriptionCount; return n; }

  private async onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => { /* peer went away mid-upgrade */ });
    try {
      await this.upgrade(req, socket, head);
    } catch (e) {
      // Nothing a peer sends may escape as an exception: answer if we still can, and never keep the socket.
      this.d.log.warn({ remote: req.socket.remoteAddress, err: (e as Error).message }, 'upgrade failed');
      if (socket.writable) reject(socket, 400, 'Bad Request', 'bad upgrade request');
      socket.destroy();
    }
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
    const remote = req.socket.remoteAddress ?? null;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/rpc') return reject(socket, 404, 'Not Found', 'WebSocket endpoint is /rpc');
    const pv = req.headers[PROTOCOL_HEADER];
    if (typeof pv === 'string' && protocolMajor(pv) !== protocolMajor(PROTOCOL_VERSION)) {
      return reject(socket, 400, 'Bad Request', `protocol ${pv.slice(0, 32)} is not compatible with agent protocol ${PROTOCOL_VERSION}`);
    }
    const principal = await this.authenticate(req, remote);
    if (principal === 'busy') return reject(socket, 429, 'Too Many Requests', 'too many pending authentication attempts from this address');
    if (!principal) {
      this.d.log.warn({ remote, reason: req.headers.authorization ? 'bad token' : 'missing token' }, 'refused connection: unauthorized');
      return reject(socket, 401, 'Unauthorized', 'a valid token is required: Authorization: Bearer <token> (create one with: fleetml token create)');
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, principal, remote));
  }

  /** Authenticate an HTTP request like the upgrade does (valid tokens at once, failures slowed): for extra routes. */
  authenticateRequest(req: http.IncomingMessage): Promise<Principal | null | 'busy'> {
    return this.authenticate(req, req.socket.remoteAddress ?? null);
  }

  /** Verify the token: a valid one at once, a failing one after its penalty (see Authenticator). */
  private authenticate(req: http.IncomingMessage, remote: string | null): Promise<Principal | null | 'busy'> {
    return this.d.auth.check(req, remote ?? 'unknown', () => this.d.metrics.authFailures.inc());
  }

  /** Close every connection made with one of these tokens (after a revoke). */
  dropTokens(tokenIds: string[]): number {
    let n = 0;
    for (const c of this.conns) if (tokenIds.includes(c.principal.tokenId)) { c.ws.close(4001, 'token revoked'); n++; }
    return n;
  }

  private onConnection(ws: WebSocket, principal: Principal, remote: string | null) {
    const api = this.d.config.api;
    const conn = new Connection(`c_${randomBytes(4).toString('hex')}`, ws, principal, remote,
      { conflateAboveBytes: api.conflate_above_bytes, maxBufferBytes: api.max_buffer_bytes }, this.d.log);
    this.conns.add(conn);
    this.d.metrics.connections.set(this.conns.size);
    this.d.log.info({ conn: conn.id, remote, token: principal.tokenName, role: principal.role }, 'client connected');
    conn.send(JSON.stringify({ jsonrpc: '2.0', method: 'hello', params: {
      protocol_version: PROTOCOL_VERSION, agent_version: this.d.identity.agentVersion, node: this.d.identity.node,
      node_id: this.d.identity.nodeId, role: principal.role, token_name: principal.tokenName } }));
    ws.on('pong', () => { conn.lastPong = Date.now(); });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const handler = this.binaryHandler;
        if (!handler) { conn.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: ErrorCodes.INVALID_REQUEST, message: 'binary frames are not accepted by this agent', data: { code: 'INVALID_REQUEST' } } })); return; }
        handler(data as Buffer, { principal, remote, conn }).then((out) => conn.sendBinaryOrText(out))
          .catch((e) => this.d.log.error({ err: e, conn: conn.id }, 'binary frame failed'));
        return;
      }
      const text = data.toString();
      this.d.dispatcher.handleFrame(text, { principal, remote, conn }).then((out) => { if (out) conn.send(out); })
        .catch((e) => this.d.log.error({ err: e, conn: conn.id }, 'dispatch failed'));
    });
    ws.on('error', (e) => this.d.log.warn({ conn: conn.id, remote, err: e.message }, 'connection error'));
    ws.on('close', (code) => {
      this.conflatedClosed += conn.conflated;
      conn.dispose();
      this.conns.delete(conn);
      this.d.metrics.connections.set(this.conns.size);
      this.d.log.info({ conn: conn.id, remote, code }, 'client disconnected');
    });
  }

  private startPing() {
    const every = this.d.config.api.ping_interval_ms;
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.conns) {
        // a peer that has not answered the previous ping within one interval is dead
        if (now - c.lastPong > every * 2) { this.d.log.info({ conn: c.id }, 'peer missed pong; dropping'); c.ws.terminate(); continue; }
        // a token revoked by another process (fleetml token revoke) ends its sessions within one interval
        if (!this.d.auth.stillActive(c.principal.tokenId)) { this.d.log.info({ conn: c.id, token: c.principal.tokenName }, 'token revoked; closing'); c.ws.close(4001, 'token revoked'); continue; }
        try { c.ws.ping(); } catch { /* closing */ }
      }
    }, every);
    this.pingTimer.unref();
  }

  private async onHttp(req: http.IncomingMessage, res: http.ServerResponse) {
    try {
      for (const r of this.routes) if (await r(req, res)) return;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      // `service` and `pid` let a launcher tell a fleetml agent (its own child, by pid) from any other server on the port
      if (path === '/healthz') return json(res, 200, { status: 'ok', service: HEALTH_SERVICE, pid: process.pid });
      if (path === '/readyz') return this.d.ready() ? json(res, 200, { status: 'ready', service: HEALTH_SERVICE, pid: process.pid }) : json(res, 503, { status: 'starting', service: HEALTH_SERVICE, pid: process.pid });
      if (path === '/metrics') {
        if (!this.d.config.api.metrics_public) {
          const p = await this.authenticate(req, req.socket.remoteAddress ?? null);
          if (p === 'busy') return json(res, 429, { error: 'too many pending authentication attempts from this address' });
          if (!p || !roleAllows(p.role, 'read')) return json(res, 401, { error: 'a read token is required: Authorization: Bearer <token>' });
        }
        const body = await this.d.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.d.metrics.registry.contentType });
        return void res.end(body);
      }
      json(res, 404, { error: `not found: ${path.slice(0, 100)}` });
    } catch (e) {
      this.d.log.error({ err: e }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' }); else res.destroy();
    }
  }

  /** Close every connection (1001 going away) and stop listening. */
  async close(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const c of this.conns) { c.dispose(); c.ws.close(1001, 'agent shutting down'); }
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    // a peer that does not answer the close handshake gets 1 s, not ws's 30 s
    const grace = setTimeout(() => { for (const c of this.conns) c.ws.terminate(); this.server.closeAllConnections?.(); }, 1000);
    await closed;
    clearTimeout(grace);
  }
}

function json(res: http.ServerResponse, code: number, body: unknown) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function reject(socket: Duplex, code: number, text: string, message: string) {
  const body = JSON.stringify({ error: message });
  socket.end(`HTTP/1.1 ${code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
