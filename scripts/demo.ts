// `npm run demo`: three local agents whose GPUs are SIMULATED from real nvidia-smi outputs (test/fixtures/nvidia-smi),
// and the TUI on all three. Everything simulated is marked so wherever it shows. Quitting stops the agents.
//
// Models: demo-mlp on every agent with constant traffic (:models), and the drift scenario: logreg.onnx pushed as
// `credit` with a reference dataset (2000 seeded rows), unshifted traffic to every agent, then after DRIFT_AFTER_MS
// the traffic of ONE node (DRIFT_NODE) gets income and debt_ratio shifted by 3 standard deviations: its drift alert
// shows in `:drift` two windows later, naming exactly those two features.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { packageRoot } from '../shared/util/package-root.js';
import { spawnAgent, type AgentProcess } from './lib/agent-process.js';
import { FleetClient } from '../shared/client/fleet-client.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { pushModel } from '../shared/cli/models.js';
import { uploadReferenceFile } from '../shared/cli/drift-upload.js';
import { CREDIT, CREDIT_DRIFT, CREDIT_SHIFTED, CREDIT_SHIFT_STDS, creditRows, csvOf } from '../shared/util/credit-data.js';
import { mulberry32 } from '../shared/util/prng.js';
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

// Drift windows of the demo agents. In production drift.bucket_s defaults to 300 s (5-minute windows) and alert_after
// to 3 windows, so an alert takes 15 minutes or more; the demo uses 10 s windows and 2 of them so a newcomer sees
// the alert within a minute. min_rows: a window needs 100 rows to be judged (the demo sends 500 rows/s per node).
const DRIFT_BUCKET_S = 10;
const DRIFT_ALERT_AFTER = 2;
const agentConfig = join(root, 'agent.yaml');
writeFileSync(agentConfig, `# fleetml demo agents (scripts/demo.ts): short drift windows; production default bucket_s is 300\ndrift:\n  bucket_s: ${DRIFT_BUCKET_S}\n  alert_after: ${DRIFT_ALERT_AFTER}\n  min_rows: 100\n`);
/** The node whose credit traffic drifts, and when (after the credit traffic starts). */
const DRIFT_NODE = 'h100-01';
const DRIFT_AFTER_MS = 40_000;
const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8);

const agents: AgentProcess[] = [];
const stopAll = async () => { await Promise.all(agents.map((a) => a.stop())); rmSync(root, { recursive: true, force: true }); };
try {
  for (const [i, n] of nodes.entries()) {
    console.error(`starting ${n.name} on 127.0.0.1:${base + i} (simulated GPUs from ${n.fixtures.join(', ')})`);
    agents.push(await spawnAgent({
      dataDir: join(root, n.name), port: base + i, name: n.name,
      args: ['--config', agentConfig, '--gpu-source', 'sim', ...n.fixtures.flatMap((f) => ['--gpu-fixture', fx(f)]), ...n.labels.flatMap((l) => ['--label', l]),
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

// Drift: logreg.onnx as `credit` on every agent, with a reference dataset uploaded through the CLI's chunked helper
// (`fleetml drift reference credit --from credit-train.csv` does the same), then 100-row requests every 200 ms.
let creditTimer: NodeJS.Timeout | null = null;
const creditClients: AgentClient[] = [];
const notes: string[] = []; // said on stderr after the TUI quits (a line written while it draws would tear its frame)
try {
  const logreg = join(packageRoot(), 'test', 'fixtures', 'models', 'logreg.onnx');
  const bytes = readFileSync(logreg);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const refCsv = join(root, 'credit-train.csv');
  const csv = csvOf(CREDIT.names, creditRows(mulberry32(2024), 2000));
  writeFileSync(refCsv, csv);
  const lineage = { dataset_name: 'credit-train.csv', dataset_sha256: createHash('sha256').update(csv).digest('hex'), meta: { source: 'scripts/gen-onnx-models.ts' } };
  for (const a of agents) {
    const c = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 60_000 });
    creditClients.push(c);
    await c.connect();
    await pushModel(c, logreg, { name: 'credit', sha256, size: bytes.length, lineage });
    await c.call('model.load', { name: 'credit' });
    await uploadReferenceFile(c, refCsv, { name: 'credit', format: 'csv' });
  }
  const rnds = creditClients.map((_, i) => mulberry32(100 + i));
  const busy = creditClients.map(() => false);
  const driftAt = Date.now() + DRIFT_AFTER_MS;
  const driftIdx = nodes.findIndex((n) => n.name === DRIFT_NODE);
  let announced = false;
  creditTimer = setInterval(() => {
    const now = Date.now();
    creditClients.forEach((c, i) => {
      if (busy[i]) return; // a slow agent gets no pile of requests
      const shifted = i === driftIdx && now >= driftAt;
      if (shifted && !announced) {
        announced = true;
        const line = `${clock(now)} credit on ${DRIFT_NODE}: traffic now shifted (${CREDIT_SHIFTED.join(', ')} +${CREDIT_SHIFT_STDS} std)`;
        if (process.stderr.isTTY) notes.push(line); else console.error(line);
      }
      const rows = creditRows(rnds[i], 100, shifted ? CREDIT_DRIFT : {});
      busy[i] = true;
      c.call('model.infer', { name: 'credit', inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, CREDIT.names.length], data: rows.flat() }] })
        .catch(() => undefined).finally(() => { busy[i] = false; });
    });
  }, 200);
  creditTimer.unref();
  console.error(`pushed credit (logreg.onnx) with a 2000-row reference to every agent; sending 100 rows every 200 ms to each (:drift in the TUI; drift windows of ${DRIFT_BUCKET_S} s, production default 300 s)`);
  console.error(`at ${clock(driftAt)} (in ~${DRIFT_AFTER_MS / 1000} s) credit on ${DRIFT_NODE} gets shifted inputs (${CREDIT_SHIFTED.join(', ')} +${CREDIT_SHIFT_STDS} std): watch :drift, its ALERT naming ${CREDIT_SHIFTED.join(' and ')} follows within ~${(DRIFT_ALERT_AFTER + 1) * DRIFT_BUCKET_S} s; Enter on that row shows the DRIFT features`);
} catch (e) {
  console.error(`fleetml demo: drift part skipped: ${(e as Error).message}`);
}
const stopTraffic = async () => {
  if (trafficTimer) clearInterval(trafficTimer);
  if (creditTimer) clearInterval(creditTimer);
  await Promise.all([...traffic, ...creditClients].map((c) => c.close().catch(() => undefined)));
};

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
  for (const n of notes) console.error(n);
}
process.exit(0);
