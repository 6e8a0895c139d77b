import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { buildJobRun, resolveDriver, parseDuration, parseEnv, parseJobRef, parseLabels, parseMount, parseRestart, parseSize, parseStates } from '../../cli/args/job.js';
import { formatAge, formatLogLine, jobRow, logPrefix } from '../../cli/format/job.js';
import { registerJobCommands } from '../../cli/commands/job.js';
import { UsageError } from '../../cli/output.js';
import type { Job } from '../../shared/protocol/jobs.js';

describe('sizes', () => {
  it('reads k/m/g as ×1000 and ki/mi/gi as ×1024, case-insensitive, optional b', () => {
    expect(parseSize('512')).toBe(512);
    expect(parseSize('8g')).toBe(8e9);
    expect(parseSize('8G')).toBe(8e9);
    expect(parseSize('8gb')).toBe(8e9);
    expect(parseSize('8gi')).toBe(8 * 2 ** 30);
    expect(parseSize('8GiB')).toBe(8 * 2 ** 30);
    expect(parseSize('512Mi')).toBe(512 * 2 ** 20);
    expect(parseSize('1.5k')).toBe(1500);
    expect(parseSize('2ti')).toBe(2 * 2 ** 40);
  });
  it('rejects what it cannot read, with an example', () => {
    for (const v of ['', 'g', '8x', '-1g', '8 gigs', '1e9']) expect(() => parseSize(v, '--memory')).toThrow(/--memory: cannot read .* e\.g\. 8g or 512mi/);
    expect(() => parseSize('x')).toThrow(UsageError);
  });
});

describe('durations', () => {
  it('reads s/m/h/d, combinations and bare seconds', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('10m')).toBe(600);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('1d')).toBe(86_400);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration('2H')).toBe(7200);
  });
  it('rejects what it cannot read', () => {
    for (const v of ['', 'm', '10x', '1w', 'h1', '-5s', '10 m']) expect(() => parseDuration(v, '--timeout')).toThrow(/--timeout: cannot read .* e\.g\. 90s, 10m, 2h/);
  });
});

describe('env, labels, mounts, restart, states, job refs', () => {
  it('env: KEY=VALUE, values may hold = or be empty', () => {
    expect(parseEnv(['A=1', 'B=x=y', 'C='])).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(parseEnv(undefined)).toEqual({});
    expect(() => parseEnv(['A'])).toThrow(/--env: "A" is not KEY=VALUE/);
    expect(() => parseEnv(['1A=x'])).toThrow(/not a valid key/);
    expect(() => parseEnv(['A=1', 'A=2'])).toThrow(/A is given twice/);
  });
  it('labels and selectors', () => {
    expect(parseLabels(['team=vision', 'fleetml/pool=a'])).toEqual({ team: 'vision', 'fleetml/pool': 'a' });
    expect(() => parseLabels(['bad key=x'], '--selector')).toThrow(/--selector: "bad key"/);
  });
  it('mounts: SRC:DST[:ro|rw], absolute paths', () => {
    expect(parseMount('/srv/data:/data')).toEqual({ source: '/srv/data', target: '/data', readonly: false });
    expect(parseMount('/srv/data:/data:ro')).toEqual({ source: '/srv/data', target: '/data', readonly: true });
    expect(parseMount('/srv/data:/data:rw')).toMatchObject({ readonly: false });
    expect(() => parseMount('/srv/data')).toThrow(/not SRC:DST\[:ro\]/);
    expect(() => parseMount('/a:/b:rx')).toThrow(/must be ro or rw/);
    expect(() => parseMount('data:/data')).toThrow(/must be absolute/);
  });
  it('restart: never or on-failure:N', () => {
    expect(parseRestart('never')).toEqual({ policy: 'never' });
    expect(parseRestart('on-failure:3')).toEqual({ policy: 'on-failure', max_retries: 3 });
    expect(() => parseRestart('on-failure')).toThrow(/needs a retry count, e\.g\. on-failure:3/);
    expect(() => parseRestart('on-failure:0')).toThrow(/from 1 to 100/);
    expect(() => parseRestart('always')).toThrow(/use never or on-failure:N/);
  });
  it('states', () => {
    expect(parseStates('running, queued,running')).toEqual(['running', 'queued']);
    expect(() => parseStates('runing')).toThrow(/unknown state "runing"; use one or more of queued, starting, running/);
  });
  it('job refs: ID, prefix, or NODE/ID', () => {
    expect(parseJobRef('j_abc')).toEqual({ node: null, ref: 'j_abc' });
    expect(parseJobRef('gpu-1/j_abc')).toEqual({ node: 'gpu-1', ref: 'j_abc' });
    expect(() => parseJobRef('a/b/c')).toThrow(UsageError);
    expect(() => parseJobRef('gpu-1/')).toThrow(UsageError);
  });
});

