import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProcessDriver } from '../../agent/runtime/process/process-driver.js';
import { parseProcStat } from '../../agent/runtime/process/proc-identity.js';
import { createLogger } from '../../agent/log.js';
import type { LogSink, TaskConfig, TaskHandle } from '../../agent/runtime/driver.js';
import { JobSpec, type JobSpecInput } from '../../shared/protocol/jobs.js';

// Real processes, real signals, real files: the process driver as the agent uses it. "Agent restarts" are
// simulated by disposing a driver instance and creating a new one; one test runs the first "agent" as a real
// separate node process that exits while its task keeps running.

const logger = createLogger('silent');
let root: string;
let n = 0;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'fleetml-process-driver-')); });
afterAll(() => { rmSync(root, { recursive: true, force: true }); });

const drivers: ProcessDriver[] = [];
const handles: TaskHandle[] = [];
const driver = () => {
  const d = new ProcessDriver({ logger, pollMs: 50, logPollMs: 30 });
  drivers.push(d);
  return d;
};
afterEach(async () => {
  const cleanup = new ProcessDriver({ logger });
  for (const h of handles.splice(0)) await cleanup.destroy(h); // no process outlives its test
  await cleanup.dispose();
  for (const d of drivers.splice(0)) await d.dispose();
});

function cfg(spec: Partial<JobSpecInput> & { command: string[] }, env: Record<string, string> = {}): TaskConfig {
  n += 1;
  return { jobId: `job-${n}`, attempt: 1, node: 'test', spec: JobSpec.parse({ driver: 'process', ...spec }), gpuUuids: [], env, dir: join(root, `task-${n}`) };
}
async function start(d: ProcessDriver, c: TaskConfig): Promise<TaskHandle> {
  const h = await d.start(c);
  handles.push(h);
  return h;
}
const sh = (script: string) => ['/bin/sh', '-c', script];
const dirOf = (h: TaskHandle) => (h.state as { dir: string }).dir;
const pidOf = (h: TaskHandle) => (h.state as { pid: number }).pid;
const read = (h: TaskHandle, f: string) => { try { return readFileSync(join(dirOf(h), f), 'utf8'); } catch { return ''; } };
/** A handle as the job manager reads it back from SQLite. */
const reloaded = (h: TaskHandle): TaskHandle => JSON.parse(JSON.stringify(h)) as TaskHandle;
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
/** Alive and not a zombie (an exited child waits to be reaped for a moment). */
const alive = (pid: number) => {
  if (!isLinux) { try { process.kill(pid, 0); return true; } catch { return false; } }
  try { return !statOf(pid)?.zombie; } catch { return false; }
};
const isLinux = process.platform === 'linux';
const statOf = (pid: number) => parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));

describe('running a process', () => {
  it('reports exit codes 0 and 3', async () => {
    const d = driver();
    expect(await d.wait(await start(d, cfg({ command: ['true'] })))).toEqual({ exitCode: 0, signal: null, oomKilled: false, error: null });
    expect(await d.wait(await start(d, cfg({ command: sh('exit 3') })))).toEqual({ exitCode: 3, signal: null, oomKilled: false, error: null });
  });

  it('keeps stdout and stderr in separate files', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: sh('echo out1; echo err1 >&2; echo out2') }));
    await d.wait(h);
    expect(read(h, 'stdout.log')).toBe('out1\nout2\n');
    expect(read(h, 'stderr.log')).toBe('err1\n');
  });

  it('passes spec.env and cfg.env (GPU variables) over a minimal base, and runs in the workdir', async () => {
    const d = driver();
    process.env.FLEETML_TEST_AGENT_SECRET = 'leak';
    const work = mkdtempSync(join(root, 'work-'));
    try {
      const h = await start(d, cfg(
        { command: sh('echo "$FOO|$CUDA_VISIBLE_DEVICES|$NVIDIA_VISIBLE_DEVICES|${FLEETML_TEST_AGENT_SECRET:-none}|$PWD|${PATH:+path}"'), env: { FOO: 'bar' }, workdir: work },
        { CUDA_VISIBLE_DEVICES: 'GPU-aaaa', NVIDIA_VISIBLE_DEVICES: 'GPU-aaaa' },
      ));
      expect(await d.wait(h)).toMatchObject({ exitCode: 0 });
      expect(read(h, 'stdout.log')).toBe(`bar|GPU-aaaa|GPU-aaaa|none|${work}|path\n`);
    } finally {
      delete process.env.FLEETML_TEST_AGENT_SECRET;
    }
  });

  it('runs in the task dir when no workdir is given', async () => {
    const d = driver();
    const c = cfg({ command: ['pwd'] });
    const h = await start(d, c);
    await d.wait(h);
    expect(read(h, 'stdout.log').trim()).toBe(resolve(c.dir));
  });

  it.runIf(isLinux)('puts the process in its own session and process group', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: ['cat', '/proc/self/stat'] }));
    await d.wait(h);
    const cmd = parseProcStat(read(h, 'stdout.log'));
    const me = statOf(process.pid);
    expect(cmd?.pgid).toBe(pidOf(h));
    expect(cmd?.sid).toBe(pidOf(h));
    expect(cmd?.pgid).not.toBe(me?.pgid);
    expect(cmd?.sid).not.toBe(me?.sid);
  });

  it('refuses to start a command that does not exist', async () => {
    const d = driver();
    await expect(d.start(cfg({ command: ['fleetml-no-such-program'] }))).rejects.toThrow('command not found: fleetml-no-such-program');
  });
});

