import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Writable } from 'node:stream';
import { JobSpec, type JobSpecInput } from '../../shared/protocol/jobs.js';
import type { TaskConfig, TaskHandle } from '../../agent/runtime/driver.js';
import { createLogger } from '../../agent/log.js';
import { DockerDriver } from '../../agent/runtime/docker/docker-driver.js';
import { buildCreateOptions, containerName } from '../../agent/runtime/docker/create-options.js';
import { LogLineAssembler, parseLogTimestamp, splitFrames } from '../../agent/runtime/docker/log-lines.js';
import { resolveMounts } from '../../agent/runtime/docker/mounts.js';
import { DockerDriverError } from '../../agent/runtime/docker/errors.js';
import { TEST_IMAGE, engineRequired, ensureDockerEngine } from '../helpers/docker.js';

const logger = createLogger('silent');
const run = Date.now().toString(36);
const spec = (s: Partial<JobSpecInput> = {}): JobSpec => JobSpec.parse({ driver: 'docker', image: TEST_IMAGE, command: ['true'], ...s });
const cfg = (jobId: string, s: Partial<JobSpecInput> = {}, extra: Partial<TaskConfig> = {}): TaskConfig =>
  ({ jobId, attempt: 1, node: 'n1', spec: spec(s), gpuUuids: [], env: {}, dir: '/nonexistent', ...extra });

