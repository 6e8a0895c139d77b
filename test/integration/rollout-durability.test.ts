import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { Rollout } from '../../shared/protocol/index.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { freePort, inProcessAgent, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { CREDIT, sendRows } from '../helpers/drift.js';

// The coordinator is a real agent process: kill -9 in the middle of a rollout, restart it on the same data dir, and
// the rollout resumes at the step it was at (never back to an earlier one) and finishes. A node that goes away pauses
// the rollout with its name; abort then restores every node it can reach.
let tmp: ReturnType<typeof tempDir>;
let coord: AgentProcess;
let port: number;
let config: string;
let pb: Awaited<ReturnType<typeof inProcessAgent>>;
let pc: AgentProcess; // a process, so it can die and come back on the same port
let pcPort: number;
const startPc = () => spawnAgent({ dataDir: join(tmp.dir, 'pc'), port: pcPort, name: 'pc', args: ['--gpu-source', 'none', '--job-driver', 'fake', '--config', join(tmp.dir, 'pc.yaml')] });
const clients = new Map<string, AgentClient>();
const rnd = mulberry32(5);
let trafficOn = false;
let loops: Promise<void>[] = [];
const start = () => spawnAgent({ dataDir: join(tmp.dir, 'co'), port, name: 'co', args: ['--gpu-source', 'none', '--job-driver', 'fake', '--config', config] });
const connect = async (url: string, token: string) => { const c = new AgentClient({ url, token, reconnect: false, callTimeoutMs: 30_000 }); await c.connect(); return c; };
function traffic(names: string[]) {
  trafficOn = true;
  loops = names.map(async (n) => {
    while (trafficOn) {
      const c = clients.get(n);
      if (c) await sendRows(c, 'credit', normalRows(rnd, 20, CREDIT.means, CREDIT.stds), 20).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 15));
    }
  });
}
async function stopTraffic() { trafficOn = false; await Promise.all(loops); }
async function until(c: () => AgentClient, id: string, pred: (r: Rollout) => boolean, ms = 40_000): Promise<Rollout> {
  const end = Date.now() + ms;
  for (;;) {
    const r = (await c().call('rollout.get', { id })).rollout;
    if (pred(r)) return r;
    if (Date.now() > end) throw new Error(`rollout ${id}: ${r.state}, step ${r.step}: ${r.decisions.map((d) => `${d.kind}/${d.outcome}: ${d.reason}`).join(' | ')}`);
    await new Promise((res) => setTimeout(res, 150));
  }
}
const targetsOf = async (c: AgentClient) => (await c.call('model.history', { name: 'credit', limit: 50 })).events.map((e) => e.targets.map((t) => `${t.version}:${t.weight}`).join(',')).reverse();

beforeAll(async () => {
  tmp = tempDir();
  port = await freePort();
  pb = await inProcessAgent({ name: 'pb', jobDriver: ['fake'] }, (cfg) => { cfg.drift.bucket_s = 1; cfg.drift.min_rows = 50; });
  pcPort = await freePort();
  writeFileSync(join(tmp.dir, 'pc.yaml'), 'drift:\n  bucket_s: 1\n  min_rows: 50\n');
  pc = await startPc();
  config = join(tmp.dir, 'co.yaml');
  writeFileSync(config, ['drift:', '  bucket_s: 1', '  min_rows: 50', 'peers:', `  - { name: pb, url: "${pb.agent.url}", token: "${pb.token}" }`, `  - { name: pc, url: "${pc.url}", token: "${pc.token}" }`].join('\n') + '\n');
  coord = await start();
  clients.set('co', await connect(coord.url, coord.token));
  clients.set('pb', await connect(pb.agent.url, pb.token));
  clients.set('pc', await connect(pc.url, pc.token));
  for (const c of clients.values()) {
    await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
  }
}, 90_000);
afterAll(async () => {
  await stopTraffic();
  for (const c of clients.values()) await c.close().catch(() => undefined);
  await coord?.stop();
  await pc?.stop();
  await pb?.close().catch(() => undefined);
  tmp?.cleanup();
});

