import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { createLogger } from '../../agent/log.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { JobSpecInput } from '../../shared/protocol/index.js';
import { tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';

// A removed job's output is deleted with it — also when the agent died between deleting the job's row and its output
// folder: the orphan sweep at start-up removes a folder whose job no longer exists, and leaves every other job's.
const t = tempDir();
afterAll(() => t.cleanup());
const start = () => startAgent(loadConfig({ listen: '127.0.0.1:0', dataDir: t.dir, name: 'logs-node', gpuSource: 'none', jobDriver: ['fake'] }, {}), createLogger('silent'));
const connect = async (agent: RunningAgent) => {
  const c = new AgentClient({ url: agent.url, token: readFileSync(join(t.dir, 'admin.token'), 'utf8').trim(), reconnect: false });
  await c.connect();
  return c;
};
const dir = (id: string) => join(t.dir, 'jobs', id);

describe('job output of removed jobs', () => {
  it('job.remove deletes the output folder; a folder left by a crash between the two deletes is swept at start-up', async () => {
    let agent = await start();
    let c = await connect(agent);
    const run = async () => {
      const { job } = await c.call('job.submit', { spec: { driver: 'fake', command: ['echo', 'out'] } as JobSpecInput });
      return (await untilJob(c, job.id, isTerminal)).id;
    };
    const removed = await run();
    const orphan = await run();
    const kept = await run();
    for (const id of [removed, orphan, kept]) expect(existsSync(join(dir(id), 'output.jsonl'))).toBe(true);
    expect((await c.call('job.remove', { id: removed })).removed).toBe(true);
    expect(existsSync(dir(removed))).toBe(false);
    await c.close();
    await agent.stop();

    // the crash window: the row of `orphan` is deleted, its folder is not
    const db = new Database(join(t.dir, 'fleetml.db'));
    expect(db.prepare('DELETE FROM jobs WHERE id = ?').run(orphan).changes).toBe(1);
    db.close();
    expect(existsSync(dir(orphan))).toBe(true);

    agent = await start();
    c = await connect(agent);
    try {
      expect(existsSync(dir(orphan))).toBe(false);
      expect(existsSync(join(dir(kept), 'output.jsonl'))).toBe(true);
      expect((await c.call('job.logs', { id: kept })).lines.some((l) => l.line === 'out')).toBe(true);
    } finally { await c.close(); await agent.stop(); }
  });
});