describe('stopping', () => {
  it('stop with grace: SIGTERM ends a plain process with 143', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: ['sleep', '30'] }));
    const w = d.wait(h);
    await d.stop(h, 5);
    expect(await w).toEqual({ exitCode: 143, signal: 'SIGTERM', oomKilled: false, error: null });
    await d.stop(h, 5); // idempotent
    expect(await d.inspect(h)).toMatchObject({ running: false, exit: { exitCode: 143 } });
  });

  it('a cancel right after start is not swallowed by the starting wrapper', async () => {
    const d = driver();
    for (let i = 0; i < 8; i++) {
      const h = await start(d, cfg({ command: ['sleep', '30'] }));
      const t0 = Date.now();
      await d.stop(h, 5);
      expect(await d.wait(h)).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
      expect(Date.now() - t0).toBeLessThan(2500);
    }
  });

  it('a process that traps SIGTERM exits with its own code', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: sh('trap "echo got-term; exit 7" TERM; echo ready; sleep 30 & wait') }));
    await until(() => read(h, 'stdout.log').includes('ready'));
    await d.stop(h, 5);
    expect(await d.wait(h)).toEqual({ exitCode: 7, signal: null, oomKilled: false, error: null });
    expect(read(h, 'stdout.log')).toBe('ready\ngot-term\n');
  });

  it('a process that ignores SIGTERM is killed after the grace period and reported as SIGKILL', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: sh('trap "" TERM; echo ready; while :; do sleep 0.05; done') }));
    await until(() => read(h, 'stdout.log').includes('ready'));
    const t0 = Date.now();
    await d.stop(h, 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(await d.wait(h)).toEqual({ exitCode: 137, signal: 'SIGKILL', oomKilled: false, error: null });
    expect(alive(pidOf(h))).toBe(false);
  });

  it('destroy kills a running process and keeps its log files', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: sh('echo kept; sleep 30') }));
    await until(() => read(h, 'stdout.log').includes('kept'));
    await d.destroy(h);
    await d.destroy(h);
    expect(alive(pidOf(h))).toBe(false);
    expect(read(h, 'stdout.log')).toBe('kept\n');
  });

  it('a group killed from outside (no exit record, not by us) is reported as an error', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: ['sleep', '30'] }));
    process.kill(-pidOf(h), 'SIGKILL');
    const exit = await d.wait(h);
    expect(exit).toMatchObject({ exitCode: null, signal: null });
    expect(exit.error).toMatch(/without an exit record/);
  });
});