const spec = { name: 'credit', to: 'v2', nodes: ['co', 'pb', 'pc'], step_duration_s: 2.5, analysis: { min_requests: 30, max_waits: 6, max_p95_ratio: 20 } }; // latency is not what these tests check (rollout.test.ts does)

describe('rollout coordinator across kill -9', () => {
  it('resumes at the step it was at and finishes the rollout', async () => {
    traffic(['co', 'pb', 'pc']);
    const { rollout } = await clients.get('co')!.call('rollout.start', spec);
    // wait for step 2 (50 %) to be applied, then kill the coordinator
    await until(() => clients.get('co')!, rollout.id, (r) => r.step === 1 && r.step_started_at !== null);
    await clients.get('co')!.close();
    clients.delete('co');
    await coord.stop('SIGKILL');
    coord = await start();
    clients.set('co', await connect(coord.url, coord.token));
    const r = await until(() => clients.get('co')!, rollout.id, (x) => ['promoted', 'rolled_back', 'paused', 'failed'].includes(x.state));
    expect(r.state, r.decisions.map((d) => d.reason).join(' / ')).toBe('promoted');
    const resume = r.decisions.find((d) => d.kind === 'resume')!;
    expect(resume.reason).toMatch(/coordinator restarted: step 2 of 3/);
    // steps after the restart: 2 again (fresh window), then 3; never step 1
    const after = r.decisions.slice(r.decisions.indexOf(resume)).filter((d) => d.kind === 'step').map((d) => d.step);
    expect(after).toEqual([1, 2]);
    // every peer's routing went 100/0 → 90/10 → 50/50 → 0/100, with no step repeated or undone
    for (const n of ['pb', 'pc']) expect(await targetsOf(clients.get(n)!)).toEqual(['v1:100', 'v1:90,v2:10', 'v1:50,v2:50', 'v2:100']);
    await stopTraffic();
  }, 90_000);

  it('pauses with the node\'s name when a node goes away; abort restores the nodes it can reach, and the last one when it is back', async () => {
    for (const c of clients.values()) await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    traffic(['co', 'pb', 'pc']);
    const co = clients.get('co')!;
    const { rollout } = await co.call('rollout.start', { ...spec, step_duration_s: 2 });
    await until(() => co, rollout.id, (r) => r.step_started_at !== null);
    // pc goes away (kill -9)
    const pcc = clients.get('pc')!; clients.delete('pc'); await pcc.close();
    await pc.stop('SIGKILL');
    const r = await until(() => co, rollout.id, (x) => x.state !== 'running');
    expect(r.state).toBe('paused');
    expect(r.decisions.at(-1)!.reason).toMatch(/node pc unreachable/);
    expect(r.nodes.find((n) => n.name === 'pc')!.state).toBe('unreachable');
    const a = (await co.call('rollout.abort', { id: rollout.id, reason: 'pc is down' })).rollout;
    expect(a.state).toBe('aborting'); // not aborted until every node it changed is restored
    expect(a.decisions.at(-1)!.reason).toMatch(/could not restore pc: .*retrying/);
    for (const n of ['co', 'pb']) expect((await targetsOf(clients.get(n)!)).at(-1)).toBe('v1:100');
    // pc comes back on the same port and data dir: the coordinator restores it and the abort completes
    pc = await startPc();
    clients.set('pc', await connect(pc.url, pc.token));
    const done = await until(() => co, rollout.id, (x) => x.state === 'aborted');
    expect(done.decisions.at(-1)!.reason).toMatch(/previous routing restored on co, pb, pc/);
    expect((await targetsOf(clients.get('pc')!)).at(-1)).toBe('v1:100');
    await stopTraffic();
  }, 60_000);
});
