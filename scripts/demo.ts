// `npm run demo`: three local agents whose GPUs are SIMULATED from real nvidia-smi outputs (test/fixtures/nvidia-smi),
// and the TUI on all three. Everything simulated is marked so wherever it shows. Quitting stops the agents.
//
// Models: demo-mlp on every agent with constant traffic (:models), and the drift scenario: logreg.onnx pushed as
// `credit` with a reference dataset (2000 seeded rows), unshifted traffic to every agent, then after DRIFT_AFTER_MS
// the traffic of ONE node (DRIFT_NODE) gets income and debt_ratio shifted by 3 standard deviations: its drift alert
// shows in `:drift` two windows later, naming exactly those two features.
//
// Rollouts (`:rollouts`): the first agent (COORDINATOR) has the two others as peers in its config. A model of its
// own, `scoring` (so the credit drift above stays apart), is pushed to every node as v1 (logreg.onnx, serving),
// v2 (logreg.onnx again: a good candidate, same answers) and v3 (logreg-drifted.onnx: different answers), with
// traffic to every node. ROLLOUT_AFTER_MS in, the demo starts a canary of v2 on all three nodes (10 → 50 → 100 %,
// ROLLOUT_STEP_S each): it is promoted; then a canary of v3, rolled back by itself at its first step (output drift).
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { packageRoot } from '../shared/util/package-root.js';
import { cliPath, spawnAgent, type AgentProcess } from './lib/agent-process.js';
import { FleetClient } from '../shared/client/fleet-client.js';
import { AgentClient } from '../shared/client/agent-client.js';
import { pushModel } from '../shared/client/model-push.js';
import { uploadReferenceFile } from '../shared/client/drift-upload.js';
import { isTerminalRun } from '../shared/protocol/index.js';
import { CREDIT, CREDIT_DRIFT, CREDIT_SHIFTED, CREDIT_SHIFT_STDS, creditRows, csvOf } from './lib/credit-data.js';
import { mulberry32 } from '../shared/util/prng.js';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const fx = (f: string) => join(packageRoot(), 'test', 'fixtures', 'nvidia-smi', f);
const base = Number(process.env.FLEETML_DEMO_PORT ?? 7171);
// a fresh private folder per run: it holds the demo agents' admin tokens
const root = mkdtempSync(join(tmpdir(), 'fleetml-demo-'));
// traversable (not listable) by the job user: the automations' run folders live here, next to the agents' data dirs
// (those stay 0700)
chmodSync(root, 0o711);
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

// Rollouts: the coordinator (it keeps the rollouts and drives the other nodes with their admin tokens, read from
// their token files: `peers` in its config), the model, and when the automatic canaries start (after its traffic).
const COORDINATOR = nodes[0].name;
const ROLLOUT_MODEL = 'scoring';
const ROLLOUT_AFTER_MS = 20_000;
const ROLLOUT_STEP_S = 20;
const ROLLOUT_STEPS = [10, 50, 100];
// Thresholds: the defaults, except min_requests (a 10 % step of 20 s serves 30-40 candidate requests per node
// here) and the p95 ratio (three agents and the console share this machine: latency is noisy; this demo is about
// answers, not speed).
const ROLLOUT_MIN_REQUESTS = 20;
/**
 * Rows per `scoring` request. The analysis compares the candidate's inputs and outputs with the stable version's
 * (normalised distances, threshold 0.2); by chance alone that distance is about 1/sqrt(rows): with 10-row requests a
 * 10 % step saw ~400 candidate rows and input distances up to 0.12 for the good candidate, with 20 about 800.
 */
const SCORING_ROWS = 20;
const ROLLOUT_MAX_P95_RATIO = 3;
const coordinatorConfig = join(root, 'agent-coordinator.yaml');

