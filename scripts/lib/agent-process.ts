import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../shared/util/package-root.js';

/** A `fleetml agent` child process started by a script or a test. */
export interface AgentProcess { child: ChildProcess; url: string; httpUrl: string; port: number; dataDir: string; token: string; logFile: string; stop(signal?: NodeJS.Signals): Promise<number | null> }

/** Options of spawnAgent. */
export interface SpawnAgentOptions {
  dataDir: string; port: number; name?: string; args?: string[]; env?: NodeJS.ProcessEnv; host?: string; readyTimeoutMs?: number;
  /** Called with the child as soon as it is spawned (before it is ready), so a launcher can stop it on a signal. */
  onSpawn?: (child: ChildProcess) => void;
}

/** Path of the built CLI (npm run build). */
export function cliPath(): string {
  const p = join(packageRoot(), 'dist', 'bin', 'fleetml.js');
  if (!existsSync(p)) throw new Error(`${p} is missing: run npm run build`);
  return p;
}

/** An agent that did not become ready: `reason` is the last error its log names (one line), `log` the tail. */
export class AgentStartError extends Error {
  readonly reason: string;
  readonly log: string;
  constructor(what: string, readonly logFile: string) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    const cause = lastLoggedError(log);
    super(`${what}${cause ? `: ${cause}` : ''}; log: ${log}`);
    this.reason = cause;
    this.log = log;
  }
}

/** The message of the last error/fatal line of a pino JSON log (or its last non-empty line). */
function lastLoggedError(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const e = JSON.parse(lines[i]!) as { level?: number; msg?: string; err?: string | { message?: string } };
      if ((e.level ?? 0) >= 50) return [typeof e.err === 'string' ? e.err : e.err?.message, e.msg].filter(Boolean).join(': ');
    } catch { /* a plain line */ }
  }
  return lines.at(-1)?.slice(0, 300) ?? '';
}

/** Start a real agent process on loopback, wait until /readyz answers, and read its first admin token.
 * Its JSON log goes to <dataDir>/agent.log. */
export async function spawnAgent(o: SpawnAgentOptions): Promise<AgentProcess> {
  mkdirSync(o.dataDir, { recursive: true });
  const host = o.host ?? '127.0.0.1';
  const logFile = join(o.dataDir, 'agent.log');
  const fd = openSync(logFile, 'a');
  const args = [cliPath(), 'agent', '--listen', `${host}:${o.port}`, '--data-dir', o.dataDir, ...(o.name ? ['--name', o.name] : []), ...(o.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...o.env } });
  closeSync(fd); // the child has its own copy
  o.onSpawn?.(child);
  const httpUrl = `http://${host}:${o.port}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 20_000);
  let exited: number | null | undefined;
  child.once('exit', (c) => { exited = c; });
  for (;;) {
    if (exited !== undefined) throw new AgentStartError(`agent exited with ${exited} before it was ready`, logFile);
    try {
      // ready only when the answer is this child's: another server (or agent) on the port must not pass for it
      const r = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      const body = (await r.json().catch(() => null)) as { service?: unknown; pid?: unknown } | null;
      if (r.status === 200 && body?.service === 'fleetml-agent' && body.pid === child.pid) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new AgentStartError(`agent on port ${o.port} not ready in time`, logFile); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tokenFile = join(o.dataDir, 'admin.token');
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
  return {
    child, url: `ws://${host}:${o.port}/rpc`, httpUrl, port: o.port, dataDir: o.dataDir, token, logFile,
    stop: (signal = 'SIGTERM') => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      child.once('exit', (c) => resolve(c));
      child.kill(signal);
    }),
  };
}
