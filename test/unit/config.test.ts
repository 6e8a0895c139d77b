import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError, splitListen } from '../../agent/config.js';
import { tempDir } from '../helpers/agent.js';

describe('agent config', () => {
  it('has the documented defaults: loopback:7070, 1 s telemetry, 15 min history, auto GPU source', () => {
    const c = loadConfig({}, { HOME: '/home/u' } as NodeJS.ProcessEnv);
    expect(c.listen).toBe('127.0.0.1:7070');
    expect(c.telemetry).toEqual({ interval_ms: 1000, history_s: 900 });
    expect(c.gpu.source).toBe('auto');
    expect(c.data_dir).toBe('/home/u/.local/share/fleetml');
    expect(c.api.max_frame_bytes).toBe(1024 * 1024);
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
    expect(c.telemetry).toEqual({ interval_ms: 2000, history_s: 60 });
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
