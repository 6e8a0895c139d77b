import os from 'node:os';
import si from 'systeminformation';
import type { HostInfo, HostSample } from '../../shared/protocol/index.js';
import { cpuUtil, parseDiskStats, parseMemInfo, parseNetDev, parseProcStat, ProcFile, RateMeter, type CpuTimes } from './proc-counters.js';

const DISK_REFRESH_MS = 30_000;
const PSEUDO_FS = /^(tmpfs|devtmpfs|overlay|squashfs|proc|sysfs|cgroup2?|nsfs|ramfs|autofs|efivarfs|shm)$/;

/**
 * Host telemetry. On Linux every per-tick figure comes from /proc files kept open (one pread each: stat, meminfo,
 * net/dev, diskstats, loadavg, uptime); systeminformation gives the static facts and the 30 s filesystem list, and
 * everything on other platforms. (si.mem() alone read /proc/meminfo seven times per call: os.totalmem() and
 * os.freemem() each read it synchronously, three times each, plus its own read.) dispose() closes the files.
 */
export class HostSource {
  private readonly files = {
    stat: new ProcFile('/proc/stat'), meminfo: new ProcFile('/proc/meminfo'), netdev: new ProcFile('/proc/net/dev'),
    diskstats: new ProcFile('/proc/diskstats'), loadavg: new ProcFile('/proc/loadavg'), uptime: new ProcFile('/proc/uptime'),
  };
  private rates = new RateMeter<string>();
  private disks: HostSample['disks'] = [];
  private disksAt = 0;
  private disksPending: Promise<void> | null = null;
  private useProc = process.platform === 'linux';
  private lastCpu: CpuTimes | null = null;

  /** Static host facts (called at start and rarely after). */
  async info(): Promise<HostInfo> {
    const [cpu, osInfo] = await Promise.all([si.cpu().catch(() => null), si.osInfo().catch(() => null)]);
    return {
      hostname: os.hostname(),
      os: { platform: os.platform(), distro: osInfo?.distro || null, release: osInfo?.release || null, kernel: osInfo?.kernel || os.release() || null, arch: os.arch() },
      cpu: {
        model: cpu ? `${cpu.manufacturer} ${cpu.brand}`.trim() || null : os.cpus()[0]?.model ?? null,
        cores: cpu?.cores || os.cpus().length,
        physical_cores: cpu?.physicalCores || null,
      },
      memory_total_bytes: os.totalmem(),
    };
  }

  /** One dynamic sample. Never throws: a failed part is null. */
  async sample(now = Date.now()): Promise<HostSample> {
    this.refreshDisks(now);
    const [load, mem, net, disk] = await Promise.all([this.cpuLoad(), this.memory(), this.network(now), this.diskIo(now)]);
    const [l1, l5, l15] = this.loadavg();
    return {
      cpu: {
        util_pct: load ? load.util : null,
        per_core_pct: load ? load.cores : [],
        load1: l1, load5: l5, load15: l15,
      },
      memory: {
        total_bytes: mem?.total ?? null,
        // "used" as free(1) shows it: total minus available (page cache is not used memory)
        used_bytes: mem ? mem.total - mem.available : null,
        available_bytes: mem?.available ?? null,
        swap_total_bytes: mem?.swaptotal ?? null,
        swap_used_bytes: mem?.swapused ?? null,
      },
      disks: this.disks,
      disk_io: disk,
      network: net,
      uptime_s: this.uptime(),
    };
  }

  /** Close the /proc files (a later sample reopens them). */
  dispose(): void {
    for (const f of Object.values(this.files)) f.close();
  }

  private async memory(): Promise<{ total: number; available: number; swaptotal: number; swapused: number } | null> {
    const text = this.useProc ? this.files.meminfo.read() : null;
    const m = text === null ? null : parseMemInfo(text);
    if (!m || m.total === null || m.available === null) {
      const x = await si.mem().catch(() => null);
      return x && { total: x.total, available: x.available, swaptotal: x.swaptotal, swapused: x.swapused };
    }
    return { total: m.total, available: m.available, swaptotal: m.swapTotal ?? 0, swapused: (m.swapTotal ?? 0) - (m.swapFree ?? 0) };
  }

  private loadavg(): number[] {
    const f = this.useProc ? this.files.loadavg.read()?.split(' ') : undefined;
    const v = f ? f.slice(0, 3).map(Number) : [];
    return v.length === 3 && v.every(Number.isFinite) ? v : os.loadavg();
  }

  private uptime(): number {
    const v = this.useProc ? Number(this.files.uptime.read()?.split(' ')[0]) : NaN;
    return Number.isFinite(v) ? v : os.uptime();
  }

  private refreshDisks(now: number) {
    // df is spawned by systeminformation: only every 30 s, off the tick, never overlapping.
    if (this.disksPending || now - this.disksAt < DISK_REFRESH_MS) return;
    this.disksAt = now;
    this.disksPending = si.fsSize().then((list) => {
      this.disks = list.filter((d) => !PSEUDO_FS.test(d.type) && d.size > 0)
        .map((d) => ({ mount: d.mount, fs: d.fs, type: d.type || null, size_bytes: d.size, used_bytes: d.used }));
    }).catch(() => { /* keep the previous list */ }).finally(() => { this.disksPending = null; });
  }

  /** Resolves once the first filesystem listing is in (tests and start-up). */
  async ready(): Promise<void> { this.refreshDisks(Date.now()); await this.disksPending; }

  /** CPU utilisation since the previous sample. On Linux from /proc/stat in-process: systeminformation's
   * currentLoad() runs `cat /proc/stat` through a shell on every call (measured: ~90% of a sample's cost). */
  private async cpuLoad(): Promise<{ util: number | null; cores: number[] } | null> {
    if (!this.useProc) {
      const l = await si.currentLoad().catch(() => null);
      return l ? { util: round(l.currentLoad), cores: l.cpus.map((c) => round(c.load)) } : null;
    }
    const text = this.files.stat.read();
    if (text === null) return null;
    const cur = parseProcStat(text);
    const prev = this.lastCpu;
    this.lastCpu = cur;
    const util = cpuUtil(prev?.all, cur.all);
    return { util: util === null ? null : round(util), cores: cur.cores.map((c, i) => round(cpuUtil(prev?.cores[i], c) ?? 0)) };
  }

  private async network(now: number): Promise<HostSample['network']> {
    if (!this.useProc) {
      const stats = await si.networkStats('*').catch(() => []);
      return stats.map((s) => ({ iface: s.iface, rx_bytes_per_s: s.rx_sec ?? null, tx_bytes_per_s: s.tx_sec ?? null }));
    }
    const text = this.files.netdev.read();
    if (text === null) return [];
    return [...parseNetDev(text)].map(([iface, c]) => ({
      iface,
      rx_bytes_per_s: this.rates.rate(`rx:${iface}`, c.rx, now),
      tx_bytes_per_s: this.rates.rate(`tx:${iface}`, c.tx, now),
    }));
  }

  private async diskIo(now: number): Promise<HostSample['disk_io']> {
    if (!this.useProc) {
      const io = await si.disksIO().catch(() => null);
      return { read_bytes_per_s: io?.rIO_sec ?? null, write_bytes_per_s: io?.wIO_sec ?? null };
    }
    const text = this.files.diskstats.read();
    if (text === null) return { read_bytes_per_s: null, write_bytes_per_s: null };
    const c = parseDiskStats(text);
    return { read_bytes_per_s: this.rates.rate('disk:r', c.read, now), write_bytes_per_s: this.rates.rate('disk:w', c.write, now) };
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
