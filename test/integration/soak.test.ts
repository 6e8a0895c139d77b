import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { JobSpecInput } from '../../shared/protocol/index.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// A bounded soak (well under a minute): 50 clients at once subscribe and unsubscribe, infer, submit and cancel
// jobs and push model versions against one agent process; halfway the agent is killed with SIGKILL and restarted.
// Afterwards every acknowledged job, model version and audit row is there, and once the second agent's load has
// stopped its RSS is back within 10% of where it settled: the level it reached after rounds of the same load, once
// a round no longer grew it by 5 %.

const CLIENTS = 50;
const PHASE_MS = 6000;

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let port: number;
const args = ['--gpu-source', 'sim', '--gpu-fixture', fixture('rtx-3060-570.124-q-x.xml'), '--job-driver', 'fake', '--telemetry-interval', '250'];

const rssBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Acked { jobs: string[]; cancelled: string[]; versions: string[]; mutations: number; errors: string[] }

/** One client's loop until `until`: every call it gets an answer for is acknowledged and recorded. */
async function client(i: number, until: number, acked: Acked): Promise<void> {
  const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 15_000 });
  try { await c.connect(); } catch (e) { acked.errors.push(`connect: ${(e as Error).message}`); return; }
  try {
    let n = 0;
    while (Date.now() < until) {
      n++;
      const sub = await c.subscribe(n % 2 ? 'node.stats' : 'job.events', {}, () => undefined);
      const x = Array.from({ length: 64 }, (_, k) => ((i + k + n) % 7) / 7);
      await c.call('model.infer', { name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: x }] });
      const spec = { driver: 'fake', command: ['sleep', '0.2', '&&', 'exit', '0'] } as JobSpecInput;
      const job = (await c.call('job.submit', { spec })).job;
      acked.jobs.push(job.id);
      acked.mutations++;
      if (n % 3 === 0) { await c.call('job.cancel', { id: job.id }); acked.cancelled.push(job.id); acked.mutations++; }
      if (i % 10 === 0 && n % 4 === 1) {
        const v = `s${i}-${n}-${Date.now()}`;
        await pushModel(c, 'soak', modelBytes('logreg.onnx'), { version: v });
        acked.versions.push(v);
        acked.mutations++;
      }
      await sub.close();
    }
  } catch (e) {
    // the kill lands in the middle of calls: what was not answered is not acknowledged
    acked.errors.push((e as Error).message);
  } finally {
    await c.close().catch(() => undefined);
  }
}

async function load(ms: number, acked: Acked): Promise<void> {
  const until = Date.now() + ms;
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, until, acked)));
}

describe('soak: 50 clients, kill -9 halfway', () => {
  beforeAll(async () => {
    tmp = tempDir();
    port = await freePort();
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'soak', args });
    const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
    await pushModel(c, 'mlp', modelBytes('mlp.onnx'), { version: 'v1' });
    await c.call('model.alias', { name: 'mlp', targets: [{ version: 'v1', weight: 100 }] });
    await c.close();
  }, 60_000);
  afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

  it('loses nothing acknowledged across kill -9, and memory settles back', async () => {
    const acked: Acked = { jobs: [], cancelled: [], versions: [], mutations: 0, errors: [] };
    // phase 1, killed in the middle of it
    const phase1 = load(PHASE_MS, acked);
    await sleep(PHASE_MS / 2);
    await agent.stop('SIGKILL');
    await phase1;
    const killedDuring = acked.errors.length;
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'soak', args });

    // phase 2 on the restarted agent: rounds of the same load until RSS after a round stops growing (V8's heap and
    // the caches reach their working size), that is where it settled; then more of the load, stop, look again
    const ROUND_MS = PHASE_MS / 2;
    let settled = 0;
    for (let round = 0; round < 4; round++) {
      await load(ROUND_MS, acked);
      await sleep(1000);
      const now = rssBytes(agent.child.pid!);
      const grew = settled > 0 ? now / settled : Infinity;
      settled = Math.max(settled, now);
      if (grew < 1.05) break;
    }
    await load(ROUND_MS, acked);
    await load(ROUND_MS, acked);
    let after = Infinity;
    for (let i = 0; i < 20 && after > settled * 1.1; i++) { await sleep(500); after = Math.min(after, rssBytes(agent.child.pid!)); }

    expect(acked.jobs.length).toBeGreaterThan(CLIENTS); // the load really ran
    expect(killedDuring).toBeGreaterThan(0);            // and the kill really landed mid-call
    const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 });
    await c.connect();
    const all = new Map((await c.call('job.list', { limit: 10_000 })).jobs.map((j) => [j.id, j]));
    const missing = acked.jobs.filter((id) => !all.has(id));
    expect(missing, `${missing.length} acknowledged jobs missing`).toEqual([]);
    for (const id of acked.cancelled) expect(['cancelled', 'succeeded', 'failed', 'lost']).toContain(all.get(id)!.state); // a cancel acknowledged is never undone
    const versions = new Set((await c.call('model.get', { name: 'soak' })).versions.map((v) => v.version));
    expect(acked.versions.filter((v) => !versions.has(v))).toEqual([]);
    await c.close();
    // the agent still answers health checks, and its memory came back
    expect((await fetch(`${agent.httpUrl}/healthz`)).status).toBe(200);
    expect(after, `RSS ${Math.round(after / 2 ** 20)} MiB after the load, settled at ${Math.round(settled / 2 ** 20)} MiB`).toBeLessThanOrEqual(settled * 1.1);

    // every acknowledged mutation has its audit row (read from the database after a clean stop)
    await agent.stop();
    const db = new Database(join(agent.dataDir, 'fleetml.db'), { readonly: true });
    const rows = db.prepare("SELECT method, COUNT(*) AS n FROM audit WHERE outcome = 'ok' AND method IN ('job.submit', 'job.cancel', 'model.push') GROUP BY method").all() as Array<{ method: string; n: number }>;
    db.close();
    const n = (m: string) => rows.find((r) => r.method === m)?.n ?? 0;
    expect(n('job.submit')).toBeGreaterThanOrEqual(acked.jobs.length);
    expect(n('job.cancel')).toBeGreaterThanOrEqual(acked.cancelled.length);
    expect(n('model.push')).toBeGreaterThanOrEqual(acked.versions.length);
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'soak', args }); // for afterAll
  }, 150_000);
});
