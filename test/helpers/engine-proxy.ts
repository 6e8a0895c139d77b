import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { rmSync } from 'node:fs';

// A unix-socket HTTP proxy in front of the real container engine, for tests of engine outages: the agent's docker
// driver talks to `path`; the test can close the proxy (the engine "goes away": every connection, streams included,
// is cut and new ones are refused), open it again, or make chosen requests hang (accepted, never answered).
// The real engine (shared by other tests) is never stopped.

/** A proxy started by startEngineProxy. */
export interface EngineProxy {
  /** The socket the driver is pointed at. */
  readonly path: string;
  /** Requests (METHOD /path) seen so far, in order. */
  readonly seen: string[];
  /** Requests for which this returns true are accepted and never answered (until close()). */
  hang: ((method: string, url: string) => boolean) | null;
  /** Stop listening and cut every open connection (the engine went away). */
  close(): Promise<void>;
  /** Listen again on the same path (the engine is back). */
  open(): Promise<void>;
}

/** Start a proxy on `path` forwarding to the engine at `target`. */
export async function startEngineProxy(path: string, target: string): Promise<EngineProxy> {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  const upstreams = new Set<{ destroy(): void }>();
  const seen: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    seen.push(`${req.method} ${url}`);
    if (proxy.hang?.(req.method ?? 'GET', url)) { req.resume(); return; } // accepted, never answered
    const up = request({ socketPath: target, method: req.method, path: url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
      ur.on('error', () => res.destroy());
    });
    upstreams.add(up);
    up.on('close', () => upstreams.delete(up));
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy()); // the client went away (or close() cut it): end the engine side too
    req.pipe(up);
  };
  const proxy: EngineProxy = {
    path, seen, hang: null,
    async open() {
      if (server) return;
      rmSync(path, { force: true });
      const s = createServer(handle);
      s.keepAliveTimeout = 0;
      s.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(path, () => resolve()); });
      server = s;
    },
    async close() {
      const s = server;
      server = null;
      if (!s) return;
      const closed = new Promise<void>((r) => s.close(() => r()));
      for (const c of sockets) c.destroy();
      for (const u of upstreams) u.destroy();
      await closed;
      rmSync(path, { force: true });
    },
  };
  await proxy.open();
  return proxy;
}
