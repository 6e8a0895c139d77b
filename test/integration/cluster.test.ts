import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { FleetClient } from '../../shared/client/fleet-client.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { fixture, freePort, tempDir } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';

// Two real agent processes on loopback with different simulated GPU sets, driven through the real CLI.
let tmp: ReturnType<typeof tempDir>;
let a: AgentProcess, b: AgentProcess;
let inventory: string;
const argsA = ['--gpu-source', 'sim', '--gpu-fixture', fixture('rtx-a5000-2gpu-590.44-procs-q-x.xml'), '--label', 'rack=r1', '--telemetry-interval', '250'];
const argsB = ['--gpu-source', 'sim', '--gpu-fixture', fixture('query-gpu-h100-80gb-hbm3-590.48-load.csv'), '--telemetry-interval', '250'];

beforeAll(async () => {
  tmp = tempDir();
  const [pa, pb] = [await freePort(), await freePort()];
  [a, b] = await Promise.all([
    spawnAgent({ dataDir: join(tmp.dir, 'a'), port: pa, name: 'node-a', args: argsA }),
    spawnAgent({ dataDir: join(tmp.dir, 'b'), port: pb, name: 'node-b', args: argsB }),
  ]);
  inventory = join(tmp.dir, 'cluster.yaml');
}, 60_000);
afterAll(async () => { await Promise.all([a?.stop(), b?.stop()]); tmp?.cleanup(); });

