import { readFile } from 'node:fs/promises';

// Linux counters read in-process from /proc. systeminformation's networkStats()/disksIO() spawn a
// shell pipeline per call on Linux; at 1 Hz that is the process-per-sample cost we avoid everywhere.

/** Cumulative rx/tx bytes per interface from /proc/net/dev text (loopback excluded). */
export function parseNetDev(text: string): Map<string, { rx: number; tx: number }> {
  const out = new Map<string, { rx: number; tx: number }>();
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    if (f.length >= 9) out.set(m[1], { rx: f[0], tx: f[8] });
  }
  return out;
}

/** Cumulative read/write bytes over whole disks from /proc/diskstats text (partitions and virtual devices excluded). */
export function parseDiskStats(text: string): { read: number; write: number } {
  let read = 0, write = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const dev = f[2];
    // whole disks only: sdX, vdX, xvdX, hdX, nvmeXnY, mmcblkX; skip partitions, loop, ram, dm, zram
    if (!/^(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/.test(dev)) continue;
    read += Number(f[5]) * 512;
    write += Number(f[9]) * 512;
  }
  return { read, write };
}

/** Turns cumulative counters into per-second rates between two reads. */
export class RateMeter<K extends string> {
  private last = new Map<K, { v: number; t: number }>();
  /** Rate since the previous call for key, or null on the first call or a counter reset. */
  rate(key: K, value: number, nowMs: number): number | null {
    const prev = this.last.get(key);
    this.last.set(key, { v: value, t: nowMs });
    if (!prev || nowMs <= prev.t || value < prev.v) return null;
    return ((value - prev.v) * 1000) / (nowMs - prev.t);
  }
}

/** Read a /proc file, or null where it does not exist (non-Linux). */
export async function readProc(path: string): Promise<string | null> {
  try { return await readFile(path, 'utf8'); } catch { return null; }
}

/** Busy and total jiffies of the whole CPU and of each core, from /proc/stat text. */
export interface CpuTimes { all: { busy: number; total: number }; cores: Array<{ busy: number; total: number }> }

/** Parse the cpu lines of /proc/stat (user nice system idle iowait irq softirq steal; guest is already in user). */
export function parseProcStat(text: string): CpuTimes {
  const out: CpuTimes = { all: { busy: 0, total: 0 }, cores: [] };
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const idleAll = idle + iowait;
    const total = user + nice + system + idleAll + irq + softirq + steal;
    const t = { busy: total - idleAll, total };
    if (m[1] === '') out.all = t; else out.cores[Number(m[1])] = t;
  }
  return out;
}

/** Utilisation (%) between two /proc/stat readings, or null when no time passed. */
export function cpuUtil(prev: { busy: number; total: number } | undefined, cur: { busy: number; total: number }): number | null {
  if (!prev) return null;
  const dt = cur.total - prev.total;
  if (dt <= 0) return null;
  return Math.max(0, Math.min(100, ((cur.busy - prev.busy) * 100) / dt));
}
