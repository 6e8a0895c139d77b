// `npm start`: a one-node cluster with no set-up — a local agent on embedded defaults plus the TUI on it.
// Quitting the TUI stops the agent this script started (an agent that was already running is left alone).
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { defaultDataDir } from '../shared/util/paths.js';
import { spawnAgent, type AgentProcess } from './lib/agent-process.js';
import { FleetClient } from '../shared/client/fleet-client.js';
import { AgentClient } from '../shared/client/agent-client.js';

const port = Number(process.env.FLEETML_PORT ?? 7070);
const dataDir = process.env.FLEETML_DATA_DIR ?? defaultDataDir();
const extra = process.argv.slice(2);

async function existingAgent(): Promise<string | null> {
  const tokenFile = join(dataDir, 'admin.token');
  if (!existsSync(tokenFile)) return null;
  const token = readFileSync(tokenFile, 'utf8').trim();
  const c = new AgentClient({ url: `ws://127.0.0.1:${port}/rpc`, token, reconnect: false, connectTimeoutMs: 1500 });
  try { await c.connect(); return token; } catch { return null; } finally { await c.close(); }
}

let agent: AgentProcess | null = null;
let token = await existingAgent();
if (token) {
  console.error(`using the agent already running on 127.0.0.1:${port}`);
} else {
  console.error(`starting a local agent on 127.0.0.1:${port} (data: ${dataDir}, log: ${join(dataDir, 'agent.log')})`);
  try {
    // A single user's local agent: that user holds its admin token anyway, so when the agent cannot switch users its
    // process jobs run as that same user (--process-user @agent); as root they run as nobody (the default).
    const asUser = process.getuid?.() !== 0 && !extra.includes('--process-user') ? ['--process-user', '@agent'] : [];
    agent = await spawnAgent({ dataDir, port, args: [...asUser, ...extra] });
  } catch (e) {
    console.error(`fleetml: could not start the local agent: ${(e as Error).message}`);
    process.exit(1);
  }
  token = agent.token || readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
}
const fleet = new FleetClient([{ name: 'local', url: `ws://127.0.0.1:${port}/rpc`, token, unnamed: true }]);
fleet.start();
const { runTui } = await import('../tui/run.js');
const stopAll = async () => { await fleet.stop(); await agent?.stop(); };
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));
try {
  await runTui(fleet, { title: 'local', actions: fleet });
} finally {
  await stopAll();
}
process.exit(0);
