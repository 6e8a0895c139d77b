import type { NodeInfoResult } from '../../shared/protocol/node.js';
import type { HostSample } from '../../shared/protocol/telemetry.js';
import { bar, block, ratioPct } from './bar.js';
import { DASH, fmtLoad, fmtRate, fmtUptime, fmtUsedTotal, truncate } from './format.js';

/** Identity line: hostname, OS, kernel, arch, uptime, agent version. */
export function hostIdentityLine(info: NodeInfoResult | null, host: HostSample | null): string {
  const os = info?.host.os;
  const distro = [os?.distro, os?.release].filter(Boolean).join(' ') || os?.platform || DASH;
  return [
    `host ${info?.host.hostname ?? DASH}`,
    distro,
    `kernel ${os?.kernel ?? DASH}`,
    os?.arch ?? DASH,
    `up ${fmtUptime(host?.uptime_s)}`,
    `agent ${info?.agent_version ?? DASH}`,
  ].join(' · ');
}

/** Per-core utilisation as one block per core ("▁▂▇█…"), cut to `width`. */
export function perCoreBlocks(perCore: readonly number[], width: number): string {
  const s = perCore.map((v) => block(v)).join('');
  return truncate(s, width);
}

/** The host summary of a node as lines no wider than `width`: identity, CPU, memory/network, disks. */
export function hostSummaryLines(info: NodeInfoResult | null, host: HostSample | null, width: number): string[] {
  const id = hostIdentityLine(info, host);
  if (!host) return [truncate(id, width), 'no telemetry yet'];
  const cpuHead = `CPU ${bar(host.cpu.util_pct, 10)}  load ${fmtLoad(host.cpu.load1, host.cpu.load5, host.cpu.load15)}  cores `;
  const cpu = cpuHead + perCoreBlocks(host.cpu.per_core_pct, Math.max(0, width - cpuHead.length));
  const m = host.memory;
  const rx = host.network.some((n) => n.rx_bytes_per_s !== null) ? host.network.reduce((a, n) => a + (n.rx_bytes_per_s ?? 0), 0) : null;
  const tx = host.network.some((n) => n.tx_bytes_per_s !== null) ? host.network.reduce((a, n) => a + (n.tx_bytes_per_s ?? 0), 0) : null;
  const mem = [
    `MEM ${bar(ratioPct(m.used_bytes, m.total_bytes), 10, false)} ${fmtUsedTotal(m.used_bytes, m.total_bytes)}`,
    `swap ${fmtUsedTotal(m.swap_used_bytes, m.swap_total_bytes)}`,
    `net ↓${fmtRate(rx)} ↑${fmtRate(tx)}`,
    `io r ${fmtRate(host.disk_io.read_bytes_per_s)} w ${fmtRate(host.disk_io.write_bytes_per_s)}`,
  ].join('  ');
  const disks = host.disks.length
    ? 'DISK ' + host.disks.map((d) => `${d.mount} ${fmtUsedTotal(d.used_bytes, d.size_bytes)}`).join('  ')
    : `DISK ${DASH}`;
  return [id, cpu, mem, disks].map((l) => truncate(l, width));
}
