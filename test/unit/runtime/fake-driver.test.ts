import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver } from '../../../agent/runtime/fake/fake-driver.js';
import { parseFakeScript, splitSteps } from '../../../agent/runtime/fake/fake-script.js';
import type { TaskConfig, TaskHandle } from '../../../agent/runtime/driver.js';
import { JobSpec } from '../../../shared/protocol/jobs.js';

const cfg = (command: string[], jobId = 'j1'): TaskConfig => ({
  jobId, attempt: 1, node: 'n', spec: JobSpec.parse({ driver: 'fake', command }), gpuUuids: [], env: {}, dir: '/nonexistent/fake',
});
/** A handle as the job manager would read it back from SQLite. */
const reloaded = (h: TaskHandle): TaskHandle => JSON.parse(JSON.stringify(h)) as TaskHandle;

const drivers: FakeDriver[] = [];
const driver = (opts?: ConstructorParameters<typeof FakeDriver>[0]) => {
  const d = new FakeDriver(opts);
  drivers.push(d);
  return d;
};
afterEach(async () => { for (const d of drivers.splice(0)) await d.dispose(); });

describe('fake script', () => {
  it('splits steps on && tokens', () => {
    expect(splitSteps(['echo', 'hi', '&&', 'sleep', '1', '&&', 'exit', '2'])).toEqual([['echo', 'hi'], ['sleep', '1'], ['exit', '2']]);
    expect(splitSteps(['&&'])).toEqual([]);
  });
  it('computes lines, end time and exit code', () => {
    expect(parseFakeScript(['echo', 'hi', 'there', '&&', 'sleep', '1.5', '&&', 'echo', 'bye', '&&', 'exit', '2'])).toEqual({
      lines: [{ atMs: 0, stream: 'stdout', line: 'hi there' }, { atMs: 1500, stream: 'stdout', line: 'bye' }],
      endMs: 1500, exitCode: 2, oomKilled: false,
    });
    expect(parseFakeScript(['sleep', '2.5'])).toMatchObject({ endMs: 2500, exitCode: 0 });
  });
  it('ends an oom script with exit 137 and oomKilled', () => {
    expect(parseFakeScript(['sleep', '1', '&&', 'oom'])).toMatchObject({ endMs: 1000, exitCode: 137, oomKilled: true });
  });
  it('turns unknown words and bad arguments into exit 127 with a stderr line', () => {
    expect(parseFakeScript(['sleep', '1', '&&', 'python', 'x.py'])).toEqual({
      lines: [{ atMs: 1000, stream: 'stderr', line: 'fake: unknown command: python' }], endMs: 1000, exitCode: 127, oomKilled: false,
    });
    expect(parseFakeScript(['sleep', 'soon']).exitCode).toBe(127);
    expect(parseFakeScript(['exit', '300']).exitCode).toBe(127);
  });
  it('stops at the first exit', () => {
    expect(parseFakeScript(['exit', '3', '&&', 'echo', 'never'])).toMatchObject({ lines: [], exitCode: 3 });
  });
});

