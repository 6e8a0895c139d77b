// `npm start` (scripts/start.ts) when it cannot or must not start the console: something else on its port, another
// user's fleetml agent there, or no terminal. Each case says so in one line, exits 1, and leaves no agent behind.
// The happy path (agent + TUI, q stops the agent it started) is test/e2e/npm-start.test.ts.
import { spawn, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { listenArg, probePort } from '../../scripts/lib/port-probe.js';
import { packageRoot } from '../../shared/util/package-root.js';
import { freePort, tempDir } from '../helpers/agent.js';

const START = join(packageRoot(), 'dist', 'scripts', 'start.js');

/** Run npm start's script with piped stdio (no terminal); async, so servers of this process keep answering. */
function start(port: number, dataDir: string, args: string[] = []): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [START, ...args], { env: { ...process.env, FLEETML_PORT: String(port), FLEETML_DATA_DIR: dataDir }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.stdin.end();
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => { clearTimeout(t); resolve({ code, stderr: err.trim(), stdout: out.trim() }); });
  });
}

/** Agent processes whose command line names dataDir (none may be left behind). */
function agentsOf(dataDir: string): string[] {
  try { return execFileSync('pgrep', ['-af', `--data-dir ${dataDir}`], { encoding: 'utf8' }).trim().split('\n').filter((l) => l && !l.includes('pgrep')); } catch { return []; }
}

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => { tmp = tempDir('fleetml-start-'); });
afterAll(() => tmp.cleanup());

describe('npm start with its port taken by another HTTP server', () => {
  let srv: Server;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    // answers 200 to everything, /readyz included: the old readiness check took it for the agent
    srv = createServer((_req, res) => { res.setHeader('server', 'other-app/1.0'); res.end('{"status":"ready"}'); });
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => srv.close(() => r())));

  it('says in one line what is on the port and what to do, exits 1, starts nothing', async () => {
    const dataDir = join(tmp.dir, 'http');
    const r = await start(port, dataDir);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`127.0.0.1:${port} is taken by an HTTP server that is not a fleetml agent`);
    expect(r.stderr).toContain('Server: other-app/1.0');
    expect(r.stderr).toContain(`FLEETML_PORT=${port + 1} npm start`);
    expect(r.stderr).toContain('--listen');
    expect(r.stderr).not.toMatch(/\n\s+at |ENOENT/);
    expect(existsSync(join(dataDir, 'agent.log'))).toBe(false); // no agent was spawned
    expect(agentsOf(dataDir)).toEqual([]);
  });

  it('reads the port from `npm start -- --listen HOST:PORT` too', async () => {
    const r = await start(1, join(tmp.dir, 'http2'), ['--listen', `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port} is taken by an HTTP server`);
  });
});

describe('npm start with its port taken by another fleetml agent', () => {
  let other: AgentProcess;
  beforeAll(async () => { other = await spawnAgent({ dataDir: join(tmp.dir, 'other'), port: await freePort() }); }, 30_000);
  afterAll(async () => { await other.stop(); });

  it('without that agent\'s admin token: names it (with its pid) and exits 1', async () => {
    const dataDir = join(tmp.dir, 'mine');
    const r = await start(other.port, dataDir);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`is taken by another fleetml agent (pid ${other.child.pid}) that has no admin token in ${dataDir}`);
    expect(r.stderr).toContain('FLEETML_PORT=');
    expect(agentsOf(dataDir)).toEqual([]);
  });

  it('with its admin token but no terminal: says a terminal is needed, and leaves that agent running', async () => {
    const r = await start(other.port, other.dataDir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fleetml: npm start needs a terminal for the console (stdin/stdout are not a TTY); over SSH use ssh -t, or run `fleetml agent` alone');
    expect((await fetch(`${other.httpUrl}/healthz`)).status).toBe(200);
  });
});

describe('npm start on a free port without a terminal', () => {
  it('exits 1 with one line before spawning an agent', async () => {
    const dataDir = join(tmp.dir, 'notty');
    const port = await freePort();
    const r = await start(port, dataDir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fleetml: npm start needs a terminal .* ssh -t/);
    expect(agentsOf(dataDir)).toEqual([]);
    expect((await probePort('127.0.0.1', port)).kind).toBe('free');
  });
});

describe('port probe', () => {
  it('tells a fleetml agent (with its pid) from a free port', async () => {
    const a = await spawnAgent({ dataDir: join(tmp.dir, 'probe'), port: await freePort() });
    try {
      expect(await probePort('127.0.0.1', a.port)).toEqual({ kind: 'fleetml', pid: a.child.pid });
    } finally { await a.stop(); }
    expect(await probePort('127.0.0.1', a.port)).toEqual({ kind: 'free' });
  }, 30_000);

  it('parses --listen in both forms', () => {
    expect(listenArg(['--name', 'x', '--listen', '0.0.0.0:7100'])).toEqual({ host: '0.0.0.0', port: 7100 });
    expect(listenArg(['--listen=[::1]:7101'])).toEqual({ host: '::1', port: 7101 });
    expect(listenArg(['--name', 'x'])).toBeNull();
  });
});