const agents: AgentProcess[] = [];
const stopAll = async () => { await Promise.all(agents.map((a) => a.stop())); rmSync(root, { recursive: true, force: true }); };
try {
  const spawnNode = (i: number, config: string) => {
    const n = nodes[i];
    console.error(`starting ${n.name} on 127.0.0.1:${base + i} (simulated GPUs from ${n.fixtures.join(', ')})${n.name === COORDINATOR ? `; it coordinates rollouts on ${nodes.map((x) => x.name).join(', ')}` : ''}`);
    return spawnAgent({
      dataDir: join(root, n.name), port: base + i, name: n.name,
      args: ['--config', config, '--gpu-source', 'sim', ...n.fixtures.flatMap((f) => ['--gpu-fixture', fx(f)]), ...n.labels.flatMap((l) => ['--label', l]),
        // jobs: the fake driver (no real work) plus real processes and containers where an engine runs
        '--job-driver', 'fake', '--job-driver', 'process', '--job-driver', 'docker',
        // not root (a developer's demo): process jobs run as the demo's own user, who holds every admin token anyway
        ...(process.getuid?.() !== 0 ? ['--process-user', '@agent'] : [])],
    });
  };
  // The peers first (each writes its admin token at its first start), then the coordinator, whose config names them.
  const peers: AgentProcess[] = [];
  for (let i = 1; i < nodes.length; i++) { const a = await spawnNode(i, agentConfig); peers.push(a); agents.push(a); }
  writeFileSync(coordinatorConfig, readFileSync(agentConfig, 'utf8')
    + `# the other demo agents, driven by this one's rollouts with their admin tokens\npeers:\n`
    + peers.map((p, i) => `  - name: ${nodes[i + 1].name}\n    url: ${p.url}\n    token_file: ${join(p.dataDir, 'admin.token')}\n`).join(''), { mode: 0o600 });
  agents.unshift(await spawnNode(0, coordinatorConfig)); // agents[i] is nodes[i]
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
// The closed loop (`:auto`): on the drifting node, `credit-retrain` retrains credit when its drift alert is raised
// (a real process job: scripts/train-logreg.ts fits a logistic regression to labelled data and writes ONNX), gates the
// new version on a held-out set and canaries it 10 → 50 → 100; `credit-worse` retrains into a deliberately worse model
// (FLEETML_TRAIN_WORSE=1), started by hand once the first run is over, and stops at the gate: v1 keeps serving.
let autoTimer: NodeJS.Timeout | null = null;
try {
  const i = nodes.findIndex((n) => n.name === DRIFT_NODE);
  const c = creditClients[i];
  if (!c) throw new Error('the credit part did not start');
  // labels by a rule the script can learn (the demo's ground truth); v1 (logreg.onnx) knows nothing of it
  const rule = (r: number[]) => ((r[0] - CREDIT.means[0]) / CREDIT.stds[0] + (r[2] - CREDIT.means[2]) / CREDIT.stds[2] > 0 ? 1 : 0);
  const labelled = (seed: number, n: number) => csvOf([...CREDIT.names, 'label'], creditRows(mulberry32(seed), n).map((r) => [...r, rule(r)]));
  const train = join(root, 'credit-labelled.csv');
  const heldOut = join(root, 'credit-holdout.csv');
  writeFileSync(train, labelled(7, 1500), { mode: 0o644 });
  writeFileSync(heldOut, labelled(8, 400), { mode: 0o644 });
  const job = { driver: 'process' as const, command: [process.execPath, join(packageRoot(), 'dist', 'scripts', 'train-logreg.js')] };
  const common = {
    model: 'credit', data: { file: train }, gate: { metric: 'accuracy' as const, bound: 0.9, max_regression: 0.01, test_set: { file: heldOut } }, cooldown_s: 600,
    // the retrained model answers differently by design (new labels): its canary is judged on errors and latency
    rollout: { strategy: 'canary' as const, steps: [10, 50, 100], step_duration_s: 10, analysis: { min_requests: 2, max_waits: 10, max_p95_ratio: 20, max_drift: 1e9 } },
  };
  await c.call('auto.create', { spec: { name: 'credit-retrain', trigger: { kind: 'drift' }, job, ...common } });
  await c.call('auto.create', { spec: { name: 'credit-worse', trigger: { kind: 'manual' }, job: { ...job, env: { FLEETML_TRAIN_WORSE: '1' } }, ...common } });
  let worseStarted = false;
  autoTimer = setInterval(() => {
    if (worseStarted) return;
    c.call('auto.history', { name: 'credit-retrain', limit: 1 }).then(async ({ runs }) => {
      if (worseStarted || !runs[0] || !isTerminalRun(runs[0]) || runs[0].state === 'suppressed') return;
      worseStarted = true;
      await c.call('auto.run', { name: 'credit-worse', reason: 'demo: a retrain that makes a worse model' }).catch(() => undefined);
    }).catch(() => undefined);
  }, 2000);
  autoTimer.unref();
  console.error(`automations on ${DRIFT_NODE}: credit-retrain (on drift: retrain with scripts/train-logreg.ts, gate accuracy>=0.9, canary 10 → 50 → 100) and credit-worse (a worse retrain, run once the first is over: stops at the gate); watch :auto`);
} catch (e) {
  console.error(`fleetml demo: automation part skipped: ${(e as Error).message}`);
}
// Rollouts: `scoring` v1 (serving), v2 (good) and v3 (bad) on every agent, SCORING_ROWS-row requests every 50 ms to each, then
// the two canaries, started on the coordinator through the API (`fleetml rollout start` does the same).
let scoringTimer: NodeJS.Timeout | null = null;
let rolloutTimer: NodeJS.Timeout | null = null;
const scoringClients: AgentClient[] = [];
try {
  const models = join(packageRoot(), 'test', 'fixtures', 'models');
  const versions = [
    { version: 'v1', file: 'logreg.onnx', note: 'the version serving now' },
    { version: 'v2', file: 'logreg.onnx', note: 'retrained: same answers (a good candidate)' },
    { version: 'v3', file: 'logreg-drifted.onnx', note: 'different answers (a bad candidate)' },
  ];
  for (const a of agents) {
    const c = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 60_000 });
    scoringClients.push(c);
    await c.connect();
    for (const v of versions) {
      const path = join(models, v.file);
      const bytes = readFileSync(path);
      await pushModel(c, path, { name: ROLLOUT_MODEL, version: v.version, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length,
        lineage: { meta: { source: `test/fixtures/models/${v.file}`, demo: v.note } } });
      if (v.version === 'v1') {
        await c.call('model.alias', { name: ROLLOUT_MODEL, targets: [{ version: 'v1', weight: 100 }], reason: 'demo: v1 serves' });
        await c.call('model.load', { name: ROLLOUT_MODEL });
      }
    }
  }
  const rnds = scoringClients.map((_, i) => mulberry32(200 + i));
  const busy = scoringClients.map(() => false);
  scoringTimer = setInterval(() => {
    scoringClients.forEach((c, i) => {
      if (busy[i]) return;
      const rows = creditRows(rnds[i], SCORING_ROWS);
      busy[i] = true;
      c.call('model.infer', { name: ROLLOUT_MODEL, inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, CREDIT.names.length], data: rows.flat() }] })
        .catch(() => undefined).finally(() => { busy[i] = false; });
    });
  }, 50);
  scoringTimer.unref();

  const co = scoringClients[0];
  const say = (line: string) => { if (process.stderr.isTTY) notes.push(`${clock(Date.now())} ${line}`); else console.error(`${clock(Date.now())} ${line}`); };
  const spec = (from: string, to: string, reason: string) => ({
    name: ROLLOUT_MODEL, from, to, nodes: nodes.map((n) => n.name), strategy: 'canary' as const, steps: ROLLOUT_STEPS, step_duration_s: ROLLOUT_STEP_S,
    analysis: { min_requests: ROLLOUT_MIN_REQUESTS, max_p95_ratio: ROLLOUT_MAX_P95_RATIO }, reason,
  });
  /** Start a canary, then poll it until it ends; resolves with its final state (null when it could not start). */
  const canary = async (from: string, to: string, reason: string): Promise<string | null> => {
    let id: string;
    try { id = (await co.call('rollout.start', spec(from, to, reason))).rollout.id; } catch (e) { say(`rollout of ${ROLLOUT_MODEL} ${to} not started: ${(e as Error).message}`); return null; }
    say(`rollout ${id} started: canary of ${ROLLOUT_MODEL} ${from} → ${to} on ${nodes.map((n) => n.name).join(', ')}`);
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000).unref());
      const r = await co.call('rollout.get', { id }).then((x) => x.rollout).catch(() => null);
      if (!r) return null; // the demo is stopping
      if (['promoted', 'completed', 'rolled_back', 'aborted', 'failed', 'paused'].includes(r.state)) {
        // Why: the failed analysis of a rollback, else the last decision.
        const why = r.decisions.find((d) => d.kind === 'analysis' && d.outcome === 'fail') ?? r.decisions.at(-1);
        say(`rollout ${id} (${ROLLOUT_MODEL} ${from} → ${to}) is ${r.state.toUpperCase()}${why ? ` (${why.kind}: ${why.reason})` : ''}`);
        return r.state;
      }
    }
  };
  rolloutTimer = setTimeout(() => {
    void (async () => {
      const first = await canary('v1', 'v2', 'demo: v2 retrained, same answers');
      if (first === 'promoted') await canary('v2', 'v3', 'demo: v3 gives different answers: watch it roll back');
    })();
  }, ROLLOUT_AFTER_MS);
  rolloutTimer.unref();
  const at = Date.now() + ROLLOUT_AFTER_MS;
  const total = ROLLOUT_STEPS.length * ROLLOUT_STEP_S;
  console.error(`pushed ${ROLLOUT_MODEL} v1 (serving), v2 (logreg.onnx: same answers) and v3 (logreg-drifted.onnx: different answers) to every agent; sending ${SCORING_ROWS}-row requests every 50 ms to each`);
  console.error(`at ${clock(at)} (in ~${ROLLOUT_AFTER_MS / 1000} s) ${COORDINATOR} starts a canary rollout of ${ROLLOUT_MODEL} v1 → v2 on every node: ${ROLLOUT_STEPS.join(' → ')} % of its traffic, ${ROLLOUT_STEP_S} s per step; `
    + `watch :rollouts (Enter opens it: each step's node weights, the analysis against its thresholds, the decisions). It is promoted after ~${total} s; `
    + `then a canary of v3 is rolled back by itself at its first step (its output drifts from v2's). Keys there: p pause, r resume, P promote, ctrl-a abort`);
  // An inventory of the three (token files, no token copies), so the CLI knows every node `--all` names.
  const inventory = join(root, 'inventory.yaml');
  writeFileSync(inventory, `# the fleetml demo agents (scripts/demo.ts); removed when the demo stops\nnodes:\n`
    + agents.map((a, i) => `  - name: ${nodes[i].name}\n    url: ${a.url}\n    token_file: ${join(a.dataDir, 'admin.token')}\n`).join(''), { mode: 0o600 });
  const cmd = `FLEETML_INVENTORY=${inventory} node ${cliPath()} rollout start ${ROLLOUT_MODEL} --to v1 --all --coordinator ${COORDINATOR} `
    + `--steps ${ROLLOUT_STEPS.join(',')} --step-duration ${ROLLOUT_STEP_S}s --min-requests ${ROLLOUT_MIN_REQUESTS} --max-p95-ratio ${ROLLOUT_MAX_P95_RATIO}`;
  console.error(`your own try, from another terminal once those two are done (~${Math.round((ROLLOUT_AFTER_MS / 1000 + total + 2 * ROLLOUT_STEP_S) / 60)} min; one rollout of a model at a time), back to v1 (--to v3: another rollback):\n  ${cmd}`);
} catch (e) {
  console.error(`fleetml demo: rollout part skipped: ${(e as Error).message}`);
}

const stopTraffic = async () => {
  if (trafficTimer) clearInterval(trafficTimer);
  if (creditTimer) clearInterval(creditTimer);
  if (scoringTimer) clearInterval(scoringTimer);
  if (rolloutTimer) clearTimeout(rolloutTimer);
  if (autoTimer) clearInterval(autoTimer);
  await Promise.all([...traffic, ...creditClients, ...scoringClients].map((c) => c.close().catch(() => undefined)));
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
