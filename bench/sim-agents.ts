// Lightweight simulated agents for the fan-out benchmark: one WebSocket server per agent (port 0, loopback),
// all in ONE process that the benchmark forks, so that the client's CPU is measured apart from the servers'.
//
// They speak the subset of the agent protocol that FleetClient uses: Bearer token on the upgrade (401 otherwise),
// a `hello` notification first, node.info, node.history, subscribe / unsubscribe (topic node.stats), and a
// NodeStats sample pushed as a `subscription` notification every interval with ts = Date.now().
// The sample is a real one (HostSource + the sim GPU source on a fixture), validated with the NodeStats schema.
//
// Run as a child:  node dist/bench/sim-agents.js N [INTERVAL_MS]   (token in FLEETML_BENCH_TOKEN)
// It sends {type:'ready', ports, frameBytes} over IPC once every server listens, and exits on {type:'stop'}
// or when the parent goes away.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { HostSource } from '../agent/telemetry/host.js';
import { Collector } from '../agent/telemetry/collector.js';
import { createGpuSource } from '../agent/telemetry/gpu/index.js';
import { NodeInfoResult, NodeStats, PROTOCOL_VERSION, flattenStats } from '../shared/protocol/index.js';
import type { HostInfo } from '../shared/protocol/index.js';
import { packageRoot, packageVersion } from '../shared/util/package-root.js';
import { quietLogger } from './util.js';

/** Fixture the simulated agents report (2× RTX A5000). */
export const SIM_FIXTURE = 'test/fixtures/nvidia-smi/rtx-a5000-2gpu-590.44-procs-q-x.xml';

/** Messages of the IPC channel between the benchmark and the simulator. */
export type SimToParent = { type: 'ready'; ports: number[]; frameBytes: number } | { type: 'error'; message: string };
export type ParentToSim = { type: 'stop' };

/** A sample template: a real NodeStats whose node/ts/seq change per push. */
interface Template { sample: NodeStats; hostInfo: HostInfo; rest: string }

/** Take one real sample (host + 2 sim GPUs) and check it against the protocol schema. */
async function buildTemplate(): Promise<Template> {
  const host = new HostSource();
  const hostInfo = await host.info();
  await host.ready();
  const gpu = createGpuSource({ choice: 'sim', fixtures: [join(packageRoot(), SIM_FIXTURE)], intervalMs: 1000, logger: quietLogger });
  await gpu.start();
  const c = new Collector('sim', host, gpu, 1000, 60);
  await c.tick();
  const sample = NodeStats.parse(c.latest);
  await c.stop();
  await gpu.dispose();
  // `{"host":…,"gpu":…}` without its opening brace: appended after node, ts and seq (the agent's key order)
  const rest = JSON.stringify({ host: sample.host, gpu: sample.gpu }).slice(1);
  return { sample, hostInfo, rest };
}

/** The `subscription` frame of one push, built by string concatenation (no re-serialisation of the sample). */
function frame(t: Template, subId: string, seq: number, node: string, ts: number): string {
  return `{"jsonrpc":"2.0","method":"subscription","params":{"subscriptionId":${JSON.stringify(subId)},"seq":${seq},"data":{"node":${JSON.stringify(node)},"ts":${ts},"seq":${seq},${t.rest}}}`;
}

interface SimAgent { name: string; nodeId: string; server: Server; seq: number; subs: Map<WebSocket, string>; timer: NodeJS.Timeout | null; startedAt: number }

/** A running set of simulated agents. */
export interface SimFleet { ports: number[]; frameBytes: number; close(): Promise<void> }

/**
 * Start n simulated agents on 127.0.0.1, port 0 each. Pushes are spread evenly over the interval
 * (agent i first pushes at i·interval/n), as independent agents would be.
 */
