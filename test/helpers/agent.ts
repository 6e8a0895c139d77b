import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { loadConfig, type AgentFlags, type AgentConfig } from '../../agent/config.js';
import { startAgent, type AgentDeps, type RunningAgent } from '../../agent/main.js';
import { createLogger } from '../../agent/log.js';
import { AgentClient } from '../../shared/client/agent-client.js';

/** Absolute path of a copied nvidia-smi fixture. */
export const fixture = (f: string) => join(__dirname, '..', 'fixtures', 'nvidia-smi', f);

/** A fresh temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'fleetml-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

/** An in-process agent on 127.0.0.1:0 with a temp data dir, sim GPUs by default, and its admin token. */
export async function inProcessAgent(flags: AgentFlags = {}, patch?: (c: AgentConfig) => void, deps: AgentDeps = {}): Promise<{ agent: RunningAgent; token: string; http: string; dir: string; close: () => Promise<void> }> {
  const { dir, cleanup } = tempDir();
  const config = loadConfig({ listen: '127.0.0.1:0', dataDir: dir, name: 'test-node', gpuSource: 'sim', gpuFixture: [fixture('rtx-a5000-2gpu-590.44-procs-q-x.xml')], telemetryInterval: '200', ...flags }, {});
  patch?.(config);
  const agent = await startAgent(config, createLogger('silent'), deps);
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  return { agent, token, http: `http://127.0.0.1:${agent.port}`, dir, close: async () => { await agent.stop(); cleanup(); } };
}

/** A raw WebSocket to an agent (no client library), collecting every text frame. */
export async function rawSocket(url: string, token: string | null, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; frames: any[]; next: (pred?: (f: any) => boolean, ms?: number) => Promise<any>; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const frames: any[] = [];
  const waiters: Array<{ pred: (f: any) => boolean; resolve: (f: any) => void }> = [];
  ws.on('message', (d, isBinary) => {
    if (isBinary) return; // binary frames (binary model.infer answers) are the test's own to read
    const f = JSON.parse(d.toString());
    const i = waiters.findIndex((w) => w.pred(f));
    if (i >= 0) { waiters.splice(i, 1)[0].resolve(f); return; }
    frames.push(f);
  });
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }))); });
  const next = (pred: (f: any) => boolean = () => true, ms = 5000) => {
    const i = frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(frames.splice(i, 1)[0]);
    return new Promise<any>((resolve, reject) => {
      const w = { pred, resolve: (f: any) => { clearTimeout(t); resolve(f); } };
      const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error('no matching frame in time')); }, ms);
      waiters.push(w);
    });
  };
  return { ws, frames, next, closed };
}

/** A new token of `role` made with the agent's admin token, and a client connected with it. */
export async function clientWithNewToken(agent: { url: string; token: string }, name: string, role: 'read' | 'operate' | 'admin'): Promise<{ client: AgentClient; token: string }> {
  const admin = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
  await admin.connect();
  let token: string;
  try { token = (await admin.call('token.create', { name, role })).token; } finally { await admin.close(); }
  const client = new AgentClient({ url: agent.url, token, reconnect: false, callTimeoutMs: 30_000 });
  await client.connect();
  return { client, token };
}
