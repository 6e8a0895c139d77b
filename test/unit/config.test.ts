import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig, ConfigError, splitListen, OVERRIDES, flagAttribute, configKeySchema, type Override } from '../../agent/config.js';
import { addOverrideOptions, overrideHelp } from '../../cli/commands/agent.js';
import { tempDir } from '../helpers/agent.js';

describe('agent config', () => {
  it('has the documented defaults: loopback:7070, 1 s telemetry, 15 min history, auto GPU source', () => {
    const c = loadConfig({}, { HOME: '/home/u' } as NodeJS.ProcessEnv);
    expect(c.listen).toBe('127.0.0.1:7070');
    expect(c.telemetry).toEqual({ interval_ms: 1000, history_s: 900, static_refresh_s: 30 });
    expect(c.gpu.source).toBe('auto');
    expect(c.data_dir).toBe('/home/u/.local/share/fleetml');
    expect(c.api.max_frame_bytes).toBe(1024 * 1024);
    expect(c.audit).toEqual({ retention_days: 90, max_rows: 1_000_000, min_age_h: 24 });
    expect(c.uploads).toEqual({ max_per_token: 4, max_total: 32, expiry_s: 3600 });
    expect(c.jobs).toMatchObject({ docker_call_timeout_ms: 30_000, docker_sweep: 'remove', driver_check_s: 10 });
  });
  it('refuses engine call timeouts below 100 ms and an unknown sweep mode', () => {
    const t = tempDir();
    const yaml = (body: string) => { const f = join(t.dir, `c-${Math.random()}.yaml`); writeFileSync(f, body); return f; };
    expect(() => loadConfig({ config: yaml('jobs: {docker_call_timeout_ms: 10}\n') }, {})).toThrow(/jobs\.docker_call_timeout_ms/);
    expect(() => loadConfig({ config: yaml('jobs: {docker_sweep: delete}\n') }, {})).toThrow(/jobs\.docker_sweep/);
    expect(() => loadConfig({ config: yaml('jobs: {driver_check_s: 0}\n') }, {})).toThrow(/jobs\.driver_check_s/);
    t.cleanup();
  });
  it('uses systemd STATE_DIRECTORY for the data dir', () => {
    expect(loadConfig({}, { STATE_DIRECTORY: '/var/lib/fleetml' } as NodeJS.ProcessEnv).data_dir).toBe('/var/lib/fleetml');
  });
  it('layers file < FLEETML_* env < flags', () => {
    const t = tempDir();
    const f = join(t.dir, 'agent.yaml');
    writeFileSync(f, 'listen: 0.0.0.0:9000\nname: from-file\nlabels: {zone: a}\ntelemetry: {interval_ms: 2000}\n');
    const c = loadConfig({ config: f, name: 'from-flag', label: ['gpu=h100'] }, { FLEETML_NAME: 'from-env', FLEETML_LISTEN: '127.0.0.1:9100', FLEETML_HISTORY_S: '60' } as NodeJS.ProcessEnv);
    expect(c.name).toBe('from-flag');
    expect(c.listen).toBe('127.0.0.1:9100');
    expect(c.labels).toEqual({ zone: 'a', gpu: 'h100' });
    expect(c.telemetry).toEqual({ interval_ms: 2000, history_s: 60, static_refresh_s: 30 });
    t.cleanup();
  });
  it('names every bad key and the file', () => {
    const t = tempDir();
    const f = join(t.dir, 'agent.yaml');
    writeFileSync(f, 'listen: nowhere\ntelemetry: {interval_ms: 5}\nbogus: 1\n');
    let err: Error | null = null;
    try { loadConfig({ config: f }, {}); } catch (e) { err = e as Error; }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain(f);
    expect(err!.message).toMatch(/listen: expected HOST:PORT/);
    expect(err!.message).toMatch(/telemetry\.interval_ms/);
    expect(err!.message).toMatch(/bogus/);
    t.cleanup();
  });
  it('fails fast on impossible combinations', () => {
    expect(() => loadConfig({ gpuFixture: ['x.xml'], gpuSource: 'auto' }, {})).toThrow(/only replayed by --gpu-source sim/);
    expect(() => loadConfig({ tlsCert: 'c.pem' }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ label: ['novalue'] }, {})).toThrow(/expected k=v/);
    expect(() => loadConfig({ listen: '127.0.0.1:99999' }, {})).toThrow(/port must be 0-65535/);
    expect(() => loadConfig({ telemetryInterval: '100', history: '86400' }, {})).toThrow(/points per metric/);
    const yaml = (text: string) => { const t = tempDir(); const f = join(t.dir, 'agent.yaml'); writeFileSync(f, text); return f; };
    expect(() => loadConfig({ config: yaml('audit: {retention_days: 1, min_age_h: 24}\n') }, {})).toThrow(/audit\.min_age_h \(24 h\) must be below audit\.retention_days/);
    expect(() => loadConfig({ config: yaml('uploads: {max_per_token: 8, max_total: 4}\n') }, {})).toThrow(/uploads\.max_per_token \(8\) is above uploads\.max_total \(4\)/);
  });
  it('reports unreadable and non-YAML files clearly', () => {
    expect(() => loadConfig({ config: '/nonexistent/agent.yaml' }, {})).toThrow(/cannot read config file/);
    const t = tempDir();
    const f = join(t.dir, 'bad.yaml');
    writeFileSync(f, 'a: [1, 2\n');
    expect(() => loadConfig({ config: f }, {})).toThrow(/not valid YAML/);
    t.cleanup();
  });
  it('splits IPv4 and bracketed IPv6 listen addresses', () => {
    expect(splitListen('127.0.0.1:7070')).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(splitListen('[::1]:7070')).toEqual({ host: '::1', port: 7070 });
  });
});