describe('FakeDriver', () => {
  it('validates only that a script is present', async () => {
    const d = driver();
    expect(await d.validate(JobSpec.parse({ driver: 'fake', command: ['&&'] }))).toMatch(/needs a script/);
    expect(await d.validate(JobSpec.parse({ driver: 'fake', command: ['whatever'] }))).toBeNull();
    expect(await d.fingerprint()).toEqual({ available: true, reason: null });
  });
  it('waits for the script time and returns its exit code', async () => {
    const d = driver();
    const t0 = Date.now();
    const h = await d.start(cfg(['sleep', '0.3', '&&', 'exit', '3']));
    expect(await d.inspect(h)).toEqual({ running: true, exit: null });
    const exit = await d.wait(h);
    expect(exit).toEqual({ exitCode: 3, signal: null, oomKilled: false, error: null });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(await d.inspect(h)).toEqual({ running: false, exit });
  });
  it('reports an oom script as OOM killed', async () => {
    const d = driver();
    const exit = await d.wait(await d.start(cfg(['oom'])));
    expect(exit).toEqual({ exitCode: 137, signal: 'SIGKILL', oomKilled: true, error: null });
  });
  it('stop ends a running task with 143, or 137 without grace; stop is idempotent', async () => {
    const d = driver();
    const h1 = await d.start(cfg(['sleep', '60'], 'a'));
    const w1 = d.wait(h1);
    await d.stop(h1, 10);
    await d.stop(h1, 0); // already ended: no change
    expect(await w1).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    const h2 = await d.start(cfg(['sleep', '60'], 'b'));
    await d.stop(h2, 0);
    expect(await d.wait(h2)).toMatchObject({ exitCode: 137, signal: 'SIGKILL', oomKilled: false });
  });
  it('stop after the natural end keeps the natural exit', async () => {
    const d = driver();
    const h = await d.start(cfg(['exit', '4']));
    await d.stop(h, 1);
    expect(await d.wait(h)).toMatchObject({ exitCode: 4 });
  });
  it('fails start when failStart gives a reason', async () => {
    const d = driver({ failStart: (c) => (c.jobId === 'bad' ? 'simulated: image missing' : null) });
    await expect(d.start(cfg(['exit', '0'], 'bad'))).rejects.toThrow('simulated: image missing');
    await expect(d.start(cfg(['exit', '0'], 'good'))).resolves.toMatchObject({ driver: 'fake', jobId: 'good' });
  });
  it('a new instance recovers a running task and resolves at the same time with the same code', async () => {
    const a = driver();
    const h = await a.start(cfg(['sleep', '0.4', '&&', 'exit', '5']));
    const started = Date.now();
    await a.dispose(); // the "agent" goes away
    const b = driver();
    const h2 = reloaded(h);
    expect(await b.recover(h2)).toBe(true);
    expect(await b.wait(h2)).toMatchObject({ exitCode: 5 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
  });
  it('a task that ended while the agent was down resolves at once', async () => {
    const h: TaskHandle = { driver: 'fake', jobId: 'j', attempt: 1, state: { startedAt: Date.now() - 10_000, command: ['sleep', '1', '&&', 'exit', '9'] } };
    const d = driver();
    expect(await d.recover(h)).toBe(true);
    const t0 = Date.now();
    expect(await d.wait(h)).toMatchObject({ exitCode: 9 });
    expect(Date.now() - t0).toBeLessThan(100);
  });
  it('a stop recorded in the handle survives a restart', async () => {
    const a = driver();
    const h = await a.start(cfg(['sleep', '60']));
    await a.stop(h, 5);
    const b = driver();
    expect(await b.wait(reloaded(h))).toMatchObject({ exitCode: 143 });
  });
  it('refuses a malformed handle', async () => {
    const d = driver();
    const h: TaskHandle = { driver: 'fake', jobId: 'j', attempt: 1, state: { pid: 3 } };
    expect(await d.recover(h)).toBe(false);
    expect((await d.wait(h)).error).toMatch(/malformed/);
  });
});

describe('FakeDriver logs', () => {
  type Line = [string, string, number];
  it('emits echo lines at their times, then on re-attach only lines after sinceTs', async () => {
    const a = driver();
    const h = await a.start(cfg(['echo', 'one', '&&', 'sleep', '0.2', '&&', 'echo', 'two', '&&', 'sleep', '0.2', '&&', 'echo', 'three']));
    const seen: Line[] = [];
    const off = a.attachLogs(h, (s, l, ts) => seen.push([s, l, ts]));
    await new Promise((r) => setTimeout(r, 300));
    off();
    expect(seen.map((x) => x[1])).toEqual(['one', 'two']);
    const st = h.state as { startedAt: number };
    expect(seen.map((x) => x[2])).toEqual([st.startedAt, st.startedAt + 200]);
    await a.dispose();

    const b = driver();
    const more: Line[] = [];
    b.attachLogs(reloaded(h), (s, l, ts) => more.push([s, l, ts]), seen[seen.length - 1][2]);
    await b.wait(reloaded(h));
    await new Promise((r) => setTimeout(r, 20));
    expect(more).toEqual([['stdout', 'three', st.startedAt + 400]]);
  });
  it('does not print lines due after a stop', async () => {
    const d = driver();
    const h = await d.start(cfg(['echo', 'a', '&&', 'sleep', '0.2', '&&', 'echo', 'b']));
    const seen: string[] = [];
    d.attachLogs(h, (_s, l) => seen.push(l));
    await new Promise((r) => setTimeout(r, 50));
    await d.stop(h, 1);
    await new Promise((r) => setTimeout(r, 250));
    expect(seen).toEqual(['a']);
  });
  it('writes the unknown-command message to stderr', async () => {
    const d = driver();
    const h = await d.start(cfg(['frobnicate']));
    const seen: Line[] = [];
    d.attachLogs(h, (s, l, ts) => seen.push([s, l, ts]));
    expect(await d.wait(h)).toMatchObject({ exitCode: 127 });
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((x) => [x[0], x[1]])).toEqual([['stderr', 'fake: unknown command: frobnicate']]);
  });
});