export async function startSimAgents(n: number, token: string, intervalMs = 1000): Promise<SimFleet> {
  const t = await buildTemplate();
  // the frame must decode into a valid NodeStats
  NodeStats.parse(JSON.parse(frame(t, 's_check', 1, 'check', Date.now())).params.data);
  const version = packageVersion();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  const agents: SimAgent[] = [];
  let subCounter = 0;

  const info = (a: SimAgent, port: number): NodeInfoResult => NodeInfoResult.parse({
    name: a.name, node_id: a.nodeId, labels: { sim: 'true' }, agent_version: version, protocol_version: PROTOCOL_VERSION,
    started_at: a.startedAt, url: `ws://127.0.0.1:${port}/rpc`, host: { ...t.hostInfo, hostname: a.name },
    gpu: { status: t.sample.gpu.status, reason: t.sample.gpu.reason, source: t.sample.gpu.source, simulated: t.sample.gpu.simulated,
      driver_version: t.sample.gpu.driver_version, cuda_version: t.sample.gpu.cuda_version, count: t.sample.gpu.gpus.length },
    telemetry: { interval_ms: intervalMs, history_s: 900 }, peers: [],
  });
  // a short history (10 points per metric), as a freshly started agent would have
  const flat = flattenStats(t.sample);
  const history = (a: SimAgent) => {
    const now = Date.now();
    const ts = Array.from({ length: 10 }, (_, i) => now - (10 - i) * intervalMs);
    return { node: a.name, interval_ms: intervalMs, capacity: 900, series: Object.fromEntries(Object.entries(flat).map(([k, v]) => [k, { ts, values: ts.map(() => v) }])) };
  };

  const onConnection = (a: SimAgent, port: number, ws: WebSocket) => {
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'hello', params: {
      protocol_version: PROTOCOL_VERSION, agent_version: version, node: a.name, node_id: a.nodeId, role: 'read', token_name: 'bench' } }));
    ws.on('message', (data) => {
      let msg: { id?: number | string; method?: string; params?: Record<string, unknown> };
      try { msg = JSON.parse(data.toString()); } catch {
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error', data: { code: 'PARSE_ERROR' } } }));
        return;
      }
      const reply = (result: unknown) => ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, result }));
      const fail = (code: number, name: string, message: string) => ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, error: { code, message, data: { code: name } } }));
      switch (msg.method) {
        case 'node.info': return reply(info(a, port));
        case 'node.history': return reply(history(a));
        case 'node.stats': return reply({ ...t.sample, node: a.name, ts: Date.now(), seq: a.seq });
        case 'subscribe': {
          if (msg.params?.topic !== 'node.stats') return fail(-32602, 'INVALID_PARAMS', `unknown topic ${String(msg.params?.topic)}`);
          const id = `s_${++subCounter}`;
          a.subs.set(ws, id);
          return reply({ subscriptionId: id, snapshot: { ...t.sample, node: a.name, ts: Date.now(), seq: a.seq } });
        }
        case 'unsubscribe': {
          const had = a.subs.get(ws) === msg.params?.subscriptionId;
          if (had) a.subs.delete(ws);
          return reply({ ok: had });
        }
        default: return fail(-32601, 'METHOD_NOT_FOUND', `unknown method ${String(msg.method)}`);
      }
    });
    ws.on('close', () => a.subs.delete(ws));
    ws.on('error', () => undefined);
  };

  const reject = (socket: Duplex, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: text })}`);
  };

  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const a: SimAgent = { name: `sim-${String(i).padStart(4, '0')}`, nodeId: randomBytes(8).toString('hex'), server: createServer((_req, res) => { res.statusCode = 404; res.end(); }),
      seq: 0, subs: new Map(), timer: null, startedAt: Date.now() };
    let port = 0;
    a.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/rpc') return reject(socket, 404, 'Not Found');
      if (req.headers.authorization !== `Bearer ${token}`) return reject(socket, 401, 'Unauthorized');
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(a, port, ws));
    });
    await new Promise<void>((res, rej) => { a.server.once('error', rej); a.server.listen(0, '127.0.0.1', () => res()); });
    const addr = a.server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
    // e.g. EMFILE on accept when the file-descriptor limit is reached: say so, keep the other agents running
    a.server.on('error', (e) => process.stderr.write(`sim agent ${a.name}: ${(e as Error).message}\n`));
    ports.push(port);
    agents.push(a);
  }

  const push = (a: SimAgent) => {
    a.seq++;
    if (a.subs.size === 0) return;
    const ts = Date.now();
    for (const [ws, id] of a.subs) if (ws.readyState === WebSocket.OPEN) ws.send(frame(t, id, a.seq, a.name, ts));
  };
  agents.forEach((a, i) => {
    const start = setTimeout(() => {
      push(a);
      a.timer = setInterval(() => push(a), intervalMs);
    }, Math.floor((i * intervalMs) / n));
    a.timer = start;
  });

  return {
    ports,
    frameBytes: Buffer.byteLength(frame(t, 's_1', 1, agents[0]?.name ?? 'sim-0000', Date.now())),
    close: async () => {
      for (const a of agents) { if (a.timer) { clearTimeout(a.timer); clearInterval(a.timer); } }
      for (const c of wss.clients) c.terminate();
      await Promise.all(agents.map((a) => new Promise<void>((r) => a.server.close(() => r()))));
    },
  };
}

/** Entry point of the forked simulator process. */
async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? '10');
  const intervalMs = Number(process.argv[3] ?? '1000');
  const token = process.env.FLEETML_BENCH_TOKEN ?? '';
  const send = (m: SimToParent) => process.send?.(m);
  try {
    if (!token) throw new Error('FLEETML_BENCH_TOKEN is not set');
    const fleet = await startSimAgents(n, token, intervalMs);
    const stop = () => { fleet.close().finally(() => process.exit(0)); };
    process.on('message', (m: ParentToSim) => { if (m?.type === 'stop') stop(); });
    process.on('disconnect', stop);
    send({ type: 'ready', ports: fleet.ports, frameBytes: fleet.frameBytes });
  } catch (e) {
    send({ type: 'error', message: (e as Error).stack ?? String(e) });
    process.exitCode = 1;
    process.disconnect?.();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