describe('first run', () => {
  it('writes an admin token readable only by the user', () => {
    expect(statSync(join(a.dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
    expect(a.token).toMatch(/^fml_[0-9a-f]{12}_/);
  });
  it('stores only a hash of the token', () => {
    const db = readFileSync(join(a.dataDir, 'fleetml.db'));
    const wal = (() => { try { return readFileSync(join(a.dataDir, 'fleetml.db-wal')); } catch { return Buffer.alloc(0); } })();
    const secret = a.token.split('_').slice(2).join('_');
    expect(db.includes(secret) || wal.includes(secret)).toBe(false);
  });
});

describe('CLI against two agents', () => {
  it('cluster add/list builds the inventory with token files', async () => {
    writeFileSync(join(tmp.dir, 'b.token'), b.token, { mode: 0o600 });
    expect((await fleetml(['cluster', 'add', 'node-a', `127.0.0.1:${a.port}`, '--token', a.token, '--inventory', inventory])).code).toBe(0);
    expect((await fleetml(['cluster', 'add', 'node-b', `ws://127.0.0.1:${b.port}`, '--token-file', join(tmp.dir, 'b.token'), '--inventory', inventory])).code).toBe(0);
    const list = await fleetml(['cluster', 'list', '--inventory', inventory, '-o', 'json']);
    expect(JSON.parse(list.stdout).nodes.map((n: any) => n.name)).toEqual(['node-a', 'node-b']);
    expect(statSync(inventory).mode & 0o777).toBe(0o600);
  });
  it('cluster rm removes a node and refuses an unknown one', async () => {
    expect((await fleetml(['cluster', 'add', 'scratch', '127.0.0.1:1', '--token', 'fml_x', '--inventory', inventory])).code).toBe(0);
    expect((await fleetml(['cluster', 'rm', 'scratch', '--inventory', inventory])).code).toBe(0);
    const missing = await fleetml(['cluster', 'rm', 'scratch', '--inventory', inventory]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('fleetml cluster list');
    const list = JSON.parse((await fleetml(['cluster', 'list', '--inventory', inventory, '-o', 'json'])).stdout);
    expect(list.nodes.map((n: any) => n.name)).toEqual(['node-a', 'node-b']);
  });
  it('`nodes -o json` shows both agents with their own GPU sets', async () => {
    const r = await fleetml(['nodes', '--inventory', inventory, '-o', 'json']);
    expect(r.code).toBe(0);
    const nodes = JSON.parse(r.stdout);
    expect(nodes.map((n: any) => [n.name, n.state])).toEqual([['node-a', 'up'], ['node-b', 'up']]);
    expect(nodes[0].stats.gpu.gpus.map((g: any) => g.name)).toEqual(['NVIDIA RTX A5000', 'NVIDIA RTX A5000']);
    expect(nodes[1].stats.gpu.gpus.map((g: any) => g.name)).toEqual(['NVIDIA H100 80GB HBM3']);
    expect(nodes[0].info.labels).toEqual({ rack: 'r1' });
    expect(nodes.every((n: any) => n.stats.gpu.simulated === true)).toBe(true);
  });
  it('the table output marks simulated GPUs, and node show lists GPU processes', async () => {
    const t = await fleetml(['nodes', '--inventory', inventory]);
    expect(t.stdout).toMatch(/node-a\s+up.*2× RTX A5000 .*\(simulated\)/);
    expect(t.stdout).toMatch(/node-b\s+up.*1× H100 80GB HBM3 /);
    const show = await fleetml(['node', 'show', 'node-a', '--inventory', inventory]);
    expect(show.stdout).toContain('SIMULATED');
    expect(show.stdout).toMatch(/100477\s+C\s+\S+\s+\/root\/src\/llama\.cpp\/build\/bin\/llama-server/);
  });
  it('FLEETML_URL/FLEETML_TOKEN pick a single agent, like NOMAD_ADDR', async () => {
    const r = await fleetml(['nodes', '-o', 'json'], { FLEETML_URL: `127.0.0.1:${b.port}`, FLEETML_TOKEN: b.token });
    expect(JSON.parse(r.stdout).map((n: any) => n.name)).toEqual(['node-b']);
  });
  it('a usage error exits 2 and says what to try', async () => {
    const r = await fleetml(['nodes', '-o', 'yaml', '--inventory', inventory]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('use -o table or -o json');
  });
  it('token create works while the agent runs, and the new token connects with its role', async () => {
    const r = await fleetml(['token', 'create', '--role', 'read', '--name', 'grafana', '--data-dir', a.dataDir, '-o', 'json']);
    expect(r.code).toBe(0);
    const { token, role } = JSON.parse(r.stdout);
    expect(role).toBe('read');
    const c = new AgentClient({ url: a.url, token, reconnect: false });
    await c.connect();
    expect((await c.call('auth.whoami')).token_name).toBe('grafana');
    await c.close();
    const list = JSON.parse((await fleetml(['token', 'list', '--data-dir', a.dataDir, '-o', 'json'])).stdout);
    expect(list.map((t: any) => t.name)).toContain('grafana');
    expect(JSON.stringify(list)).not.toContain(token.split('_')[2]);
    expect((await fleetml(['token', 'revoke', 'grafana', '--data-dir', a.dataDir])).code).toBe(0);
    const again = new AgentClient({ url: a.url, token, reconnect: false });
    await expect(again.connect()).rejects.toMatchObject({ status: 401 });
  });
  it('token create takes the name as an argument (docs/rollouts.md), and refuses two different names with exit 2', async () => {
    const d = join(tmp.dir, 'named');
    const r = await fleetml(['token', 'create', 'rollout-coordinator', '--role', 'operate', '--data-dir', d, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'rollout-coordinator', role: 'operate' });
    const two = await fleetml(['token', 'create', 'a', '--name', 'b', '--role', 'read', '--data-dir', d]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('two names given');
  });
  it('token create works with no agent running, and says which database it used', async () => {
    const d = join(tmp.dir, 'offline');
    const r = await fleetml(['token', 'create', '--role', 'operate', '--data-dir', d, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).token).toMatch(/^fml_/);
    expect(r.stderr).toContain(`created ${join(d, 'fleetml.db')}`);
  });
  it('token commands use the data_dir of the agent config', async () => {
    const cfg = join(tmp.dir, 'agent.yaml');
    writeFileSync(cfg, `data_dir: ${a.dataDir}\n`);
    const r = await fleetml(['token', 'list', '--config', cfg, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`using ${join(a.dataDir, 'fleetml.db')}`);
    expect(JSON.parse(r.stdout).some((t: any) => t.role === 'admin')).toBe(true);
  });
});

describe('an agent that dies and comes back', () => {
  it('is reported unreachable, then up again without restarting the client', async () => {
    const fleet = new FleetClient([{ name: 'node-a', url: a.url, token: a.token }, { name: 'node-b', url: b.url, token: b.token }], { throttleMs: 20, backoffMaxMs: 1000, pingIntervalMs: 1000 });
    const waitFor = async (pred: () => boolean, ms = 20_000) => {
      const end = Date.now() + ms;
      while (!pred()) { if (Date.now() > end) throw new Error(`timeout; state: ${JSON.stringify(fleet.snapshot().map((n) => [n.name, n.conn, n.error]))}`); await new Promise((r) => setTimeout(r, 50)); }
    };
    fleet.start();
    await waitFor(() => fleet.snapshot().every((n) => n.conn === 'up' && n.stats !== null && n.jobs !== null));
    const subs = async (p: AgentProcess) => Number(/^fleetml_subscriptions (\d+)/m.exec(await (await fetch(`${p.httpUrl}/metrics`, { headers: { authorization: `Bearer ${p.token}` } })).text())?.[1]);
    const perClient = await subs(a); // node.stats, job.events, drift.alerts, rollout.events, auto.events, models
    expect(perClient).toBe(6);
    await b.stop('SIGKILL');
    await waitFor(() => fleet.snapshot()[1].conn === 'unreachable');
    expect(fleet.snapshot()[0].conn).toBe('up');
    const r = await fleetml(['nodes', '--inventory', inventory, '-o', 'json']);
    expect(JSON.parse(r.stdout).map((n: any) => n.state)).toEqual(['up', 'unreachable']);
    b = await spawnAgent({ dataDir: b.dataDir, port: b.port, name: 'node-b', args: argsB });
    await waitFor(() => fleet.snapshot()[1].conn === 'up' && (fleet.snapshot()[1].lastSeen ?? 0) > Date.now() - 2000);
    await new Promise((r) => setTimeout(r, 300));
    // resubscribed exactly once per topic on the restarted agent; the surviving one is unchanged
    expect(await subs(b)).toBe(perClient);
    expect(await subs(a)).toBe(perClient);
    await fleet.stop();
  }, 60_000);
});
