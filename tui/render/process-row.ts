import type { GpuSample } from '../../shared/protocol/telemetry.js';
import { DASH, fmtBytes } from './format.js';
import type { Column } from './table.js';

/** Columns of the GPU process table. */
export const PROCESS_COLUMNS: Column[] = [
  { header: 'GPU', width: 3, align: 'right', priority: 9 },
  { header: 'PID', width: 8, align: 'right', priority: 8 },
  { header: 'TYPE', width: 4, priority: 5 },
  { header: 'PROCESS', width: 12, flex: true, priority: 7, cut: 'start' },
  { header: 'GPU MEM', width: 8, align: 'right', priority: 6 },
  { header: 'JOB', width: 12, priority: 1 },
];

/** One process on one GPU (a pid on two GPUs gives two rows). */
export interface ProcessRow {
  /** Stable key: "<gpu uuid>:<pid>". */
  key: string;
  gpuIndex: number;
  pid: number;
  cells: string[];
}

/** All GPU processes of a node, by GPU index then GPU memory (largest first). */
export function processRows(gpus: readonly GpuSample[]): ProcessRow[] {
  const rows: { row: ProcessRow; mem: number }[] = [];
  for (const g of gpus) {
    for (const p of g.processes) {
      rows.push({
        mem: p.used_gpu_memory_bytes ?? -1,
        row: {
          key: `${g.uuid}:${p.pid}`,
          gpuIndex: g.index,
          pid: p.pid,
          cells: [String(g.index), String(p.pid), p.type ?? DASH, p.process_name ?? DASH, fmtBytes(p.used_gpu_memory_bytes), p.job_id ?? ''],
        },
      });
    }
  }
  rows.sort((a, b) => a.row.gpuIndex - b.row.gpuIndex || b.mem - a.mem || a.row.pid - b.row.pid);
  return rows.map((r) => r.row);
}