/**
 * One sample per OVERRIDES row, by env name: the variable's value, the flag's argv, what the key becomes, a different
 * env value (the flag must win over it), and what else the row needs to load (tls needs both halves).
 */
const SAMPLES: Record<string, { env: string; argv: string[]; want: unknown; alt: string; withEnv?: Record<string, string>; withArgv?: string[] }> = {
  FLEETML_LISTEN: { env: '0.0.0.0:9000', argv: ['--listen', '0.0.0.0:9000'], want: '0.0.0.0:9000', alt: '127.0.0.1:9001' },
  FLEETML_DATA_DIR: { env: '/srv/fleetml', argv: ['--data-dir', '/srv/fleetml'], want: '/srv/fleetml', alt: '/srv/other' },
  FLEETML_NAME: { env: 'gpu-07', argv: ['--name', 'gpu-07'], want: 'gpu-07', alt: 'other' },
  FLEETML_LABELS: { env: 'zone=a,rack=r2', argv: ['--label', 'zone=a', '--label', 'rack=r2'], want: { zone: 'a', rack: 'r2' }, alt: 'zone=b' },
  FLEETML_TLS_CERT: { env: 'c.pem', argv: ['--tls-cert', 'c.pem'], want: { cert: 'c.pem', key: 'k.pem' }, alt: 'x.pem', withEnv: { FLEETML_TLS_KEY: 'k.pem' }, withArgv: ['--tls-key', 'k.pem'] },
  FLEETML_TLS_KEY: { env: 'k.pem', argv: ['--tls-key', 'k.pem'], want: { cert: 'c.pem', key: 'k.pem' }, alt: 'x.pem', withEnv: { FLEETML_TLS_CERT: 'c.pem' }, withArgv: ['--tls-cert', 'c.pem'] },
  FLEETML_TELEMETRY_INTERVAL_MS: { env: '2000', argv: ['--telemetry-interval', '2000'], want: 2000, alt: '3000' },
  FLEETML_HISTORY_S: { env: '60', argv: ['--history', '60'], want: 60, alt: '120' },
  FLEETML_GPU_SOURCE: { env: 'none', argv: ['--gpu-source', 'none'], want: 'none', alt: 'smi' },
  FLEETML_GPU_FIXTURE: { env: 'a.xml,b.csv', argv: ['--gpu-fixture', 'a.xml', '--gpu-fixture', 'b.csv'], want: ['a.xml', 'b.csv'], alt: 'c.xml', withEnv: { FLEETML_GPU_SOURCE: 'sim' }, withArgv: ['--gpu-source', 'sim'] },
  FLEETML_MAX_FRAME_BYTES: { env: '2048', argv: [], want: 2048, alt: '4096' },
  FLEETML_ALERT_WEBHOOK: { env: 'http://am.local:9093/api/hook', argv: ['--alert-webhook', 'http://am.local:9093/api/hook'], want: 'http://am.local:9093/api/hook', alt: 'https://other.local/hook' },
  FLEETML_PEERS: { env: 'gpu-02=ws://10.0.0.2:7070', argv: ['--peer', 'gpu-02=ws://10.0.0.2:7070'], want: [{ name: 'gpu-02', url: 'ws://10.0.0.2:7070' }], alt: 'x=ws://x:1' },
  FLEETML_LOG_LEVEL: { env: 'debug', argv: ['--log-level', 'debug'], want: 'debug', alt: 'warn' },
  FLEETML_JOB_DRIVERS: { env: 'fake,process', argv: ['--job-driver', 'fake', '--job-driver', 'process'], want: ['fake', 'process'], alt: 'docker' },
  FLEETML_ALLOWED_MOUNT_ROOTS: { env: '/data,/srv', argv: ['--allow-mount', '/data', '--allow-mount', '/srv'], want: ['/data', '/srv'], alt: '/other' },
  FLEETML_PROCESS_USER: { env: 'alice', argv: ['--process-user', 'alice'], want: 'alice', alt: 'bob' },
};
const rows = OVERRIDES as readonly Override[];
const HOME = { HOME: '/home/u' } as NodeJS.ProcessEnv;
const at = (c: object, key: string): unknown => key.split('.').reduce<any>((x, k) => x?.[k], c);
/** argv parsed by the generated options of `fleetml agent`, as its action receives them. */
const parseFlags = (argv: string[]) => addOverrideOptions(new Command('agent').exitOverride()).parse(argv, { from: 'user' }).opts();

