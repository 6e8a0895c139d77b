// `npm start`: a one-node cluster with no set-up — a local agent on embedded defaults plus the TUI on it.
// Quitting the TUI stops the agent this script started (an agent that was already running is left alone).
// Before spawning anything it looks at the port: a fleetml agent whose admin token it holds is used; anything else
// on the port (another user's agent, any other server) is named in one line with what to do, and nothing is started.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { defaultDataDir } from '../shared/util/paths.js';
import { AgentStartError, spawnAgent, type AgentProcess } from './lib/agent-process.js';
import { listenArg, probePort } from './lib/port-probe.js';
import { FleetClient } from '../shared/client/fleet-client.js';
import { AgentClient } from '../shared/client/agent-client.js';

const dataDir = process.env.FLEETML_DATA_DIR ?? defaultDataDir();
const argv = process.argv.slice(2);
const listen = listenArg(argv);
const host = listen?.host ?? '127.0.0.1';
const port = listen?.port ?? Number(process.env.FLEETML_PORT ?? 7070);
// --listen is ours to pass (spawnAgent adds it); every other argument goes to the agent
const extra = argv.filter((a, i) => !(a === '--listen' || a.startsWith('--listen=') || (i > 0 && argv[i - 1] === '--listen')));
const connectHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const where = `${connectHost}:${port}`;
const freePort = `FLEETML_PORT=${port + 1} npm start (or npm start -- --listen 127.0.0.1:${port + 1})`;

function fail(line: string): never {
  console.error(`fleetml: ${line}`);
  process.exit(1);
}

/** The admin token of dataDir if the agent on the port accepts it; 'refused' if it does not; null without a token file. */
async function tokenFor(): Promise<string | 'refused' | null> {
  const tokenFile = join(dataDir, 'admin.token');
  if (!existsSync(tokenFile)) return null;
  const token = readFileSync(tokenFile, 'utf8').trim();
  const c = new AgentClient({ url: `ws://${where}/rpc`, token, reconnect: false, connectTimeoutMs: 1500 });
  try { await c.connect(); return token; } catch { return 'refused'; } finally { await c.close(); }
}

let agent: AgentProcess | null = null;
let child: ChildProcess | null = null; // the spawned agent, from its spawn on (before it is ready)
let fleet: FleetClient | null = null;
let token: string;
let stopping: Promise<void> | null = null;
const stopAll = () => (stopping ??= (async () => {
  await fleet?.stop();
  if (agent) await agent.stop();
  else if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((r) => { child!.once('exit', () => r()); child!.kill('SIGTERM'); });
  }
})());
// the spawned agent never outlives this script: a closed SSH session (SIGHUP), kill, or a crash stop it too, also
// while it is still starting
for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(sig, () => void stopAll().then(() => process.exit(0)));
process.on('uncaughtException', (e) => { console.error(`fleetml: ${e.message}`); void stopAll().then(() => process.exit(1)); });
const probe = await probePort(connectHost, port);
let existing: string | null = null;
if (probe.kind === 'other') {
  fail(`${where} is taken by ${probe.detail}; start on a free port: ${freePort}`);
} else if (probe.kind === 'fleetml') {
  const t = await tokenFor();
  if (t === null || t === 'refused') {
    fail(`${where} is taken by another fleetml agent${probe.pid ? ` (pid ${probe.pid})` : ''} that ${t === null ? `has no admin token in ${dataDir}` : `refuses the admin token in ${dataDir}`}; `
      + `use its data dir (FLEETML_DATA_DIR=…) or start on a free port: ${freePort}`);
  }
  existing = t;
}
// checked before anything is spawned: without a terminal the console cannot start, and no agent may be left behind
if (!process.stdin.isTTY || !process.stdout.isTTY) {
  fail('npm start needs a terminal for the console (stdin/stdout are not a TTY); over SSH use ssh -t, or run `fleetml agent` alone');
}
if (existing) {
  token = existing;
  console.error(`using the agent already running on ${where}`);
} else {
  console.error(`starting a local agent on ${where} (data: ${dataDir}, log: ${join(dataDir, 'agent.log')})`);
  try {
    // A single user's local agent: that user holds its admin token anyway, so when the agent cannot switch users its
    // process jobs run as that same user (--process-user @agent); as root they run as nobody (the default).
    const asUser = process.getuid?.() !== 0 && !extra.includes('--process-user') ? ['--process-user', '@agent'] : [];
    agent = await spawnAgent({ dataDir, port, host, args: [...asUser, ...extra], onSpawn: (c) => { child = c; } });
  } catch (e) {
    const why = e instanceof AgentStartError ? `${e.reason || 'it exited'} (log: ${e.logFile})` : (e as Error).message;
    fail(`the local agent did not start: ${why}`);
  }
  token = agent.token || readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
}
fleet = new FleetClient([{ name: 'local', url: `ws://${where}/rpc`, token, unnamed: true }]);
fleet.start();
let code = 0;
try {
  const { runTui } = await import('../tui/run.js');
  await runTui(fleet, { title: 'local', actions: fleet });
} catch (e) {
  console.error(`fleetml: ${(e as Error).message}`);
  code = 1;
} finally {
  await stopAll();
}
process.exit(code);
