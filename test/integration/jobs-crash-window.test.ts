import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { createLogger } from '../../agent/log.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { readFileSync } from 'node:fs';
import type { Job } from '../../shared/protocol/index.js';
import { fixture, tempDir } from '../helpers/agent.js';

// The agent dies between "starting" and the driver handle being saved. On restart the job is adopted, queued again
// (if it certainly never started), or lost (if it may have run) — never started twice.
describe('a job caught between start and the saved handle', () => {
  it('is queued again when the driver shows it never started, and then runs once', async () => {
    const t = tempDir();
    const cfg = loadConfig({ listen: '127.0.0.1:0', dataDir: t.dir, name: 'cw', gpuSource: 'sim', gpuFixture: [fixture('rtx-3060-570.124-q-x.xml')], jobDriver: ['fake', 'process'] }, {});
    let agent = await startAgent(cfg, createLogger('silent'));
    const token = readFileSync(join(t.dir, 'admin.token'), 'utf8').trim();
    let c = new AgentClient({ url: agent.url, token, reconnect: false });
    await c.connect();
    const { job } = await c.call('job.submit', { spec: { driver: 'process', command: ['sh', '-c', 'exit 0'] } });
    const end = Date.now() + 10_000;
    while ((await c.call('job.get', { id: job.id })).job.state !== 'succeeded' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await c.close();
    await agent.stop();
    // Rewrite history as if the agent had died right after `starting` of a new attempt, before the driver ran it.
    const db = new Database(join(t.dir, 'fleetml.db'));
    db.prepare("UPDATE jobs SET state = 'starting', handle = NULL, attempt = 2, finished_at = NULL WHERE id = ?").run(job.id);
    db.close();
    agent = await startAgent({ ...cfg, listen: '127.0.0.1:0' }, createLogger('silent'));
    c = new AgentClient({ url: agent.url, token, reconnect: false });
    await c.connect();
    let j: Job = (await c.call('job.get', { id: job.id })).job;
    const end2 = Date.now() + 10_000;
    while (j.state !== 'succeeded' && Date.now() < end2) { await new Promise((r) => setTimeout(r, 50)); j = (await c.call('job.get', { id: job.id })).job; }
    expect(j.state).toBe('succeeded');
    expect(j.attempt).toBe(3);
    expect(j.history.some((h) => h.reason === 'queued again: the agent stopped before the job started')).toBe(true);
    await c.close();
    await agent.stop();
    t.cleanup();
  });
});
