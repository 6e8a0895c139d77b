// Talk to a fleetml agent with a plain WebSocket and JSON — no fleetml client library.
// Usage: FLEETML_URL=ws://127.0.0.1:7070/rpc FLEETML_TOKEN=fml_… node docs/examples/plain-ws.mjs
import WebSocket from 'ws';

const ws = new WebSocket(process.env.FLEETML_URL ?? 'ws://127.0.0.1:7070/rpc', {
  headers: { Authorization: `Bearer ${process.env.FLEETML_TOKEN}`, 'fleetml-protocol': '1.2' },
});
let nextId = 1;
const pending = new Map();
const call = (method, params = {}) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
});

let samples = 0;
ws.on('message', async (raw) => {
  const msg = JSON.parse(raw);
  if (msg.method === 'hello') {                      // first frame: who the agent is and our role
    console.log(`connected to ${msg.params.node} as ${msg.params.role}`);
    const info = await call('node.info');
    console.log(`${info.name}: ${info.host.cpu.cores} cores, ${info.gpu.count} GPU(s) via ${info.gpu.source}${info.gpu.simulated ? ' (simulated)' : ''}`);
    const { snapshot } = await call('subscribe', { topic: 'node.stats' });
    console.log(`cpu ${snapshot.host.cpu.util_pct}%`);
  } else if (msg.method === 'subscription') {        // streamed telemetry
    const s = msg.params.data;
    console.log(`seq ${msg.params.seq}: cpu ${s.host.cpu.util_pct}% gpus ${s.gpu.gpus.map((g) => `${g.gpu_util_pct}%`).join(' ')}`);
    if (++samples === 3) ws.close();
  } else if (pending.has(msg.id)) {                  // an answer to one of our calls
    const p = pending.get(msg.id); pending.delete(msg.id);
    msg.error ? p.reject(new Error(`${msg.error.data?.code}: ${msg.error.message}`)) : p.resolve(msg.result);
  }
});
ws.on('unexpected-response', (_req, res) => { console.error(`refused: HTTP ${res.statusCode}`); process.exit(1); });
ws.on('error', (e) => { console.error(e.message); process.exit(1); });
