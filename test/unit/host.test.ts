// Host telemetry from /proc files kept open: one pread per figure per tick, the same figures as before.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostSample } from '../../shared/protocol/index.js';
import { HostSource } from '../../agent/telemetry/host.js';
import { parseMemInfo, ProcFile } from '../../agent/telemetry/proc-counters.js';

const linux = process.platform === 'linux';
/** Descriptors of this process open on /proc files or under the test's temporary dirs (not sockets, pipes, the runner's files). */
const openFds = () => readdirSync('/proc/self/fd').filter((fd) => {
  try { const t = readlinkSync(`/proc/self/fd/${fd}`); return t.startsWith('/proc/') || t.includes('fleetml-procfile-'); } catch { return false; }
}).length;

describe('ProcFile', () => {
  it('re-reads the current content from offset 0 on every read, through one descriptor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-procfile-'));
    try {
      const path = join(dir, 'f');
      writeFileSync(path, 'one\n');
      const f = new ProcFile(path);
      const before = openFds();
      expect(f.read()).toBe('one\n');
      writeFileSync(path, 'two, longer\n'); // same inode: the kept descriptor sees the new content
      expect(f.read()).toBe('two, longer\n');
      expect(openFds()).toBe(before + 1);
      f.close();
      expect(openFds()).toBe(before);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
  it('reads a file larger than its first buffer whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-procfile-'));
    try {
      const text = 'x'.repeat(50_000) + '\nend\n';
      writeFileSync(join(dir, 'big'), text);
      const f = new ProcFile(join(dir, 'big'));
      expect(f.read()).toBe(text);
      f.close();
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
  it('a missing file reads as null and opens nothing', () => {
    const before = openFds();
    expect(new ProcFile('/nonexistent/fleetml').read()).toBeNull();
    expect(openFds()).toBe(before);
  });
  it.runIf(linux)('/proc/stat read twice through the kept descriptor gives fresh counters', async () => {
    const f = new ProcFile('/proc/stat');
    const a = f.read()!;
    await new Promise((r) => setTimeout(r, 30));
    const b = f.read()!;
    expect(a.startsWith('cpu ')).toBe(true);
    expect(b.startsWith('cpu ')).toBe(true);
    expect(b).not.toBe(a); // ctxt, intr and the jiffies move
    f.close();
  });
});

describe('parseMemInfo', () => {
  it('reads total, available and swap in bytes', () => {
    expect(parseMemInfo('MemTotal:       16384 kB\nMemFree:  1024 kB\nMemAvailable:    8192 kB\nSwapTotal:  2048 kB\nSwapFree:  1024 kB\n'))
      .toEqual({ total: 16384 * 1024, available: 8192 * 1024, swapTotal: 2048 * 1024, swapFree: 1024 * 1024 });
  });
  it('old kernels without MemAvailable: free + buffers + cached', () => {
    expect(parseMemInfo('MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n').available).toBe(35 * 1024);
  });
});

describe.runIf(linux)('HostSource on this machine', () => {
  it('samples the same figures /proc shows, keeps its files open between samples and closes them on dispose', async () => {
    const before = openFds();
    const host = new HostSource();
    const s1 = HostSample.parse(await host.sample(Date.now()));
    const opened = openFds();
    const s2 = HostSample.parse(await host.sample(Date.now() + 1000));
    expect(openFds()).toBe(opened); // no descriptor per sample
    expect(opened - before).toBe(6); // stat, meminfo, net/dev, diskstats, loadavg, uptime
    const total = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    expect(s2.memory.total_bytes).toBe(total);
    expect(s2.memory.used_bytes).toBeGreaterThan(0);
    expect(s2.memory.used_bytes!).toBeLessThanOrEqual(total);
    expect(s1.cpu.util_pct).toBeNull(); // no previous reading
    expect(s2.cpu.per_core_pct.length).toBeGreaterThan(0);
    expect(s2.cpu.load1).toBeGreaterThanOrEqual(0);
    expect(s2.uptime_s).toBeGreaterThan(0);
    host.dispose();
    expect(openFds()).toBe(before);
  });
});
