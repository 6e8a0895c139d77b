import type { GpuSample, GpuState } from '../../shared/protocol/telemetry.js';
import { gpuMetricKey } from '../../shared/protocol/history-keys.js';
import { bar, ratioPct } from './bar.js';
import { SIM_MARK } from './cluster-row.js';
import { DASH, fmtClocks, fmtPct, fmtPower, fmtTemp, fmtUsedTotal } from './format.js';
import { sparkline } from './sparkline.js';
import type { Column } from './table.js';

/** Columns of the per-GPU table in the node view; clocks and fan are dropped first on narrow screens. */
export const GPU_COLUMNS: Column[] = [
  { header: '#', width: 2, align: 'right', priority: 9 },
  { header: 'NAME', width: 14, priority: 6 },
  { header: 'UTIL', width: 15, priority: 8 },
  { header: 'MEMORY', width: 19, priority: 7 },
  { header: 'TEMP', width: 5, align: 'right', priority: 5 },
  { header: 'POWER', width: 9, align: 'right', priority: 4 },
  { header: 'CLOCKS', width: 12, align: 'right', priority: 1 },
  { header: 'FAN', width: 4, align: 'right', priority: 2 },
  { header: 'UTIL HISTORY', width: 8, flex: true, priority: 3 },
];

/** A GPU product name without the vendor prefix ("NVIDIA RTX A5000" → "RTX A5000"). */
export function shortGpuName(name: string | null): string {
  if (!name) return DASH;
  return name.replace(/^NVIDIA\s+/i, '').replace(/^GeForce\s+/i, '');
}

/** Options of a GPU row. */
export interface GpuRowOptions {
  /** node history (FleetNode.history); the util sparkline reads "gpu.<uuid>.gpu_util_pct". */
  history?: Record<string, (number | null)[]>;
  /** Width of the sparkline cell. Default 8. */
  sparkWidth?: number;
  /** Prefix the name with the SIM marker. */
  simulated?: boolean;
}

/** Cells of one GPU in the node view (aligned with GPU_COLUMNS). */
export function gpuRow(g: GpuSample, opts: GpuRowOptions = {}): string[] {
  const sim = opts.simulated ? `${SIM_MARK} ` : '';
  const mig = g.mig_mode === 'enabled' ? `MIG×${g.mig_instances.length} ` : '';
  const name = `${sim}${mig}${shortGpuName(g.name)}`;
  if (g.status === 'error') {
    return [String(g.index), name, `ERROR: ${g.error ?? 'unknown'}`, '', DASH, DASH, DASH, DASH, ''];
  }
  const memPct = ratioPct(g.fb_used_bytes, g.fb_total_bytes);
  const series = opts.history?.[gpuMetricKey(g.uuid, 'gpu_util_pct')] ?? [];
  return [
    String(g.index),
    name,
    bar(g.gpu_util_pct, 8),
    `${bar(memPct, 6, false)} ${fmtUsedTotal(g.fb_used_bytes, g.fb_total_bytes)}`,
    fmtTemp(g.gpu_temp_c),
    fmtPower(g.power_usage_w, g.power_limit_w),
    fmtClocks(g.sm_clock_mhz, g.mem_clock_mhz),
    fmtPct(g.fan_speed_pct),
    sparkline(series, opts.sparkWidth ?? 8, { min: 0, max: 100 }),
  ];
}

/** Title line of the GPU section: count, driver, CUDA, source, and SIMULATED when replayed from fixtures. */
export function gpuSectionTitle(gpu: GpuState): string {
  if (gpu.status === 'absent') return `No GPU: ${gpu.reason ?? 'none found'}`;
  if (gpu.status === 'unavailable') return `GPU unavailable: ${gpu.reason ?? 'unknown'}`;
  const parts = [`GPUs ${gpu.gpus.length}`, `driver ${gpu.driver_version ?? DASH}`, `CUDA ${gpu.cuda_version ?? DASH}`, `source ${gpu.source}`];
  if (gpu.simulated) parts.push('SIMULATED');
  return parts.join(' · ');
}