describe('config overrides (the OVERRIDES table)', () => {
  it('has a sample here for every row, and every row names a key of the schema', () => {
    expect(rows.map((o) => o.env).sort()).toEqual(Object.keys(SAMPLES).sort());
    for (const o of rows) expect(() => configKeySchema(o.key)).not.toThrow();
  });
  it.each(rows.map((o) => [o.env, o] as const))('%s overrides its key over the config file', (env, o) => {
    const s = SAMPLES[env];
    const t = tempDir();
    const f = join(t.dir, 'agent.yaml');
    writeFileSync(f, 'labels: {zone: file, keep: yes}\n');
    const c = loadConfig({ config: f }, { ...HOME, ...s.withEnv, [env]: s.env });
    // labels merge over the file's; every other key is replaced
    expect(at(c, o.key)).toEqual(o.key === 'labels' ? { keep: 'yes', ...(s.want as object) } : s.want);
    t.cleanup();
  });
  it.each(rows.filter((o) => o.flag).map((o) => [o.flag!, o] as const))('%s overrides its key, over the env variable', (_flag, o) => {
    const s = SAMPLES[o.env];
    const flags = parseFlags([...s.argv, ...(s.withArgv ?? [])]);
    expect(at(loadConfig(flags, HOME), o.key)).toEqual(s.want);
    const c = loadConfig(flags, { ...HOME, ...s.withEnv, [o.env]: s.alt });
    expect(at(c, o.key)).toEqual(o.key === 'labels' ? { zone: 'b', ...(s.want as object) } : s.want);
  });
  it('@agent means the agent\'s own user (null) from the env and the flag', () => {
    expect(loadConfig({}, { ...HOME, FLEETML_PROCESS_USER: '@agent' }).jobs.process_user).toBeNull();
    expect(loadConfig(parseFlags(['--process-user', '@agent']), HOME).jobs.process_user).toBeNull();
  });
  it('a layer that gives half of tls replaces the whole object (the other half is not taken from below)', () => {
    expect(() => loadConfig({ tlsCert: 'c.pem' }, { ...HOME, FLEETML_TLS_KEY: 'k.pem' })).toThrow(/tls/);
    expect(loadConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, { ...HOME, FLEETML_TLS_CERT: 'x.pem' }).tls).toEqual({ cert: 'c.pem', key: 'k.pem' });
  });
  it('names the variable or the flag in parse errors', () => {
    expect(() => loadConfig({}, { ...HOME, FLEETML_HISTORY_S: 'soon' })).toThrow(/FLEETML_HISTORY_S: expected a number/);
    expect(() => loadConfig(parseFlags(['--history', 'soon']), HOME)).toThrow(/--history: expected a number/);
    expect(() => loadConfig({}, { ...HOME, FLEETML_LABELS: 'novalue' })).toThrow(/FLEETML_LABELS: expected k=v/);
  });
  it('generates one commander option per flag row: same flag, same property, repeatable when the row is a list', () => {
    const cmd = addOverrideOptions(new Command('agent'));
    const flagRows = rows.filter((o) => o.flag);
    expect(cmd.options.map((x) => x.flags)).toEqual(flagRows.map((o) => o.flag));
    for (const [i, o] of flagRows.entries()) {
      expect(cmd.options[i].attributeName()).toBe(flagAttribute(o.flag!));
      expect(cmd.options[i].description).toBe(overrideHelp(o));
    }
    expect(parseFlags(['--allow-mount', '/a', '--allow-mount', '/b']).allowMount).toEqual(['/a', '/b']);
  });
  it('help shows the schema default and choices, not a re-typed copy', () => {
    const help = (flag: string) => overrideHelp(rows.find((o) => o.flag?.startsWith(`${flag} `))!);
    expect(help('--listen')).toBe('API address [127.0.0.1:7070]');
    expect(help('--history')).toBe('history kept per metric [900]');
    expect(help('--job-driver')).toBe('enable a task driver: docker | process | fake | slurm (repeatable) [process, docker]');
    expect(help('--process-user')).toMatch(/\[nobody\]$/);
    expect(help('--tls-cert')).toBe('PEM certificate: serve wss/https');
    expect(help('--data-dir')).toMatch(/\[~\/\.local\/share\/fleetml, or \$STATE_DIRECTORY\]$/);
  });
});
