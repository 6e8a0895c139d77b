import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Runs scripts/install-agent.sh as a user-owned install into a temp dir (FLEETML_INSTALL_NO_SYSTEM=1:
// no useradd, no chown, no systemctl), twice, and checks what an operator relies on: unit installed
// with the substituted paths, config written once and never clobbered, the printed admin token is in
// the store, the second run prints no new token.
const root = resolve(__dirname, '../..');
const script = join(root, 'scripts/install-agent.sh');
const built = existsSync(join(root, 'dist/bin/fleetml.js'));
const TOKEN_RE = /fml_[0-9a-f]{12}_[A-Za-z0-9_-]{20,64}/g;

if (!built) console.warn('install-script.test: SKIPPED, dist/bin/fleetml.js is missing: run `npm run build` first');

describe.skipIf(!built)('scripts/install-agent.sh (sandboxed, --no-system)', () => {
  let tmp: string;
  let paths: { PREFIX: string; CONFIG_DIR: string; STATE_DIR: string; SYSTEMD_DIR: string; BIN_DIR: string };
  const run = (extraEnv: Record<string, string> = {}, args: string[] = []): SpawnSyncReturns<string> =>
    spawnSync('bash', [script, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ...paths, FLEETML_INSTALL_NO_SYSTEM: '1', FLEETML_DATA_DIR: '', ...extraEnv },
    });
  const fleetml = (...args: string[]) =>
    spawnSync(process.execPath, [join(paths.PREFIX, 'dist/bin/fleetml.js'), ...args], { encoding: 'utf8', timeout: 20_000 });
  const tokenRows = () => {
    const r = fleetml('token', 'list', '--data-dir', paths.STATE_DIR, '-o', 'json');
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Array<{ name: string; role: string; revoked_at: number | null }>;
  };

  let first: SpawnSyncReturns<string>;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'fleetml-install-'));
    paths = {
      PREFIX: join(tmp, 'opt/fleetml'),
      CONFIG_DIR: join(tmp, 'etc/fleetml'),
      STATE_DIR: join(tmp, 'var/lib/fleetml'),
      SYSTEMD_DIR: join(tmp, 'etc/systemd/system'),
      BIN_DIR: join(tmp, 'usr/local/bin'),
    };
    first = run();
  }, 60_000);
  afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

  it('passes bash -n', () => {
    const r = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('first run installs code, bin link, unit (paths substituted) and a default config', () => {
    expect(first.status, first.stderr + first.stdout).toBe(0);
    expect(existsSync(join(paths.PREFIX, 'dist/bin/fleetml.js'))).toBe(true);
    expect(existsSync(join(paths.PREFIX, 'node_modules/better-sqlite3'))).toBe(true);
    expect(readlinkSync(join(paths.BIN_DIR, 'fleetml'))).toBe(join(paths.PREFIX, 'dist/bin/fleetml.js'));
    const v = spawnSync(join(paths.BIN_DIR, 'fleetml'), ['--version'], { encoding: 'utf8' });
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);

    const unit = readFileSync(join(paths.SYSTEMD_DIR, 'fleetml-agent.service'), 'utf8');
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
    expect(exec).toContain(`${join(paths.PREFIX, 'dist/bin/fleetml.js')} agent --config ${join(paths.CONFIG_DIR, 'agent.yaml')}`);
    // `/usr/bin/env node` is replaced by the absolute node the script found (systemd's PATH may lack it)
    const m = /^ExecStart=(\/\S+) (.*)$/.exec(exec)!;
    expect(m, exec).not.toBeNull();
    expect(m[1]).not.toBe('/usr/bin/env');
    expect(existsSync(m[1])).toBe(true);
    expect(m[2]).toBe(`${join(paths.PREFIX, 'dist/bin/fleetml.js')} agent --config ${join(paths.CONFIG_DIR, 'agent.yaml')}`);
    expect(unit).toMatch(/^RestartPreventExitStatus=78$/m);
    expect(unit).toMatch(/^KillMode=process$/m);
    expect(unit).toMatch(/^MemoryDenyWriteExecute=no$/m);
    // non-default STATE_DIR → a drop-in points the agent at it
    const dropin = readFileSync(join(paths.SYSTEMD_DIR, 'fleetml-agent.service.d/10-install-paths.conf'), 'utf8');
    expect(dropin).toContain(`Environment=FLEETML_DATA_DIR=${paths.STATE_DIR}`);
    expect(dropin).toContain(`ReadWritePaths=${paths.STATE_DIR}`);

    const cfg = readFileSync(join(paths.CONFIG_DIR, 'agent.yaml'), 'utf8');
    expect(cfg).toMatch(/^listen: 127\.0\.0\.1:7070$/m);
    expect(statSync(join(paths.CONFIG_DIR, 'agent.yaml')).mode & 0o777).toBe(0o640);
    expect(statSync(paths.STATE_DIR).mode & 0o777).toBe(0o700);
    expect(first.stdout).toContain('not touching systemd');
  });

  it('prints the first admin token once; it is in the store as install-admin and in admin.token (0600)', () => {
    const printed = first.stdout.match(TOKEN_RE) ?? [];
    expect(printed).toHaveLength(1);
    expect(first.stdout).toContain('fleetml cluster add');
    expect(first.stdout).toContain('--token-file');
    const rows = tokenRows();
    expect(rows.filter((r) => r.name === 'install-admin' && r.role === 'admin' && !r.revoked_at)).toHaveLength(1);
    const file = join(paths.STATE_DIR, 'admin.token');
    expect(readFileSync(file, 'utf8').trim()).toBe(printed[0]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('the printed token verifies against the installed store (TokenStore.verify)', () => {
    const token = first.stdout.match(TOKEN_RE)![0];
    // In a child node, so vitest does not transform the installed dist/ files.
    const code = `
      const { openStore } = await import(process.argv[1] + '/dist/agent/store/db.js');
      const { TokenStore } = await import(process.argv[1] + '/dist/agent/store/tokens.js');
      const db = openStore(process.argv[2]);
      try { console.log(JSON.stringify(new TokenStore(db).verify(process.argv[3]))); } finally { db.close(); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, paths.PREFIX, paths.STATE_DIR, token], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'install-admin', role: 'admin' });
  });

  it('the installed agent starts with the generated config and does not mint a second admin token', async () => {
    const before = readFileSync(join(paths.STATE_DIR, 'admin.token'), 'utf8');
    const child = spawn(process.execPath, [join(paths.PREFIX, 'dist/bin/fleetml.js'), 'agent', '--config', join(paths.CONFIG_DIR, 'agent.yaml'), '--data-dir', paths.STATE_DIR], {
      env: { ...process.env, FLEETML_LISTEN: '127.0.0.1:0', FLEETML_GPU_SOURCE: 'none' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`agent did not start:\n${log}`)), 15_000);
      child.stderr!.on('data', (d) => { log += d; if (log.includes('"agent listening"')) { clearTimeout(t); res(); } });
      child.on('exit', (code) => { clearTimeout(t); rej(new Error(`agent exited ${code}:\n${log}`)); });
    });
    // agent-command.ts installs its SIGTERM handler just after "agent listening" is logged: give it a moment.
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(readFileSync(join(paths.STATE_DIR, 'admin.token'), 'utf8')).toBe(before);
    expect(tokenRows()).toHaveLength(1);
  }, 30_000);

  it('second run keeps an edited config, prints no new token and points at the existing one', () => {
    const cfgPath = join(paths.CONFIG_DIR, 'agent.yaml');
    const edited = 'listen: 127.0.0.1:7171\nname: edited-node\n';
    writeFileSync(cfgPath, edited);
    const second = run();
    expect(second.status, second.stderr + second.stdout).toBe(0);
    expect(readFileSync(cfgPath, 'utf8')).toBe(edited);
    expect(second.stdout).toContain(`keeping existing ${cfgPath}`);
    expect(second.stdout.match(TOKEN_RE)).toBeNull();
    expect(second.stdout).toContain(join(paths.STATE_DIR, 'admin.token'));
    expect(second.stdout).toContain(':7171'); // the connect hint follows the edited listen address
    expect(tokenRows().filter((r) => r.name === 'install-admin')).toHaveLength(1);
  }, 60_000);

  it('without admin.token but with active tokens: still no new token', () => {
    rmSync(join(paths.STATE_DIR, 'admin.token'));
    const r = run();
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout.match(TOKEN_RE)).toBeNull();
    expect(r.stdout).toContain('tokens already exist (install-admin)');
    expect(tokenRows()).toHaveLength(1);
  }, 60_000);

  it('refuses node < 20 and an unbuilt checkout with a clear message', () => {
    const fake = join(tmp, 'node18');
    writeFileSync(fake, '#!/bin/sh\necho v18.19.0\n');
    chmodSync(fake, 0o755);
    const old = run({ NODE: fake });
    expect(old.status).not.toBe(0);
    expect(old.stderr).toContain('Node.js >= 20 is required');

    const empty = mkdtempSync(join(tmp, 'src-'));
    const unbuilt = run({ FLEETML_SOURCE: empty });
    expect(unbuilt.status).not.toBe(0);
    expect(unbuilt.stderr).toContain('npm run build');
  });

  it('the installed unit passes systemd-analyze verify (when available)', () => {
    const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
    if (which.status !== 0) { console.warn('systemd-analyze not found: unit not verified'); return; }
    const r = spawnSync('systemd-analyze', ['verify', join(paths.SYSTEMD_DIR, 'fleetml-agent.service')], { encoding: 'utf8', timeout: 20_000 });
    // verify warns on stderr for unknown keys or bad values; the unit must be clean.
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('fleetml-agent.service'))).toEqual([]);
  });
});
