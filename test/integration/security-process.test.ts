import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { clientWithNewToken, freePort, tempDir } from '../helpers/agent.js';
import { isTerminal, untilJob } from '../helpers/jobs.js';

// Attack: an operate token becomes admin through a process job. A process job used to run as the agent's user, so it
// could read admin.token and write fleetml.db (a new admin token, deleted audit rows). Now it runs as
// jobs.process_user (default nobody) and the data dir is the agent's alone.
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('a process job of an operate token against the agent\'s data', () => {
  let tmp: ReturnType<typeof tempDir>;
  let agent: AgentProcess;
  let c: AgentClient;
  beforeAll(async () => {
    tmp = tempDir();
    agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port: await freePort(), name: 'sec-proc', args: ['--gpu-source', 'none', '--job-driver', 'process'] });
    c = (await clientWithNewToken(agent, 'attacker', 'operate')).client;
  }, 60_000);
  afterAll(async () => { await c?.close(); await agent?.stop(); tmp?.cleanup(); });

  it('cannot read the admin token or write the database', async () => {
    const db = join(agent.dataDir, 'fleetml.db');
    const before = statSync(db);
    const d = agent.dataDir;
    const script = `id -u; cat ${d}/admin.token; echo tampered >> ${d}/fleetml.db; ls ${d}; cat ${d}/jobs/*/output.jsonl; echo done`;
    const { job } = await c.call('job.submit', { spec: { driver: 'process', command: ['sh', '-c', script] } });
    const end = await untilJob(c, job.id, isTerminal, 30_000);
    expect(end.state).toBe('succeeded');
    const lines = (await c.call('job.logs', { id: job.id })).lines.filter((l) => l.stream !== 'system');
    const text = lines.map((l) => l.line).join('\n');
    expect(lines.find((l) => l.stream === 'stdout')?.line).toBe('65534');
    expect(text).not.toContain(agent.token);
    expect(text).toMatch(/Permission denied/);
    expect(readFileSync(db).includes('tampered')).toBe(false);
    expect(statSync(db).size).toBe(before.size);
    // the data dir is the agent's alone
    expect(statSync(d).mode & 0o077).toBe(0);
  }, 60_000);

  it('a job\'s loader and shell variables never reach the agent-privileged wrapper, and still reach the job', async () => {
    // LD_PRELOAD of a library that does not exist: the loader complains in every program it reaches. A real one
    // in the wrapper or setpriv (the agent, with its capabilities) would run as the agent; now only the job's own
    // programs see it (set again by env(1) after the drop), and so do LD_LIBRARY_PATH and the like
    const { job } = await c.call('job.submit', { spec: { driver: 'process', command: ['sh', '-c', 'echo "preload=$LD_PRELOAD lib=$LD_LIBRARY_PATH"; grep -E "^Cap(Inh|Prm|Eff|Amb)" /proc/self/status'],
      env: { LD_PRELOAD: '/nonexistent/evil.so', LD_LIBRARY_PATH: '/opt/cuda/lib64' } } });
    const end = await untilJob(c, job.id, isTerminal, 30_000);
    expect(end.state).toBe('succeeded');
    const lines = (await c.call('job.logs', { id: job.id })).lines.filter((l) => l.stream !== 'system');
    const out = lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(out[0]).toBe('preload=/nonexistent/evil.so lib=/opt/cuda/lib64');
    for (const cap of out.slice(1)) expect(cap).toMatch(/^Cap\w+:\s+0+$/);
    // the loader's complaint (it cannot preload) comes once per program it was loaded into: the job's sh and grep
    // only (before, also the agent-privileged wrapper shell and setpriv: 4)
    const complaints = lines.filter((l) => l.stream === 'stderr' && /evil\.so/.test(l.line));
    expect(complaints.length).toBe(2);
  }, 60_000);

  it('runs in the job user\'s home (not the agent-private task dir) with that HOME', async () => {
    const { job } = await c.call('job.submit', { spec: { driver: 'process', command: ['sh', '-c', 'pwd; echo "$HOME"'] } });
    await untilJob(c, job.id, isTerminal, 30_000);
    const out = (await c.call('job.logs', { id: job.id })).lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(out[0]).toBe(out[1]);
    expect(out[0].startsWith(agent.dataDir)).toBe(false);
  }, 60_000);
});

// An agent that cannot switch users (not root, no CAP_SETUID/CAP_SETGID/CAP_KILL) does not fall back to running jobs
// as itself: its process driver is unavailable and says what to do. Checked by running the driver as nobody.
const driverJs = fileURLToPath(new URL('../../dist/agent/runtime/process/process-driver.js', import.meta.url));
const usersJs = fileURLToPath(new URL('../../dist/agent/runtime/users.js', import.meta.url));
const logJs = fileURLToPath(new URL('../../dist/agent/log.js', import.meta.url));
const readableByNobody = isRoot && spawnSync('/bin/sh', ['-c', `test -r "$0"`, driverJs], { uid: 65534, gid: 65534 }).status === 0;
describe.skipIf(!readableByNobody)('an agent that cannot switch users', () => {
  it('reports the process driver unavailable instead of running jobs as itself', () => {
    const code = `const { ProcessDriver } = await import(process.argv[1]); const { lookupUser } = await import(process.argv[2]); const { createLogger } = await import(process.argv[3]);
      const d = new ProcessDriver({ logger: createLogger('silent'), user: lookupUser('root') });
      console.log(JSON.stringify(await d.fingerprint()));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, driverJs, usersJs, logJs], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' });
    expect(r.status, r.stderr).toBe(0);
    const fp = JSON.parse(r.stdout);
    expect(fp.available).toBe(false);
    expect(fp.reason).toMatch(/process jobs run as root \(0\) \(jobs.process_user\) but the agent \(uid 65534\) cannot switch users: run it as root or grant it CAP_SETUID, CAP_SETGID and CAP_KILL/);
  });
});