describe('agent restarts', () => {
  it('a new driver instance recovers a running process and gets its real exit code', async () => {
    const a = driver();
    const h = await start(a, cfg({ command: sh('echo ready; sleep 0.6; exit 4') }));
    a.wait(h); // a pending wait and its timers go away with the instance
    await until(() => read(h, 'stdout.log').includes('ready'));
    await a.dispose();
    const b = driver();
    const h2 = reloaded(h);
    expect(await b.recover(h2)).toBe(true);
    expect(await b.inspect(h2)).toEqual({ running: true, exit: null });
    expect(await b.wait(h2)).toEqual({ exitCode: 4, signal: null, oomKilled: false, error: null });
  });

  it('a process that exits while no driver exists leaves its exit code for the next one', async () => {
    const a = driver();
    const h = await start(a, cfg({ command: sh('sleep 0.3; exit 5') }));
    await a.dispose();
    await until(() => !alive(pidOf(h)) && existsSync(join(dirOf(h), 'exit')));
    const b = driver();
    expect(await b.recover(reloaded(h))).toBe(true);
    expect(await b.wait(reloaded(h))).toMatchObject({ exitCode: 5, error: null });
  });

  it('a stop that escalated to SIGKILL before the restart still reads as SIGKILL', async () => {
    const a = driver();
    const h = await start(a, cfg({ command: ['sleep', '30'] }));
    await a.stop(h, 0);
    await a.dispose();
    const b = driver();
    expect(await b.recover(reloaded(h))).toBe(true);
    expect(await b.wait(reloaded(h))).toMatchObject({ exitCode: 137, signal: 'SIGKILL', error: null });
  });

  it('a process gone without a trace is not recovered (the job becomes lost)', async () => {
    const a = driver();
    const h = await start(a, cfg({ command: ['sleep', '30'] }));
    await a.dispose();
    process.kill(-pidOf(h), 'SIGKILL'); // e.g. the node rebooted
    await until(() => !alive(pidOf(h)));
    const b = driver();
    expect(await b.recover(reloaded(h))).toBe(false);
    expect((await b.wait(reloaded(h))).error).toMatch(/vanished while the agent was down/);
  });

  it('treats a live pid with another start time as not ours (pid reuse) and never signals it', async () => {
    const d = driver();
    const dir = mkdtempSync(join(root, 'reuse-'));
    // Our own test process plays the stranger that got the pid.
    const h: TaskHandle = { driver: 'process', jobId: 'old', attempt: 1, state: { pid: process.pid, pgid: process.pid, startTime: '1', dir } };
    expect(await d.recover(h)).toBe(false);
    expect(await d.inspect(h)).toMatchObject({ running: false });
    await d.stop(h, 0);
    await d.destroy(h);
    expect(alive(process.pid)).toBe(true);
    expect(existsSync(join(dir, 'signalled'))).toBe(false);
  });

  it('refuses a malformed handle', async () => {
    const d = driver();
    const h: TaskHandle = { driver: 'process', jobId: 'x', attempt: 1, state: { pid: 'nope' } };
    expect(await d.recover(h)).toBe(false);
    expect((await d.wait(h)).error).toMatch(/malformed/);
  });

  const viteNode = resolve('node_modules/vite-node/vite-node.mjs');
  it.runIf(existsSync(viteNode))('survives the exit of the real agent process that started it', async () => {
    // A separate node process starts the task, prints the handle and exits: the task is then nobody's child.
    const script = join(root, 'one-shot-agent.ts');
    const driverPath = resolve('agent/runtime/process/process-driver.js');
    const logPath = resolve('agent/log.js');
    writeFileSync(script, `
      import { ProcessDriver } from ${JSON.stringify(driverPath)};
      import { createLogger } from ${JSON.stringify(logPath)};
      const d = new ProcessDriver({ logger: createLogger('silent') });
      const spec = { driver: 'process', command: ['/bin/sh', '-c', 'echo first; sleep 0.8; echo second; exit 6'], env: {}, mounts: [], gpus: 0, priority: 0, restart: { policy: 'never' }, labels: {}, stop_grace_s: 10 };
      const h = await d.start({ jobId: 'solo', attempt: 1, node: 'n', spec, gpuUuids: [], env: {}, dir: process.argv[2] });
      process.stdout.write(JSON.stringify(h) + '\\n');
      process.exit(0);
    `);
    const dir = join(root, 'solo');
    const out = await new Promise<string>((res, rej) => {
      const p = spawn(process.execPath, [viteNode, script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      p.stdout.on('data', (b: Buffer) => { s += b.toString(); });
      p.on('exit', (code) => (code === 0 ? res(s) : rej(new Error(`one-shot agent exited ${code}`))));
    });
    const h = JSON.parse(out.trim().split('\n').pop() as string) as TaskHandle;
    handles.push(h);
    const d = driver();
    expect(await d.recover(h)).toBe(true);
    const lines: string[] = [];
    d.attachLogs(h, (_s, l) => lines.push(l));
    expect(await d.wait(h)).toMatchObject({ exitCode: 6, error: null });
    await until(() => lines.length === 2);
    expect(lines).toEqual(['first', 'second']);
  });
});

describe('logs', () => {
  type Line = [string, string];
  const collect = (into: Line[]): LogSink => (s, l) => { into.push([s, l]); };

  it('streams stdout and stderr lines, including a last line without a newline', async () => {
    const d = driver();
    const h = await start(d, cfg({ command: sh('echo a; echo b >&2; printf "c1 "; sleep 0.1; printf "c2\\nd"') }));
    const lines: Line[] = [];
    d.attachLogs(h, collect(lines));
    await d.wait(h);
    await until(() => lines.length === 4);
    expect(lines.filter((x) => x[0] === 'stdout').map((x) => x[1])).toEqual(['a', 'c1 c2', 'd']);
    expect(lines.filter((x) => x[0] === 'stderr').map((x) => x[1])).toEqual(['b']);
  });

  it('a re-attach by a new instance resumes after the lines already delivered', async () => {
    const a = driver();
    const h = await start(a, cfg({ command: sh('echo one; echo e1 >&2; echo ready; sleep 0.5; echo two; echo e2 >&2; echo three') }));
    const first: Line[] = [];
    const off = a.attachLogs(h, collect(first));
    await until(() => first.some((x) => x[1] === 'ready'));
    off();
    await a.dispose();
    const b = driver();
    const second: Line[] = [];
    b.attachLogs(reloaded(h), collect(second));
    await b.wait(reloaded(h));
    await until(() => second.length + first.length >= 6);
    await new Promise((r) => setTimeout(r, 100));
    // Every line exactly once, in order per stream; "e1" may come on either side of the detach.
    const stream = (lines: Line[], name: string) => lines.filter((x) => x[0] === name).map((x) => x[1]);
    expect(stream(first, 'stdout')).toEqual(['one', 'ready']);
    expect(stream(second, 'stdout')).toEqual(['two', 'three']);
    expect([...stream(first, 'stderr'), ...stream(second, 'stderr')]).toEqual(['e1', 'e2']);
    // A third attach after everything was delivered repeats nothing.
    const third: Line[] = [];
    b.attachLogs(reloaded(h), collect(third));
    await new Promise((r) => setTimeout(r, 150));
    expect(third).toEqual([]);
  });
});

describe('validate', () => {
  const d = new ProcessDriver({ logger });
  afterAll(() => d.dispose());
  const v = (spec: Partial<JobSpecInput> & { command: string[] }) => d.validate(JobSpec.parse({ driver: 'process', ...spec }));

  it('accepts a command on PATH or an absolute executable', async () => {
    expect(await v({ command: ['sh', '-c', 'true'] })).toBeNull();
    expect(await v({ command: ['/bin/sh'] })).toBeNull();
  });
  it('refuses a command that cannot be found', async () => {
    expect(await v({ command: ['fleetml-no-such-program'] })).toBe('command not found: fleetml-no-such-program (not on PATH)');
    expect(await v({ command: ['/nonexistent/bin/x'] })).toMatch(/^command not found: \/nonexistent\/bin\/x/);
    expect(await v({ command: ['./train.sh'] })).toMatch(/relative path needs a workdir/);
  });
  it('refuses mounts with a clear message', async () => {
    expect(await v({ command: ['true'], mounts: [{ source: '/data', target: '/data' }] })).toMatch(/does not support mounts.*use the docker driver/);
  });
  it('refuses a missing or relative workdir', async () => {
    expect(await v({ command: ['true'], workdir: '/nonexistent/work' })).toBe('workdir does not exist: /nonexistent/work');
    expect(await v({ command: ['true'], workdir: 'rel' })).toMatch(/absolute/);
  });
  it('declares its capabilities and is available here', async () => {
    expect(d.capabilities).toEqual({ gpus: true, mounts: false, network: false, oomDetection: false, survivesAgentRestart: true, externalQueue: false });
    expect(await d.fingerprint()).toEqual({ available: true, reason: null });
  });
});
