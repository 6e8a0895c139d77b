import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';

// Job output against a real agent: nothing written just before the exit is lost (the final state waits for the
// driver's log attachment to drain), and a process job's raw output files stay within jobs.log_max_bytes.

let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let c: AgentClient;
const MAX = 4 * 1024 * 1024;
beforeAll(async () => {
  tmp = tempDir();
  const config = join(tmp.dir, 'agent.yaml');
  await import('node:fs').then((fs) => fs.writeFileSync(config, `jobs:\n  log_max_bytes: ${MAX}\n`));
  agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name: 'sec-logs', args: ['--config', config, '--gpu-source', 'none', '--job-driver', 'process'] });
  c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 60_000 });
  await c.connect();
}, 60_000);
afterAll(async () => { await c?.close(); await agent?.stop(); tmp?.cleanup(); });

/** Every stored stdout line of a job (the log store keeps the current and one rotated file). */
async function stdoutOf(id: string): Promise<string[]> {
  return (await c.call('job.logs', { id })).lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
}

describe('job output', () => {
  it('keeps every line a process job writes right before it exits', async () => {
    // 100 000 short lines in a burst, then exit at once (the old 300 ms drain returned a fraction of them)
    const { job } = await c.call('job.submit', { spec: { driver: 'process', command: ['sh', '-c', 'seq 1 100000; exit 3'] } });
    const end = await untilJob(c, job.id, isTerminal, 60_000);
    expect(end.exit_code).toBe(3);
    const out = await stdoutOf(job.id);
    expect(out.length).toBe(100_000);
    expect(out[0]).toBe('1');
    expect(out[out.length - 1]).toBe('100000');
  }, 90_000);

  it('keeps a process job\'s raw output file within jobs.log_max_bytes while it runs', async () => {
    // 12 MB of output (3x the limit) in 1000-byte lines, then stay alive so the file can be looked at
    const { job } = await c.call('job.submit', { spec: { driver: 'process', command: ['sh', '-c', 'l=$(printf "%0999d" 0); i=0; while [ $i -lt 12000 ]; do echo $l; i=$((i+1)); done; echo last; sleep 30'] } });
    await untilJob(c, job.id, (j) => j.state === 'running', 30_000);
    const deadline = Date.now() + 60_000;
    let out: string[] = [];
    while (Date.now() < deadline) {
      out = (await c.call('job.logs', { id: job.id, tail: 1 })).lines.map((l) => l.line);
      if (out.includes('last')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(out).toContain('last');
    const jobDir = join(agent.dataDir, 'jobs', job.id);
    const files: string[] = [];
    const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : files.push(join(d, e.name)); };
    walk(jobDir);
    const raw = files.filter((f) => f.endsWith('stdout.log'));
    expect(raw.length).toBe(1);
    // the file is truncated once it is read to its end past the limit (right after the last line was delivered)
    let size = statSync(raw[0]).size;
    for (let i = 0; i < 50 && size > MAX; i++) { await new Promise((r) => setTimeout(r, 100)); size = statSync(raw[0]).size; }
    expect(size).toBeLessThanOrEqual(MAX);
    await c.call('job.cancel', { id: job.id });
    await untilJob(c, job.id, isTerminal, 30_000);
  }, 120_000);
});
