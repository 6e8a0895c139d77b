// `npm run demo`: three local agents whose GPUs are SIMULATED from real nvidia-smi outputs (test/fixtures/nvidia-smi),
// and the TUI on all three. Everything simulated is marked so wherever it shows. Quitting stops the agents.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { packageRoot } from '../shared/util/package-root.js';
import { spawnAgent, type AgentProcess } from './lib/agent-process.js';
import { FleetClient } from '../shared/client/fleet-client.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { pushModel } from '../shared/cli/models.js';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const fx = (f: string) => join(packageRoot(), 'test', 'fixtures', 'nvidia-smi', f);
const base = Number(process.env.FLEETML_DEMO_PORT ?? 7171);
// a fresh private folder per run: it holds the demo agents' admin tokens
const root = mkdtempSync(join(tmpdir(), 'fleetml-demo-'));
const nodes = [
  { name: 'ws-a5000', fixtures: ['rtx-a5000-2gpu-590.44-procs-q-x.xml'], labels: ['gpu=a5000', 'rack=r1'] },
  { name: 'dgx-a100', fixtures: ['a100-sxm4-80gb-mig-535.54-q-x.xml', 'tesla-t4-515.105-procs-q-x.xml'], labels: ['gpu=a100', 'rack=r2'] },
  { name: 'h100-01', fixtures: ['query-gpu-h100-80gb-hbm3-590.48-load.csv'], labels: ['gpu=h100', 'rack=r2'] },
];

const agents: AgentProcess[] = [];
const stopAll = async () => { await Promise.all(agents.map((a) => a.stop())); rmSync(root, { recursive: true, force: true }); };
try {
  for (const [i, n] of nodes.entries()) {
    console.error(`starting ${n.name} on 127.0.0.1:${base + i} (simulated GPUs from ${n.fixtures.join(', ')})`);
    agents.push(await spawnAgent({
      dataDir: join(root, n.name), port: base + i, name: n.name,
      args: ['--gpu-source', 'sim', ...n.fixtures.flatMap((f) => ['--gpu-fixture', fx(f)]), ...n.labels.flatMap((l) => ['--label', l]),
        // jobs: the fake driver (no real work) plus real processes and containers where an engine runs
        '--job-driver', 'fake', '--job-driver', 'process', '--job-driver', 'docker'],
    }));
  }
} catch (e) {
  console.error(`fleetml demo: ${(e as Error).message}`);
  await stopAll();
  process.exit(1);
}
// Models: push the generated MLP to every agent and send it some traffic, so the models view has figures.
const mlp = join(packageRoot(), 'test', 'fixtures', 'models', 'mlp.onnx');
const traffic: AgentClient[] = [];
let trafficTimer: NodeJS.Timeout | null = null;
try {
  const bytes = readFileSync(mlp);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  for (const a of agents) {
    const c = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 60_000 });
    await c.connect();
    await pushModel(c, mlp, { name: 'demo-mlp', sha256, size: bytes.length, lineage: { meta: { source: 'scripts/gen-onnx-models.ts' } } });
    await c.call('model.load', { name: 'demo-mlp' });
    traffic.push(c);
  }
  const input = [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => Math.sin(i)) }];
  trafficTimer = setInterval(() => { for (const c of traffic) c.call('model.infer', { name: 'demo-mlp', inputs: input }).catch(() => undefined); }, 100);
  trafficTimer.unref();
  console.error('pushed demo-mlp to every agent; sending 10 requests/s to each (:models in the TUI)');
} catch (e) {
  console.error(`fleetml demo: models part skipped: ${(e as Error).message}`);
}
const stopTraffic = async () => { if (trafficTimer) clearInterval(trafficTimer); await Promise.all(traffic.map((c) => c.close())); };

const fleet = new FleetClient(agents.map((a, i) => ({ name: nodes[i].name, url: a.url, token: a.token })));
fleet.start();
const { runTui } = await import('../tui/run.js');
process.on('SIGTERM', () => void fleet.stop().then(stopAll).then(() => process.exit(0)));
try {
  await runTui(fleet, { title: 'demo (simulated GPUs)', actions: fleet });
} finally {
  await stopTraffic();
  await fleet.stop();
  await stopAll();
}
process.exit(0);
