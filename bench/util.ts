// Shared helpers of the benchmarks: statistics, plain-text tables, machine facts and /proc readers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';

/** Percentile (nearest rank) of an unsorted list; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank];
}

/** Arithmetic mean; NaN when empty. */
export function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** p50 / p95 / mean / max of a list. */
export function summary(values: number[]): { n: number; p50: number; p95: number; mean: number; max: number } {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), mean: mean(values), max: values.length ? Math.max(...values) : Number.NaN };
}

/** Fixed decimals, "-" for a missing value. */
export function fmt(v: number | null | undefined, decimals = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(decimals);
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Resolve after ms. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Kernel clock ticks per second (getconf CLK_TCK), 100 when getconf is missing. */
export function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch { return 100; }
}

/** Soft limit of open files of this process (ulimit -n), or null. */
export function openFileLimit(): string | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return line ? line.replace('Max open files', '').trim().split(/\s+/)[0] ?? null : null;
  } catch { return null; }
}

/** Facts about the machine, printed at the top and written into the doc. */
export function machine(): { cpu: string; cores: number; memGiB: number; node: string; kernel: string; nofile: string | null } {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memGiB: os.totalmem() / 2 ** 30,
    node: process.version, kernel: `${os.type()} ${os.release()} ${os.arch()}`, nofile: openFileLimit(),
  };
}

/** CPU time (user + system, ms) of a process from /proc/<pid>/stat, or null when it is gone. */
export function procCpuMs(pid: number, ticks: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces: split after its closing parenthesis
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): utime is field 14, stime field 15
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return ((utime + stime) * 1000) / ticks;
  } catch { return null; }
}

/** CPU time (ms) of the reaped children of a process (cutime + cstime of /proc/<pid>/stat), or null. */
export function procChildrenCpuMs(pid: number | 'self', ticks: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[13]) + Number(rest[14])) * 1000) / ticks;
  } catch { return null; }
}

/** Resident set size of a process (VmRSS, bytes) from /proc/<pid>/status, or null. */
export function procRssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch { return null; }
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd), or null. */
export function procFdCount(pid: number): number | null {
  try {
    return execFileSync('ls', [`/proc/${pid}/fd`], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  } catch { return null; }
}

/** CPU share (% of one core) and RSS of a process over a window, read from /proc. */
export interface ProcUsage {
  cpuPct: number; cpuMs: number; windowMs: number; rssAvgMiB: number; rssMaxMiB: number;
  /** CPU of the children it spawned and reaped in the window (sh/cat/grep of systeminformation, df), % of one core. */
  childCpuPct: number;
}

/** Watch a process for windowMs: CPU time at both ends, RSS once a second. */
export async function measureProc(pid: number, windowMs: number, ticks: number): Promise<ProcUsage> {
  const c0 = procCpuMs(pid, ticks);
  const k0 = procChildrenCpuMs(pid, ticks);
  const t0 = performance.now();
  const rss: number[] = [];
  while (performance.now() - t0 < windowMs) {
    const r = procRssBytes(pid);
    if (r !== null) rss.push(r);
    await sleep(Math.min(1000, windowMs - (performance.now() - t0)));
  }
  const c1 = procCpuMs(pid, ticks);
  const k1 = procChildrenCpuMs(pid, ticks);
  const elapsed = performance.now() - t0;
  if (c0 === null || c1 === null || k0 === null || k1 === null) throw new Error(`process ${pid} exited during the measurement`);
  return { cpuPct: ((c1 - c0) / elapsed) * 100, cpuMs: c1 - c0, windowMs: elapsed, rssAvgMiB: mean(rss) / 2 ** 20, rssMaxMiB: Math.max(...rss) / 2 ** 20,
    childCpuPct: ((k1 - k0) / elapsed) * 100 };
}

/** A free TCP port on loopback (bind to 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Silent logger with the GpuLogger / pino-child shape the sources expect. */
export const quietLogger = { info() {}, warn() {}, error() {}, debug() {} };