async function until<T>(f: () => T | Promise<T>, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- pure: the create request ------------------------------------------------------------------------------

describe('buildCreateOptions (the request the agent sends)', () => {
  it('sets labels, name, init, limits, env, workdir, network none by default', () => {
    const o = buildCreateOptions(cfg('job-1', { command: ['python', 'train.py'], env: { A: '1', B: 'spec' }, workdir: '/w', cpus: 1.5, memory_bytes: 256 << 20 }, { attempt: 2, env: { B: 'cfg', FLEETML_JOB_ID: 'job-1' } }), { node: 'gpu-7' });
    expect(o.name).toBe('fleetml-job-1-2');
    expect(o.Labels).toEqual({ 'fleetml.job': 'job-1', 'fleetml.attempt': '2', 'fleetml.node': 'gpu-7' });
    expect(o.Cmd).toEqual(['python', 'train.py']);
    expect(o.Env).toEqual(['A=1', 'B=cfg', 'FLEETML_JOB_ID=job-1', 'NVIDIA_VISIBLE_DEVICES=void']);
    expect(o.WorkingDir).toBe('/w');
    expect(o.Tty).toBe(false);
    expect(o.HostConfig).toMatchObject({ Init: true, NetworkMode: 'none', Memory: 256 << 20, MemorySwap: 256 << 20, NanoCpus: 1_500_000_000, PidsLimit: 4096, AutoRemove: false, Binds: [] });
    expect(o.HostConfig?.DeviceRequests).toBeUndefined();
  });

  it('leaves CPU and memory unlimited when the spec does not ask, and honours spec.network', () => {
    const o = buildCreateOptions(cfg('j', { network: 'bridge' }), { node: 'n', pidsLimit: 100 });
    expect(o.HostConfig?.NanoCpus).toBeUndefined();
    expect(o.HostConfig?.Memory).toBeUndefined();
    expect(o.HostConfig?.NetworkMode).toBe('bridge');
    expect(o.HostConfig?.PidsLimit).toBe(100);
    expect(o.WorkingDir).toBeUndefined();
  });

  it('requests exactly the assigned GPUs from the nvidia driver and names them in the environment', () => {
    const uuids = ['GPU-aaaa-1111', 'GPU-bbbb-2222'];
    const o = buildCreateOptions(cfg('j', { gpus: 2 }, { gpuUuids: uuids, env: { CUDA_VISIBLE_DEVICES: '3,5' } }), { node: 'n' });
    expect(o.HostConfig?.DeviceRequests).toEqual([{ Driver: 'nvidia', DeviceIDs: uuids, Capabilities: [['gpu']] }]);
    expect(o.Env).toContain('NVIDIA_VISIBLE_DEVICES=GPU-aaaa-1111,GPU-bbbb-2222');
    // host indexes would be wrong inside the container (devices renumbered from 0): UUIDs are index-free
    expect(o.Env).toContain('CUDA_VISIBLE_DEVICES=GPU-aaaa-1111,GPU-bbbb-2222');
  });

  it('renders bind mounts with their mode and sanitises container names', () => {
    const o = buildCreateOptions(cfg('a/b c', { mounts: [{ source: '/data/x', target: '/x', readonly: true }, { source: '/data/y', target: '/y' }] }), { node: 'n' });
    expect(o.HostConfig?.Binds).toEqual(['/data/x:/x:ro', '/data/y:/y:rw']);
    expect(o.name).toBe(containerName('a/b c', 1));
    expect(o.name).toBe('fleetml-a_b_c-1');
  });
});

// ---- pure: log lines ------------------------------------------------------------------------------------------

describe('log lines', () => {
  const frame = (ts: string, text: string) => Buffer.from(`${ts} ${text}`);

  it('parses RFC3339Nano timestamps to ms with microseconds', () => {
    const base = Date.UTC(2024, 0, 2, 3, 4, 5);
    expect(parseLogTimestamp('2024-01-02T03:04:05.123456789Z')).toBeCloseTo(base + 123.456, 6);
    expect(parseLogTimestamp('2024-01-02T03:04:05Z')).toBe(base);
    expect(parseLogTimestamp('2024-01-02T03:04:05.5Z')).toBe(base + 500);
    expect(parseLogTimestamp('2024-01-02T03:04:05.000001+01:00')).toBeCloseTo(base - 3_600_000 + 0.001, 6);
    expect(parseLogTimestamp('hello')).toBeNull();
  });

  it('reassembles partial messages and multi-byte characters, per stream, with the first fragment timestamp', () => {
    const got: [string, string, number][] = [];
    const a = new LogLineAssembler((s, l, ts) => got.push([s, l, ts]), () => 42);
    const euro = Buffer.from('€'); // 3 bytes, cut in two
    a.frame('stdout', Buffer.concat([Buffer.from('2024-01-01T00:00:00.000001Z abc'), euro.subarray(0, 1)]));
    a.frame('stderr', frame('2024-01-01T00:00:00.000002Z', 'err line\r\n'));
    a.frame('stdout', Buffer.concat([Buffer.from('2024-01-01T00:00:00.000003Z '), euro.subarray(1), Buffer.from('def\nnext')]));
    a.frame('stdout', Buffer.from('no timestamp\n'));
    a.flush();
    const t0 = Date.UTC(2024, 0, 1);
    expect(got.map(([s, l]) => [s, l])).toEqual([['stderr', 'err line'], ['stdout', 'abc€def'], ['stdout', 'nextno timestamp']]);
    expect(got[1][2]).toBeCloseTo(t0 + 0.001, 6);
    expect(got[0][2]).toBeCloseTo(t0 + 0.002, 6);
  });

  it('splits a non-follow (multiplexed) answer into frames, dropping a torn tail', () => {
    const mk = (type: number, text: string) => { const p = Buffer.from(text); const h = Buffer.alloc(8); h.writeUInt8(type, 0); h.writeUInt32BE(p.length, 4); return Buffer.concat([h, p]); };
    const buf = Buffer.concat([mk(1, 'a\n'), mk(2, 'b\n'), mk(1, 'torn').subarray(0, 9)]);
    expect(splitFrames(buf).map((f) => [f.stream, f.payload.toString()])).toEqual([['stdout', 'a\n'], ['stderr', 'b\n']]);
  });

  it('keeps frames whole when HTTP chunks cut them anywhere (demuxStream + assembler)', async () => {
    const modem = new Docker({ socketPath: '/nonexistent.sock' }).modem;
    const lines: string[] = [];
    const a = new LogLineAssembler((s, l) => lines.push(`${s}:${l}`));
    const w = (s: 'stdout' | 'stderr') => new Writable({ write(c: Buffer, _e, cb) { a.frame(s, c); cb(); } });
    const src = new PassThrough();
    modem.demuxStream(src, w('stdout'), w('stderr'));
    const mk = (type: number, text: string) => { const p = Buffer.from(`2024-01-01T00:00:00Z ${text}`); const h = Buffer.alloc(8); h.writeUInt8(type, 0); h.writeUInt32BE(p.length, 4); return Buffer.concat([h, p]); };
    const all = Buffer.concat([mk(1, 'one\n'), mk(2, 'two\n'), mk(1, 'three\n')]);
    const cuts = [0, 3, 11, 30, 31, all.length]; // inside a header, inside a payload, between frames
    for (let i = 0; i + 1 < cuts.length; i++) src.write(all.subarray(cuts[i], cuts[i + 1]));
    await until(() => lines.length === 3, 2_000, 'three lines');
    expect(lines).toEqual(['stdout:one', 'stderr:two', 'stdout:three']);
  });
});

// ---- mounts policy (real filesystem, no engine) --------------------------------------------------------------

describe('resolveMounts (allowed roots, realpath)', () => {
  const base = mkdtempSync(join(tmpdir(), 'fleetml-mounts-'));
  const root = join(base, 'allowed');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'data'), { recursive: true });
  mkdirSync(outside);
  symlinkSync(outside, join(root, 'sneaky'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const m = (source: string) => [{ source, target: '/m', readonly: false }];

  it('allows a path under a root and hands back the real path', async () => {
    const r = await resolveMounts(m(join(root, 'data')), [root], 'n1');
    expect(r.reason).toBeNull();
    expect(r.mounts?.[0].source).toBe(join(root, 'data'));
  });
  it('refuses paths outside the roots, also through .. and symlinks', async () => {
    expect((await resolveMounts(m(outside), [root], 'n1')).reason).toMatch(/is outside the allowed mount roots of node n1/);
    expect((await resolveMounts(m(join(root, '..', 'outside')), [root], 'n1')).reason).toMatch(/outside the allowed mount roots/);
    expect((await resolveMounts(m(join(root, 'sneaky')), [root], 'n1')).reason).toMatch(/resolves to .*outside.* is outside the allowed mount roots/);
    expect((await resolveMounts(m(`${root}-evil`), [root], 'n1')).reason).toMatch(/does not exist|outside/);
  });
  it('refuses missing sources, relative paths, and any mount when no roots are configured', async () => {
    expect((await resolveMounts(m(join(root, 'nope')), [root], 'n1')).reason).toMatch(/does not exist on node n1/);
    expect((await resolveMounts(m('data'), [root], 'n1')).reason).toMatch(/absolute/);
    expect((await resolveMounts(m(join(root, 'data')), [], 'n1')).reason).toMatch(/bind mounts are disabled on node n1/);
  });
  it.skipIf(process.getuid?.() !== 0)('refuses a source below a directory a job identity can write (it could swap a component for a symlink)', async () => {
    const job = { uid: 4242, gids: [4343] };
    const owned = join(root, 'owned');
    mkdirSync(join(owned, 'sub'), { recursive: true });
    chownSync(owned, 4242, 0);
    // the writable directory itself is fine (its parent is not the job's), what lies below it is not
    expect((await resolveMounts(m(owned), [root], 'n1', [job])).reason).toBeNull();
    expect((await resolveMounts(m(join(owned, 'sub')), [root], 'n1', [job])).reason).toMatch(/is reached through .*owned \(owned by uid 4242, a job user\)/);
    // a job's group with the group write bit, and world-writable directories, count as writable
    const grp = join(root, 'grp');
    mkdirSync(join(grp, 'sub'), { recursive: true });
    chownSync(grp, 0, 4343);
    chmodSync(grp, 0o775);
    expect((await resolveMounts(m(join(grp, 'sub')), [root], 'n1', [job])).reason).toMatch(/group-writable by gid 4343/);
    const world = join(root, 'world');
    mkdirSync(join(world, 'sub'), { recursive: true });
    chmodSync(world, 0o777);
    expect((await resolveMounts(m(join(world, 'sub')), [root], 'n1', [job])).reason).toMatch(/world-writable/);
    // sticky (like /tmp): only the owner of an entry may rename it, so a root-owned entry is safe, a job-owned one is not
    chmodSync(world, 0o1777);
    expect((await resolveMounts(m(join(world, 'sub')), [root], 'n1', [job])).reason).toBeNull();
    chownSync(join(world, 'sub'), 4242, 0);
    expect((await resolveMounts(m(join(world, 'sub')), [root], 'n1', [job])).reason).toMatch(/world-writable/);
    // another identity does not matter
    expect((await resolveMounts(m(join(owned, 'sub')), [root], 'n1', [{ uid: 5555, gids: [5555] }])).reason).toBeNull();
  });
});

describe('mount roots without nosuid,nodev (warned at start)', () => {
  // lines in /proc/self/mountinfo's format (proc(5)): the root file system, a tmpfs and two data disks
  const mountinfo = [
    '25 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
    '31 25 0:27 / /tmp rw,nosuid,nodev shared:13 - tmpfs tmpfs rw,size=1048576k',
    '40 25 8:17 / /data rw,nosuid,nodev,relatime shared:20 - xfs /dev/sdb1 rw',
    '41 25 8:33 / /scratch\\040disk rw,relatime shared:21 - xfs /dev/sdc1 rw',
  ].join('\n');
  it('finds the mount a root lies on (longest mount point) and names the missing flags', async () => {
    const { mountOf, rootsWithoutNosuid } = await import('../../agent/runtime/docker/mounts.js');
    expect(mountOf('/data/models', mountinfo)).toEqual({ mountPoint: '/data', options: ['rw', 'nosuid', 'nodev', 'relatime'] });
    expect(mountOf('/database', mountinfo)?.mountPoint).toBe('/');
    expect(rootsWithoutNosuid(['/data/x', '/tmp/y', '/srv', '/scratch disk/a'], mountinfo)).toEqual([
      '/srv lies on /, mounted without nosuid,nodev', '/scratch disk/a lies on /scratch disk, mounted without nosuid,nodev']);
  });
});

// ---- engine down ------------------------------------------------------------------------------------------------

describe('DockerDriver without an engine', () => {
  const d = new DockerDriver({ socketPath: '/nonexistent/docker.sock', node: 'n1', allowedMountRoots: [], defaultNetwork: 'none', logger, recoverEngineWaitMs: 300 });
  afterAll(() => d.dispose());
  const h: TaskHandle = { driver: 'docker', jobId: 'j', attempt: 1, state: { containerId: 'abc', name: 'fleetml-j-1' } };

  it('reports unavailable with a clear reason and never throws asynchronously', async () => {
    const f = await d.fingerprint();
    expect(f.available).toBe(false);
    expect(f.reason).toMatch(/container engine not reachable on node n1 at \/nonexistent\/docker.sock/);
    expect(await d.validate(spec())).toMatch(/container engine not reachable/);
    await expect(d.start(cfg('j'))).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE' });
    await expect(d.inspect(h)).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE' });
    await expect(d.recover(h)).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE' });
    const stop = d.attachLogs(h, () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    stop();
  });
});

// ---- real engine ------------------------------------------------------------------------------------------------

const engine = await ensureDockerEngine();
if (!engine.available && !engineRequired()) console.warn(`[docker-driver.test] SKIPPED the real-engine tests: ${engine.reason} (with CI set they fail instead)`);

if (!engine.available && engineRequired()) {
  describe('DockerDriver against a real engine', () => {
    it('has a container engine (CI must start one: scripts/container-engine.sh start + busybox-image)', () => {
      throw new Error(`CI is set but ${engine.reason}`);
    });
  });
}

describe.skipIf(!engine.available)('DockerDriver against a real engine', () => {
  const node = `test-${run}`;
  const base = mkdtempSync(join(tmpdir(), 'fleetml-docker-'));
  const root = join(base, 'allowed');
  mkdirSync(root);
  let docker: Docker;
  let d: DockerDriver;
  const drivers: DockerDriver[] = [];
  const mk = () => { const x = new DockerDriver({ socketPath: engine.socketPath, node, allowedMountRoots: [root], defaultNetwork: 'none', logger }); drivers.push(x); return x; };
  const job = (name: string) => `${name}-${run}`;
  const c = (jobId: string, s: Partial<JobSpecInput> = {}, extra: Partial<TaskConfig> = {}) => cfg(jobId, s, { node, ...extra });
  /** Runs to the end and collects the output. */
  const runToEnd = async (x: DockerDriver, conf: TaskConfig) => {
    const h = await x.start(conf);
    const lines: { stream: string; line: string; ts: number }[] = [];
    const stop = x.attachLogs(h, (stream, line, ts) => lines.push({ stream, line, ts }));
    const exit = await x.wait(h);
    return { h, exit, lines, stop };
  };

  beforeAll(() => {
    docker = new Docker({ socketPath: engine.socketPath });
    d = mk();
  });
  afterAll(async () => {
    for (const x of drivers) await x.dispose();
    if (docker) {
      const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`fleetml.node=${node}`] }) });
      await Promise.all(left.map((l) => docker.getContainer(l.Id).remove({ force: true }).catch(() => undefined)));
    }
    rmSync(base, { recursive: true, force: true });
  });

  it('fingerprints the engine', async () => {
    expect(await d.fingerprint()).toEqual({ available: true, reason: null });
  });

  it('reports exit codes 0 and 3', async () => {
    const [ok, three] = await Promise.all([runToEnd(d, c(job('ok'))), runToEnd(d, c(job('three'), { command: ['sh', '-c', 'exit 3'] }))]);
    expect(ok.exit).toEqual({ exitCode: 0, signal: null, oomKilled: false, error: null });
    expect(three.exit).toEqual({ exitCode: 3, signal: null, oomKilled: false, error: null });
  });

  it('keeps stdout and stderr apart, with engine timestamps, including a last line without newline', async () => {
    const t0 = Date.now();
    const r = await runToEnd(d, c(job('streams'), { command: ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf tail'] }));
    await until(() => r.lines.length >= 5, 5_000, 'five lines');
    expect(r.lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['out1', 'out2', 'tail']);
    expect(r.lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['err1', 'err2']);
    for (const l of r.lines) expect(l.ts).toBeGreaterThan(t0 - 2_000);
  });

  it('passes env (spec + agent, no GPUs → NVIDIA_VISIBLE_DEVICES=void) and the working directory', async () => {
    const r = await runToEnd(d, c(job('env'), { command: ['sh', '-c', 'echo "$FOO|$FLEETML_JOB_ID|$(pwd)|$NVIDIA_VISIBLE_DEVICES"'], env: { FOO: 'bar baz' }, workdir: '/tmp' }, { env: { FLEETML_JOB_ID: 'j-env' } }));
    await until(() => r.lines.length >= 1, 5_000, 'a line');
    expect(r.lines[0].line).toBe('bar baz|j-env|/tmp|void');
  });

  it('mounts a directory under an allowed root (rw and ro) and refuses one outside in validate()', async () => {
    const data = join(root, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'in.txt'), 'from host\n');
    chownSync(data, 65534, 65534); // containers run as nobody: the read-write mount must be theirs to write
    const r = await runToEnd(d, c(job('mount'), {
      command: ['sh', '-c', 'cat /in/in.txt && echo from-container > /out/out.txt && (echo x > /in/nope 2>/dev/null && echo wrote || echo ro-refused)'],
      mounts: [{ source: data, target: '/in', readonly: true }, { source: data, target: '/out' }],
    }));
    expect(r.exit.exitCode).toBe(0);
    await until(() => r.lines.length >= 2, 5_000, 'two lines');
    expect(r.lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['from host', 'ro-refused']);
    expect(readFileSync(join(data, 'out.txt'), 'utf8')).toBe('from-container\n');
    expect(await d.validate(spec({ mounts: [{ source: data, target: '/in' }] }))).toBeNull();
    const outside = mkdtempSync(join(tmpdir(), 'fleetml-outside-'));
    try {
      expect(await d.validate(spec({ mounts: [{ source: outside, target: '/x' }] }))).toMatch(new RegExp(`mount source ${outside} is outside the allowed mount roots of node ${node}`));
      await expect(d.start(c(job('mount-out'), { mounts: [{ source: outside, target: '/x' }] }))).rejects.toMatchObject({ code: 'MOUNT_REFUSED' });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('refuses a missing image in validate() and start(), saying how to load it', async () => {
    const img = 'fleetml/does-not-exist:1';
    expect(await d.validate(spec({ image: img }))).toBe(`image ${img} is not present on node ${node} (no registry pull is assumed): load it with docker load/import`);
    expect(await d.validate(spec())).toBeNull();
    await expect(d.start(c(job('noimg'), { image: img }))).rejects.toMatchObject({ code: 'IMAGE_MISSING' });
  });

  it('reports an OOM kill (exit 137, SIGKILL) when the job goes over its memory limit', async () => {
    // The shell keeps 64 MiB in a variable under an 8 MiB limit.
    const r = await runToEnd(d, c(job('oom'), { command: ['sh', '-c', 'x=$(head -c 64m /dev/zero | tr "\\0" a); echo survived'], memory_bytes: 8 << 20 }));
    expect(r.exit).toEqual({ exitCode: 137, signal: 'SIGKILL', oomKilled: true, error: null });
  });

  it('reports oomKilled when only a child was OOM-killed and the job exited 0 (the engine reports it so)', async () => {
    // the child raises its own oom_score_adj (allowed without privileges) so the kernel picks it, not the main shell
    const r = await runToEnd(d, c(job('oom-child'), { command: ['sh', '-c', 'sh -c "echo 1000 > /proc/self/oom_score_adj; x=\\$(head -c 64m /dev/zero | tr \\"\\\\0\\" a)"; echo child=$?; exit 0'], memory_bytes: 8 << 20 }));
    expect(r.exit).toEqual({ exitCode: 0, signal: null, oomKilled: true, error: null });
    await until(() => r.lines.some((l) => l.line === 'child=137'), 5_000, 'child=137');
  });

  it('applies the cpu, memory and pids limits, init, labels and network none; stop with grace gives SIGTERM quickly', async () => {
    const h = await d.start(c(job('stop'), { command: ['sleep', '30'], cpus: 0.5, memory_bytes: 64 << 20 }));
    const info = await docker.getContainer(h.state.containerId as string).inspect();
    expect(info.HostConfig).toMatchObject({ NanoCpus: 500_000_000, Memory: 64 << 20, MemorySwap: 64 << 20, PidsLimit: 4096, Init: true, NetworkMode: 'none' });
    expect(info.Config.Labels).toMatchObject({ 'fleetml.job': job('stop'), 'fleetml.attempt': '1', 'fleetml.node': node });
    expect(info.Name).toBe(`/fleetml-${job('stop')}-1`);
    expect(await d.inspect(h)).toEqual({ running: true, exit: null });
    const t0 = Date.now();
    await d.stop(h, 10);
    expect(Date.now() - t0).toBeLessThan(5_000); // tini forwards SIGTERM: no waiting out the 10 s grace
    expect(await d.wait(h)).toEqual({ exitCode: 143, signal: 'SIGTERM', oomKilled: false, error: null });
    await d.stop(h, 1); // idempotent (304)
    expect((await d.inspect(h)).exit?.exitCode).toBe(143);
  });

  it('never starts an attempt twice, and a refused start leaves no container', async () => {
    const h = await d.start(c(job('twice'), { command: ['sleep', '30'] }));
    await expect(d.start(c(job('twice'), { command: ['sleep', '30'] }))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await d.destroy(h);
    // no GPU runtime on this engine: the request is sent and refused at start; nothing is left behind
    const gpu = await d.start(c(job('gpu'), { gpus: 1 }, { gpuUuids: ['GPU-0000'] })).then(() => null, (e: unknown) => e);
    expect(gpu).toBeInstanceOf(DockerDriverError);
    expect(gpu).toMatchObject({ code: 'ENGINE_ERROR', message: expect.stringMatching(/cannot start container fleetml-gpu-.*nvidia/) });
    const left = (await d.listJobContainers()).filter((x) => [job('gpu'), job('twice')].includes(x.jobId));
    expect(left).toEqual([]);
  });

  it('reports a command that cannot be executed as exit 127 (tini execs it, so start succeeds)', async () => {
    const r = await runToEnd(d, c(job('noexec'), { command: ['/no/such/binary'] }));
    expect(r.exit).toMatchObject({ exitCode: 127, oomKilled: false });
    await until(() => r.lines.some((l) => l.stream === 'stderr' && /no\/such\/binary/.test(l.line)), 5_000, 'the exec error');
  });

  it('recovers a running container in a new driver instance without repeating log lines', async () => {
    const a = mk();
    const h = await a.start(c(job('recover'), { command: ['sh', '-c', 'echo one; echo two >&2; sleep 1.5; echo three; echo four >&2; exit 7'] }));
    const seen: { stream: string; line: string; ts: number }[] = [];
    a.attachLogs(h, (stream, line, ts) => seen.push({ stream, line, ts }));
    await until(() => seen.length >= 2, 5_000, 'two lines');
    await a.dispose(); // the agent goes away; the handle is what SQLite kept
    const saved: TaskHandle = JSON.parse(JSON.stringify(h));
    const lastTs = Math.max(...seen.map((l) => l.ts));

    const b = mk();
    expect(await b.recover(saved)).toBe(true);
    expect((await b.inspect(saved)).running).toBe(true);
    const after: string[] = [];
    b.attachLogs(saved, (stream, line) => after.push(`${stream}:${line}`), lastTs);
    expect(await b.wait(saved)).toEqual({ exitCode: 7, signal: null, oomKilled: false, error: null });
    await until(() => after.length >= 2, 5_000, 'the later lines');
    await new Promise((r) => setTimeout(r, 200));
    expect(after.sort()).toEqual(['stderr:four', 'stdout:three']); // the two streams are not ordered between them
    expect(seen.map((l) => l.line).sort()).toEqual(['one', 'two']);
  });

  it('reports the real exit code of a job that ended while the agent was down, and finds it by labels', async () => {
    const a = mk();
    const h = await a.start(c(job('down'), { command: ['sh', '-c', 'echo bye; exit 5'] }));
    await a.dispose();
    await until(async () => !(await docker.getContainer(h.state.containerId as string).inspect()).State.Running, 5_000, 'the exit');
    const b = mk();
    const saved: TaskHandle = JSON.parse(JSON.stringify(h));
    expect(await b.recover(saved)).toBe(true);
    expect(await b.inspect(saved)).toEqual({ running: false, exit: { exitCode: 5, signal: null, oomKilled: false, error: null } });
    expect(await b.wait(saved)).toEqual({ exitCode: 5, signal: null, oomKilled: false, error: null });
    const lines: string[] = [];
    b.attachLogs(saved, (_s, line) => lines.push(line));
    await until(() => lines.length >= 1, 5_000, 'the replayed line');
    expect(lines).toEqual(['bye']);

    // A handle whose container id is stale: found again by its labels (job, attempt, node).
    const stale: TaskHandle = { ...saved, state: { ...saved.state, containerId: 'f'.repeat(64) } };
    expect(await b.recover(stale)).toBe(true);
    expect(stale.state.containerId).toBe(h.state.containerId);
  });

  it('destroys idempotently; a destroyed task is not recoverable and inspects as gone', async () => {
    const r = await runToEnd(d, c(job('destroy'), { command: ['true'] }));
    expect((await d.listJobContainers({ jobId: job('destroy') })).map((x) => x.state)).toEqual(['exited']);
    await d.destroy(r.h);
    await expect(docker.getContainer(r.h.state.containerId as string).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await d.destroy(r.h);
    expect(await d.recover(r.h)).toBe(false);
    expect(await d.inspect(r.h)).toMatchObject({ running: false, exit: { exitCode: null, error: expect.stringMatching(/is gone/) } });
    expect(await d.wait(r.h)).toMatchObject({ exitCode: null, error: expect.stringMatching(/is gone/) });
  });
});