describe('job run flags → spec', () => {
  it('driver defaults to process without an image, docker with one', () => {
    expect(buildJobRun({}, ['python', 'train.py']).spec).toMatchObject({ driver: 'process', command: ['python', 'train.py'], gpus: 0 });
    expect(buildJobRun({ image: 'pytorch:2' }, ['python']).spec).toMatchObject({ driver: 'docker', image: 'pytorch:2' });
    expect(buildJobRun({ driver: 'fake' }, ['x']).spec.driver).toBe('fake');
  });
  it('slurm: --partition/--account/--qos/--constraint imply the driver; a node whose default is slurm takes a job without --driver', () => {
    const p = buildJobRun({ partition: 'gpu', qos: 'high', gpus: '2' }, ['python']);
    expect(p.spec).toMatchObject({ driver: 'slurm', gpus: 2, slurm: { partition: 'gpu', qos: 'high' } });
    expect(p.driverDefaulted).toBe(false);
    const q = buildJobRun({ image: 'nvcr.io#nvidia/pytorch:24.01' }, ['python']);
    expect(q.driverDefaulted).toBe(true);
    expect(resolveDriver(q, 'slurm')).toMatchObject({ driver: 'slurm', image: 'nvcr.io#nvidia/pytorch:24.01' });
    expect(resolveDriver(q, 'process').driver).toBe('docker');
    expect(resolveDriver(buildJobRun({ driver: 'process' }, ['x']), 'slurm').driver).toBe('process'); // an explicit --driver wins
  });
  it('builds a full spec and the placement inputs', () => {
    const p = buildJobRun({
      selector: ['pool=train'], gpus: '2', cpus: '1.5', memory: '8gi', env: ['A=1'], mount: ['/d:/data:ro'], workdir: '/w',
      priority: '10', timeout: '2h', restart: 'on-failure:2', name: 'train-1', label: ['team=v'], spread: true,
    }, ['python', 'train.py', '--lr', '0.1']);
    expect(p).toEqual({
      node: null, selector: { pool: 'train' }, strategy: 'spread', driverDefaulted: true,
      spec: {
        driver: 'process', command: ['python', 'train.py', '--lr', '0.1'], env: { A: '1' }, mounts: [{ source: '/d', target: '/data', readonly: true }],
        gpus: 2, labels: { team: 'v' }, name: 'train-1', workdir: '/w', cpus: 1.5, memory_bytes: 8 * 2 ** 30, priority: 10, timeout_s: 7200,
        restart: { policy: 'on-failure', max_retries: 2 },
      },
    });
    expect(buildJobRun({ node: 'gpu-1' }, ['x'])).toMatchObject({ node: 'gpu-1', strategy: 'binpack' });
  });
  it('fails at once on impossible combinations and bad values', () => {
    expect(() => buildJobRun({}, [])).toThrow(/needs a command after --/);
    expect(() => buildJobRun({ node: 'a', selector: ['x=y'] }, ['x'])).toThrow(/--node and --selector exclude each other/);
    expect(() => buildJobRun({ node: 'a', spread: true }, ['x'])).toThrow(/--spread .* drop one/);
    expect(() => buildJobRun({ driver: 'docker' }, ['x'])).toThrow(/needs an image: add --image/);
    expect(() => buildJobRun({ driver: 'process', image: 'i' }, ['x'])).toThrow(/--image is only for the docker and slurm drivers, but --driver is process/);
    expect(() => buildJobRun({ driver: 'podman' }, ['x'])).toThrow(/unknown driver "podman"; use process, docker, slurm or fake/);
    expect(() => buildJobRun({ driver: 'process', partition: 'gpu' }, ['x'])).toThrow(/--partition is only for the slurm driver/);
    expect(() => buildJobRun({ partition: 'bad;name' }, ['x'])).toThrow(/--partition: letters, digits/);
    expect(() => buildJobRun({ gpus: '1.5' }, ['x'])).toThrow(/--gpus: "1.5" is not a whole number from 0 to 64/);
    expect(() => buildJobRun({ gpus: '65' }, ['x'])).toThrow(/--gpus/);
    expect(() => buildJobRun({ cpus: '-1' }, ['x'])).toThrow(/--cpus/);
    expect(() => buildJobRun({ memory: '1k' }, ['x'])).toThrow(/below the 4mi minimum/);
    expect(() => buildJobRun({ timeout: '40d' }, ['x'])).toThrow(/outside 1s\.\.30d/);
    expect(() => buildJobRun({ name: '-bad' }, ['x'])).toThrow(/^--name: 1-63 letters/);
  });
  it('rounds a fractional timeout up to whole seconds', () => {
    expect(buildJobRun({ timeout: '1.5s' }, ['x']).spec.timeout_s).toBe(2);
  });
});

