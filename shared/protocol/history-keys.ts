import type { NodeStats } from './telemetry.js';

/** GPU fields kept in history (per GPU, key "gpu.<uuid>.<field>"). */
export const GPU_HISTORY_FIELDS = ['gpu_util_pct', 'mem_copy_util_pct', 'fb_used_bytes', 'gpu_temp_c', 'power_usage_w', 'sm_clock_mhz'] as const;

/** Key of a GPU metric in history. */
export function gpuMetricKey(uuid: string, field: (typeof GPU_HISTORY_FIELDS)[number]): string {
  return `gpu.${uuid}.${field}`;
}

/** Flatten a sample into the metric keys kept in history. Pure; used by the agent's ring buffers and the client's local series. */
export function flattenStats(s: NodeStats): Record<string, number | null> {
  const net = s.host.network;
  const sum = (k: 'rx_bytes_per_s' | 'tx_bytes_per_s') =>
    net.length === 0 || net.every((n) => n[k] === null) ? null : net.reduce((a, n) => a + (n[k] ?? 0), 0);
  const out: Record<string, number | null> = {
    'host.cpu_util_pct': s.host.cpu.util_pct,
    'host.mem_used_bytes': s.host.memory.used_bytes,
    'host.load1': s.host.cpu.load1,
    'host.net_rx_bytes_per_s': sum('rx_bytes_per_s'),
    'host.net_tx_bytes_per_s': sum('tx_bytes_per_s'),
    'host.disk_read_bytes_per_s': s.host.disk_io.read_bytes_per_s,
    'host.disk_write_bytes_per_s': s.host.disk_io.write_bytes_per_s,
  };
  for (const g of s.gpu.gpus) for (const f of GPU_HISTORY_FIELDS) out[gpuMetricKey(g.uuid, f)] = g[f];
  return out;
}
