import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { GpuSample, GpuState } from '../../shared/protocol/telemetry.js';
import { block } from './bar.js';
import { DASH, fmtPct, fmtPower, fmtTemp, fmtUsedTotal, known } from './format.js';
import type { Column } from './table.js';
import { ratioPct } from './bar.js';

/** Columns of the cluster view; the GPU column flexes, power and temperature go first on narrow screens. */
export const CLUSTER_COLUMNS: Column[] = [
  { header: 'NODE', width: 12, priority: 9 },
  { header: 'STATE', width: 14, priority: 8 },
  { header: 'CPU', width: 4, align: 'right', priority: 5 },
  { header: 'MEM', width: 11, align: 'right', priority: 4 },
  { header: 'GPUS', width: 14, flex: true, priority: 7 },
  { header: 'TEMP', width: 5, align: 'right', priority: 2 },
  { header: 'POWER', width: 10, align: 'right', priority: 1 },
];

/** Marker shown wherever simulated GPUs appear. */
export const SIM_MARK = 'SIM';

/** The reachability cell: "up", "UNREACHABLE retry 4s", "UNAUTHORIZED", … */
export function connLabel(node: Pick<FleetNode, 'conn' | 'retryInMs'>): string {
  switch (node.conn) {
    case 'up':
      return 'up';
    case 'connecting':
      return 'connecting';
    case 'unreachable':
      return known(node.retryInMs) ? `UNREACHABLE ${Math.ceil(node.retryInMs / 1000)}s` : 'UNREACHABLE';
    case 'unauthorized':
      return 'UNAUTHORIZED';
    case 'incompatible':
      return 'INCOMPATIBLE';
  }
}

/** One GPU as a token: "0▆48/▃25" (index, util block+%, memory block+%) or "▆▃" when compact; "✗" for a failed GPU. */
export function gpuToken(g: GpuSample, compact: boolean): string {
  if (g.status === 'error') return compact ? '✗' : `${g.index}✗ERR`;
  const mem = ratioPct(g.fb_used_bytes, g.fb_total_bytes);
  if (compact) return block(g.gpu_util_pct) + block(mem);
  const p = (v: number | null) => (known(v) ? String(Math.round(v)) : DASH);
  return `${g.index}${block(g.gpu_util_pct)}${p(g.gpu_util_pct)}/${block(mem)}${p(mem)}`;
}

/** The GPU cell of a node: absent/unavailable reason, or one token per GPU in the densest form that fits `width`. */
export function gpuSummary(gpu: GpuState, width: number): string {
  const sim = gpu.simulated ? `${SIM_MARK} ` : '';
  if (gpu.status === 'absent') return `${sim}No GPU: ${gpu.reason ?? 'none found'}`;
  if (gpu.status === 'unavailable') return `${sim}GPU unavailable: ${gpu.reason ?? 'unknown'}`;
  if (gpu.gpus.length === 0) return `${sim}0 GPUs`;
  const forms = [
    gpu.gpus.map((g) => gpuToken(g, false)).join(' '),
    gpu.gpus.map((g) => gpuToken(g, true)).join(' '),
    gpu.gpus.map((g) => gpuToken(g, true)).join(''),
  ];
  const room = width - sim.length;
  const chosen = forms.find((f) => f.length <= room) ?? `${gpu.gpus.length}× ${forms[2]}`;
  return sim + chosen;
}

/** Max temperature over the GPUs of a node (null when none reports). */
export function maxGpuTemp(gpus: readonly GpuSample[]): number | null {
  const t = gpus.map((g) => g.gpu_temp_c).filter(known);
  return t.length ? Math.max(...t) : null;
}

/** Total power usage/limit over the GPUs of a node (null when none reports). */
export function totalGpuPower(gpus: readonly GpuSample[]): { usage: number | null; limit: number | null } {
  const sum = (xs: (number | null)[]) => (xs.some(known) ? xs.filter(known).reduce((a, b) => a + b, 0) : null);
  return { usage: sum(gpus.map((g) => g.power_usage_w)), limit: sum(gpus.map((g) => g.power_limit_w)) };
}

/** Column from which a node that is not up shows its error across the rest of the row. */
export const CLUSTER_ERROR_SPAN = 2;

/** The column a node's row spans from (its error message), or undefined for a normal row. */
export function clusterRowSpan(node: FleetNode): number | undefined {
  return node.conn !== 'up' || !node.stats ? CLUSTER_ERROR_SPAN : undefined;
}

/**
 * Cells of one node in the cluster view (aligned with CLUSTER_COLUMNS). `gpuWidth` picks the GPU cell's density.
 * A node that is not up (or has no sample yet) gives [name, state, error], spanned from CLUSTER_ERROR_SPAN.
 */
export function clusterRow(node: FleetNode, gpuWidth = 40): string[] {
  const state = connLabel(node);
  if (node.conn !== 'up' || !node.stats) {
    const why = node.error ?? (node.conn === 'up' ? 'waiting for first sample' : '');
    return [node.name, state, why || DASH];
  }
  const { host, gpu } = node.stats;
  const power = totalGpuPower(gpu.gpus);
  return [
    node.name,
    state,
    fmtPct(host.cpu.util_pct),
    fmtUsedTotal(host.memory.used_bytes, host.memory.total_bytes),
    gpuSummary(gpu, gpuWidth),
    fmtTemp(maxGpuTemp(gpu.gpus)),
    gpu.gpus.length ? fmtPower(power.usage, power.limit) : DASH,
  ];
}

/** Text a filter matches a node against: name, state, URL, labels, GPU names, SIM marker. */
export function clusterFilterText(node: FleetNode): string {
  const labels = Object.entries(node.info?.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  const gpus = node.stats?.gpu.gpus.map((g) => g.name ?? '') ?? [];
  const sim = node.stats?.gpu.simulated || node.info?.gpu.simulated ? SIM_MARK : '';
  return [node.name, connLabel(node), node.url, ...labels, ...gpus, sim].join(' ');
}

/** Fleet-wide counts for the header. */
export interface ClusterCounts {
  nodes: number;
  up: number;
  down: number;
  gpus: number;
  simulated: number;
}

/** Count nodes, reachable nodes, GPUs and simulated nodes (GPU counts over reachable nodes only). */
export function clusterCounts(nodes: readonly FleetNode[]): ClusterCounts {
  const up = nodes.filter((n) => n.conn === 'up').length;
  return {
    nodes: nodes.length,
    up,
    down: nodes.filter((n) => n.conn === 'unreachable' || n.conn === 'unauthorized' || n.conn === 'incompatible').length,
    // GPUs of reachable nodes only: a down node's last sample is history, not capacity
    gpus: nodes.reduce((a, n) => a + (n.conn === 'up' ? n.stats?.gpu.gpus.length ?? 0 : 0), 0),
    simulated: nodes.filter((n) => n.conn === 'up' && n.stats?.gpu.simulated).length,
  };
}

/** "1 node", "2 nodes". */
export function plural(n: number, word: string): string { return `${n} ${word}${n === 1 ? '' : 's'}`; }
