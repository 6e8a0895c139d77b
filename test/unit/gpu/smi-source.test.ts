// Runs the smi source against a fake nvidia-smi: a real executable script (real child processes,
// real pipes) that prints lines derived from the H100 fixtures in a loop, like `-lms` does.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { SMI_DYNAMIC_FIELDS, SMI_QUERY_APPS_FIELDS, SMI_STATIC_FIELDS, parseCsvWithHeader } from '../../../agent/telemetry/gpu/smi-csv.js';
import { SmiGpuSource, probeNvidiaSmi, resolveSmiPath } from '../../../agent/telemetry/gpu/smi-source.js';
import type { GpuLogger } from '../../../agent/telemetry/gpu/source.js';
import { fixture, readFixture, silentLogger, toNoUnitsLines } from './helpers.js';

const MiB = 2 ** 20;
let dir = '';
let fake = '';

const FAKE = `#!${process.execPath}
const fs = require('node:fs');
// Like a real long-lived child that outlives its reader: a closed pipe must not end it.
process.stdout.on('error', () => {});
if (process.env.FAKE_IGNORE_TERM) process.on('SIGTERM', () => {});
const args = process.argv.slice(2);
const mode = process.env.FAKE_MODE || 'ok';
const dir = ${JSON.stringify('__DIR__')};
if (args[0] === '-L') {
  if (mode === 'nodev') { console.log('No devices were found'); process.exit(6); }
  if (mode === 'fail') { console.error("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."); console.error('second line'); process.exit(9); }
  console.log('GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)');
  process.exit(0);
}
if (args[0] === '-q') { process.stdout.write(fs.readFileSync(process.env.FAKE_XML || '/nonexistent')); process.exit(0); }
const q = args.find((a) => a.startsWith('--query-'));
if (!args.includes('--format=csv,noheader,nounits')) { console.error('bad format'); process.exit(2); }
const ms = Number(args[args.indexOf('-lms') + 1]);
const which = !q.startsWith('--query-gpu=') ? 'apps' : q === '--query-gpu=' + fs.readFileSync(dir + '/static-fields', 'utf8') ? 'static' : 'gpu';
fs.appendFileSync(dir + '/pids-' + which, process.pid + '\\n');
if (mode === 'silent') { setInterval(() => {}, 1000); return; } // hangs without ever printing
if (which === 'gpu' && q !== '--query-gpu=' + fs.readFileSync(dir + '/gpu-fields', 'utf8')) { console.error('unexpected fields'); process.exit(2); }
let lines = fs.readFileSync(dir + '/' + which + '.txt', 'utf8');
let ticks = 0;
const exitAfter = Number(process.env.FAKE_EXIT_AFTER || 0);
const tick = () => {
  if (process.env.FAKE_REREAD) lines = fs.readFileSync(dir + '/' + which + '.txt', 'utf8'); // the GPU set may change
  process.stdout.write(lines);
  ticks++;
  if (which === 'gpu' && exitAfter && ticks >= exitAfter && !fs.existsSync(dir + '/restarted')) { fs.writeFileSync(dir + '/restarted', ''); process.exit(1); }
};
tick();
setInterval(tick, ms);
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetml-fake-smi-'));
  fake = join(dir, 'nvidia-smi');
  writeFileSync(fake, FAKE.replace('__DIR__', dir));
  chmodSync(fake, 0o755);
  writeFileSync(join(dir, 'gpu-fields'), SMI_DYNAMIC_FIELDS.join(','));
  writeFileSync(join(dir, 'static-fields'), SMI_STATIC_FIELDS.join(','));
  writeFileSync(join(dir, 'gpu.txt'), toNoUnitsLines(readFixture('query-gpu-h100-80gb-hbm3-590.48-load.csv'), SMI_DYNAMIC_FIELDS).join('\n') + '\n');
  writeFileSync(join(dir, 'static.txt'), toNoUnitsLines(readFixture('query-gpu-h100-80gb-hbm3-590.48-load.csv'), SMI_STATIC_FIELDS).join('\n') + '\n');
  const apps = parseCsvWithHeader(readFixture('query-compute-apps-h100-mig-590.48-load.csv'));
  writeFileSync(join(dir, 'apps.txt'), apps.map((r) => SMI_QUERY_APPS_FIELDS.map((f) => (r[f] ?? '').replace(/ MiB$/, '')).join(', ')).join('\n') + '\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.FAKE_MODE;
  delete process.env.FAKE_EXIT_AFTER;
  delete process.env.FAKE_IGNORE_TERM;
  delete process.env.FLEETML_NVIDIA_SMI;
  rmSync(join(dir, 'restarted'), { force: true });
  for (const f of ['pids-gpu', 'pids-apps', 'pids-static']) rmSync(join(dir, f), { force: true });
});

const pids = (which: string): number[] =>
  existsSync(join(dir, `pids-${which}`)) ? readFileSync(join(dir, `pids-${which}`), 'utf8').split('\n').filter(Boolean).map(Number) : [];
/** Running (signal 0 reaches it) and not a zombie: a killed orphan may wait unreaped under init. */
const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const opts = (logger: GpuLogger = silentLogger) => ({ choice: 'smi' as const, fixtures: [], intervalMs: 100, reprobeMs: 60_000, logger });

describe('probeNvidiaSmi', () => {
  it('ENOENT → absent', async () => {
    expect(await probeNvidiaSmi(join(dir, 'missing-nvidia-smi'))).toMatchObject({ status: 'absent', reason: expect.stringContaining('not found') });
  });
  it('"No devices were found" → absent', async () => {
    process.env.FAKE_MODE = 'nodev';
    expect(await probeNvidiaSmi(fake)).toEqual({ status: 'absent', reason: 'nvidia-smi: No devices were found' });
  });
  it('non-zero exit → unavailable with the first stderr line', async () => {
    process.env.FAKE_MODE = 'fail';
    const p = await probeNvidiaSmi(fake);
    expect(p.status).toBe('unavailable');
    expect(p.status !== 'ok' && p.reason).toBe("nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. (exit 9)");
  });
  it('counts GPUs from -L', async () => {
    expect(await probeNvidiaSmi(fake)).toEqual({ status: 'ok', gpuCount: 1 });
  });
  it('binary path: option, then FLEETML_NVIDIA_SMI, then PATH', () => {
    expect(resolveSmiPath('/x/smi')).toBe('/x/smi');
    process.env.FLEETML_NVIDIA_SMI = fake;
    expect(resolveSmiPath()).toBe(fake);
    delete process.env.FLEETML_NVIDIA_SMI;
    expect(resolveSmiPath()).toBe('nvidia-smi');
  });
});

describe('SmiGpuSource streaming from a fake nvidia-smi', () => {
  it('streams samples and processes, then kills both children on dispose', async () => {
    process.env.FLEETML_NVIDIA_SMI = fake; // the env path, no option
    const src = new SmiGpuSource(opts(), { appsIntervalMs: 200, inventory: false });
    await src.start();
    await sleep(300);
    const s = GpuState.parse(await src.refresh());
    expect(s).toMatchObject({ status: 'ok', source: 'smi', simulated: false, driver_version: '590.48.01' });
    expect(s.gpus).toHaveLength(1);
    expect(s.gpus[0]).toMatchObject({ name: 'NVIDIA H100 80GB HBM3', gpu_util_pct: 100, power_usage_w: 631.95, fb_used_bytes: 19818 * MiB });
    expect(s.gpus[0].processes.map((p) => p.pid)).toEqual([21180, 21181, 21198]);
    const running = [...pids('gpu'), ...pids('apps'), ...pids('static')];
    expect(running.every(alive)).toBe(true);
    await src.dispose();
    await sleep(300);
    expect(running.some(alive)).toBe(false);
  });

  it('restarts a child that exits and keeps reporting', async () => {
    process.env.FAKE_EXIT_AFTER = '2';
    const warns: string[] = [];
    const logger = { ...silentLogger, warn: (_o: object, m?: string) => void warns.push(m ?? '') };
    const src = new SmiGpuSource(opts(logger), { smiPath: fake, appsIntervalMs: 200, inventory: false });
    await src.start();
    await sleep(1800); // first child exits after 2 ticks; restart after 1 s backoff
    expect(warns.some((m) => m.includes('restarting'))).toBe(true);
    expect(pids('gpu').length).toBe(2);
    expect((await src.refresh()).status).toBe('ok');
    await src.dispose();
  });

  it('reads cuda_version and MIG layout once from -q -x', async () => {
    process.env.FAKE_XML = fixture('a100-sxm4-80gb-mig-535.54-q-x.xml');
    const src = new SmiGpuSource(opts(), { smiPath: fake, appsIntervalMs: 200 });
    await src.start();
    await sleep(500);
    const s = await src.refresh();
    expect(s.cuda_version).toBe('12.2');
    await src.dispose();
    delete process.env.FAKE_XML;
  });

  it('static fields come from their own slow child; a new GPU set in the dynamic rows restarts it at once', async () => {
    process.env.FAKE_REREAD = '1';
    const gpuTxt = readFileSync(join(dir, 'gpu.txt'), 'utf8');
    const staticTxt = readFileSync(join(dir, 'static.txt'), 'utf8');
    const uuid = /GPU-[0-9a-f-]+/.exec(gpuTxt)![0];
    try {
      // static rows every 60 s: within this test the static child prints only when (re)started
      const src = new SmiGpuSource({ ...opts(), staticRefreshMs: 60_000 }, { smiPath: fake, appsIntervalMs: 200, inventory: false });
      await src.start();
      const s0 = GpuState.parse(await src.refresh());
      expect(s0.gpus[0]).toMatchObject({ uuid, name: 'NVIDIA H100 80GB HBM3', pcie_link_gen: expect.any(Number) });
      expect(src.statics.reads).toBe(1);
      const swapped = 'GPU-11111111-2222-3333-4444-555555555555';
      writeFileSync(join(dir, 'static.txt'), staticTxt.replaceAll(uuid, swapped).replace('NVIDIA H100 80GB HBM3', 'NVIDIA H100 NVL'));
      writeFileSync(join(dir, 'gpu.txt'), gpuTxt.replaceAll(uuid, swapped));
      let s = s0;
      for (const deadline = Date.now() + 10_000; s.gpus[0]?.name !== 'NVIDIA H100 NVL' && Date.now() < deadline;) { await sleep(50); s = GpuState.parse(await src.refresh()); }
      expect(s.gpus[0]).toMatchObject({ uuid: swapped, name: 'NVIDIA H100 NVL' });
      expect(pids('static')).toHaveLength(2); // restarted once for the new set, not once per tick
      expect(src.statics.reads).toBe(2);
      await src.dispose();
    } finally {
      writeFileSync(join(dir, 'gpu.txt'), gpuTxt);
      writeFileSync(join(dir, 'static.txt'), staticTxt);
      delete process.env.FAKE_REREAD;
    }
  });

  it('missing binary → absent with reason, and no children', async () => {
    const src = new SmiGpuSource(opts(), { smiPath: join(dir, 'nope') });
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s.status).toBe('absent');
    expect(s.reason).toContain('not found');
    await src.dispose();
  });
});

describe('SmiGpuSource child lifecycle (no leaked nvidia-smi processes)', () => {
  const HERE = dirname(fileURLToPath(import.meta.url));
  const ROOT = join(HERE, '../../..');
  const allPids = (): number[] => [...pids('gpu'), ...pids('apps'), ...pids('static')];
  const sources: SmiGpuSource[] = [];
  const track = (src: SmiGpuSource): SmiGpuSource => (sources.push(src), src);
  // Dispose and kill whatever a failing test leaves behind, so one regression does not poison the others.
  afterEach(async () => {
    for (const src of sources.splice(0)) await src.dispose();
    for (const pid of allPids()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  });

  it('a child killed on the first-sample timeout is not restarted; dispose leaves nothing running', async () => {
    process.env.FAKE_MODE = 'silent'; // the query children start but never print
    const src = track(new SmiGpuSource({ ...opts(), reprobeMs: 200 }, { smiPath: fake, appsIntervalMs: 200, inventory: false, firstSampleTimeoutMs: 300 }));
    const exitHooks = process.listenerCount('exit');
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s).toMatchObject({ status: 'unavailable', reason: expect.stringContaining('no sample from nvidia-smi within 300 ms') });
    // Several timeout → kill → re-probe cycles; at no point two live children of one kind.
    let maxLive = 0;
    for (let t = 0; t < 25; t++) {
      await sleep(100);
      maxLive = Math.max(maxLive, pids('gpu').filter(alive).length, pids('apps').filter(alive).length, pids('static').filter(alive).length);
    }
    expect(maxLive).toBe(1);
    // One spawn per kind per cycle (≥ 500 ms each: 300 ms timeout + 200 ms re-probe); no restarts.
    const spawned = pids('gpu').length;
    expect(spawned).toBeGreaterThanOrEqual(2);
    expect(spawned).toBeLessThanOrEqual(6);
    expect(pids('apps').length).toBe(spawned);
    expect(pids('static').length).toBe(spawned);
    expect(process.listenerCount('exit')).toBe(exitHooks + 1);
    await src.dispose();
    expect(process.listenerCount('exit')).toBe(exitHooks);
    await sleep(400);
    expect(allPids().filter(alive)).toEqual([]);
    expect(allPids().length).toBe(3 * spawned); // nothing spawned after dispose
  });

  it('children killed on the first-sample timeout stay dead until the re-probe (no restart-on-close)', async () => {
    process.env.FAKE_MODE = 'silent';
    const src = track(new SmiGpuSource(opts(), { smiPath: fake, appsIntervalMs: 200, inventory: false, firstSampleTimeoutMs: 300 }));
    await src.start(); // re-probe only after 60 s
    await sleep(2500); // longer than the 1 s (and 2 s) restart backoff of a child that exited by itself
    expect(pids('gpu')).toHaveLength(1);
    expect(pids('apps')).toHaveLength(1);
    expect(allPids().filter(alive)).toEqual([]);
  });

  it('a child that ignores SIGTERM gets SIGKILL after killGraceMs', async () => {
    process.env.FAKE_MODE = 'silent';
    process.env.FAKE_IGNORE_TERM = '1';
    const src = track(new SmiGpuSource(opts(), { smiPath: fake, inventory: false, firstSampleTimeoutMs: 200, killGraceMs: 300 }));
    await src.start();
    await src.dispose();
    await sleep(150);
    expect(allPids().filter(alive)).toHaveLength(3); // still running: SIGTERM ignored
    await sleep(600);
    expect(allPids().filter(alive)).toEqual([]);
  });

  it('process.exit() without dispose still takes the children down (exit hook)', async () => {
    const child = join(HERE, 'smi-exit-child.ts');
    const viteNode = join(ROOT, 'node_modules/vite-node/vite-node.mjs');
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const p = execFile(process.execPath, [viteNode, child, fake], { cwd: ROOT, timeout: 30_000 }, (_err, stdout, stderr) =>
        done({ code: p.exitCode, stdout, stderr }));
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(3);
    expect(JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}')).toMatchObject({ status: 'ok', gpus: 1, processes: 3 });
    expect(pids('gpu')).toHaveLength(1);
    expect(pids('apps')).toHaveLength(1);
    await sleep(400);
    expect(allPids().filter(alive)).toEqual([]);
  });
});

describe('SmiGpuSource process names', () => {
  it('fills a process_name nvidia-smi left empty from the name lookup, keeps the others', async () => {
    const saved = readFileSync(join(dir, 'apps.txt'), 'utf8');
    const lines = saved.split('\n').filter(Boolean);
    // First process printed without a name (nvidia-smi could not resolve it).
    writeFileSync(join(dir, 'apps.txt'), [lines[0].replace(/, [^,]*$/, ', '), ...lines.slice(1)].join('\n') + '\n');
    const asked: number[] = [];
    const procName = async (pid: number) => (asked.push(pid), `/proc-name/${pid}`);
    try {
      const src = new SmiGpuSource(opts(), { smiPath: fake, appsIntervalMs: 200, inventory: false, procName });
      await src.start();
      await sleep(300);
      const s = GpuState.parse(await src.refresh());
      await src.refresh();
      await src.dispose();
      const procs = s.gpus[0].processes;
      expect(procs[0]).toMatchObject({ pid: 21180, process_name: '/proc-name/21180' });
      expect(procs.slice(1).every((p) => p.process_name !== null && !p.process_name.startsWith('/proc-name/'))).toBe(true);
      expect(asked).toEqual([21180]); // cached: the second refresh did not read it again
    } finally {
      writeFileSync(join(dir, 'apps.txt'), saved);
    }
  });
});