describe('commander wiring', () => {
  function program() {
    const p = new Command('fleetml').exitOverride();
    registerJobCommands(p);
    return p;
  }
  it('rejects bad flags before contacting any agent', async () => {
    await expect(program().parseAsync(['node', 'fleetml', 'job', 'run', '--gpus', 'two', '--', 'python', 'x.py'])).rejects.toThrow(/--gpus: "two"/);
    await expect(program().parseAsync(['node', 'fleetml', 'job', 'run', '--image', 'img', '--driver', 'process', '--', 'x'])).rejects.toThrow(/only for the docker and slurm drivers/);
    await expect(program().parseAsync(['node', 'fleetml', 'job', 'list', '--state', 'nope'])).rejects.toThrow(/unknown state "nope"/);
    await expect(program().parseAsync(['node', 'fleetml', 'job', 'logs', 'j_1', '--tail', '0'])).rejects.toThrow(/--tail/);
    await expect(program().parseAsync(['node', 'fleetml', 'job', 'show', 'j_1', '-o', 'yaml'])).rejects.toThrow(/use -o table or -o json/);
  });
  it('collects repeated flags and the command after --', async () => {
    const p = program();
    let seen: unknown = null;
    const run = p.commands.find((c) => c.name() === 'job')!.commands.find((c) => c.name() === 'run')!;
    run.action((cmd: string[], o: Record<string, unknown>) => { seen = { cmd, env: o.env, mount: o.mount, spread: o.spread }; });
    await p.parseAsync(['node', 'fleetml', 'job', 'run', '--env', 'A=1', '--env', 'B=2', '--mount', '/a:/b', '--spread', '--', 'python', '-u', 'x.py', '--lr', '1']);
    expect(seen).toEqual({ cmd: ['python', '-u', 'x.py', '--lr', '1'], env: ['A=1', 'B=2'], mount: ['/a:/b'], spread: true });
  });
});

describe('job rendering', () => {
  const job: Job = {
    id: 'j_abc123', name: 'train', node: 'gpu-1', state: 'running', reason: null, exit_code: null, oom_killed: false, gpus: ['GPU-1', 'GPU-2'],
    attempt: 1, submitted_by: 'ops', submitted_at: 1_000_000, started_at: 1_001_000, finished_at: null, history: [],
    spec: { driver: 'process', command: ['x'], env: {}, mounts: [], gpus: 2, priority: 0, restart: { policy: 'never' }, labels: {}, stop_grace_s: 10 },
  };
  it('ages', () => {
    expect([formatAge(5_000), formatAge(125_000), formatAge(3 * 3600_000), formatAge(2 * 86_400_000), formatAge(-1)]).toEqual(['5s', '2m', '3h', '2d', '0s']);
  });
  it('list rows and log prefixes', () => {
    expect(jobRow('gpu-1', job, 1_000_000 + 65_000)).toEqual(['gpu-1', 'j_abc123', 'train', 'running', 'process', '2/2', '1m', '']);
    expect(logPrefix('gpu-1', job)).toBe('[gpu-1/train]');
    expect(logPrefix('gpu-1', { ...job, name: null })).toBe('[gpu-1/j_abc123]');
    expect(formatLogLine({ ts: 1, stream: 'stdout', line: 'hi' }, '[n/j]')).toBe('[n/j] hi');
    expect(formatLogLine({ ts: 1, stream: 'system', line: 'exit 0' }, null)).toBe('-- exit 0');
  });
});
