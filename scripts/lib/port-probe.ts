// What answers on a TCP port, before a launcher (npm start) spawns an agent there or trusts the one it finds.
import { connect } from 'node:net';

/** Result of probePort: nothing listens, a fleetml agent (with its pid), or some other server. */
export type PortProbe =
  | { kind: 'free' }
  | { kind: 'fleetml'; pid: number | null }
  | { kind: 'other'; detail: string };

/** Whether anything accepts TCP connections on host:port (ECONNREFUSED = free). */
function tcpOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (open: boolean) => { s.destroy(); resolve(open); };
    s.setTimeout(timeoutMs, () => done(true)); // something holds the port but does not answer quickly
    s.once('connect', () => done(true));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code !== 'ECONNREFUSED' && e.code !== 'ECONNRESET' ? true : false));
  });
}

/**
 * Tell what listens on host:port: a fleetml agent answers `/healthz` with `service: "fleetml-agent"` and its pid;
 * anything else (another HTTP server, a non-HTTP service) is described in a few words for the user.
 */
export async function probePort(host: string, port: number, timeoutMs = 1500): Promise<PortProbe> {
  if (!(await tcpOpen(host, port, timeoutMs))) return { kind: 'free' };
  let res: Response;
  try {
    res = await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return { kind: 'other', detail: 'a server that does not answer HTTP' };
  }
  const server = res.headers.get('server');
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { service?: unknown; pid?: unknown };
    if (body.service === 'fleetml-agent') return { kind: 'fleetml', pid: typeof body.pid === 'number' ? body.pid : null };
  } catch { /* not JSON */ }
  return { kind: 'other', detail: `an HTTP server that is not a fleetml agent (GET /healthz: ${res.status}${server ? `, Server: ${server}` : ''})` };
}

/** host and port of a `--listen HOST:PORT` (or `--listen=HOST:PORT`) among agent args, or null. */
export function listenArg(args: readonly string[]): { host: string; port: number } | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a === '--listen' ? args[i + 1] : a.startsWith('--listen=') ? a.slice('--listen='.length) : undefined;
    if (v === undefined) continue;
    const m = /^(.*):(\d{1,5})$/.exec(v);
    if (!m) return null;
    return { host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
  }
  return null;
}
