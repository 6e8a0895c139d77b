// Parsers for `nvidia-smi --query-gpu` / `--query-compute-apps` CSV. Two shapes:
// - files WITH a header (fixtures, `--format=csv`): columns are found by header name, units stripped;
// - streaming `--format=csv,noheader,nounits` lines: columns are positional in our fixed order.
// The free-text column (name / process_name) is always LAST in our field lists and lines are split
// with a limit, so a Windows path with spaces or a Linux path with ", " cannot shift columns (§6, §8.7).
import type { GpuProcess, GpuSample } from '../../../shared/protocol/index.js';
import { enabledFlag, int, mibToBytes, normalizeBusId, num, str } from './parse-values.js';

/** Fixed `--query-gpu` field list for the streaming child (order matters; `name` last). */
export const SMI_QUERY_GPU_FIELDS = [
  'index', 'uuid', 'pci.bus_id', 'driver_version',
  'utilization.gpu', 'utilization.memory',
  'memory.total', 'memory.used', 'memory.free', 'memory.reserved',
  'temperature.gpu', 'temperature.memory', 'power.draw', 'enforced.power.limit',
  'clocks.sm', 'clocks.mem', 'fan.speed', 'pstate',
  'pcie.link.gen.current', 'pcie.link.width.current',
  'ecc.mode.current', 'ecc.errors.corrected.volatile.total', 'ecc.errors.uncorrected.volatile.total',
  'persistence_mode', 'mig.mode.current', 'name',
] as const;

/** Reduced list for old drivers that reject newer fields ("is not a valid field to query"). */
export const SMI_QUERY_GPU_FIELDS_LEGACY = SMI_QUERY_GPU_FIELDS.filter(
  (f) => f !== 'memory.reserved' && f !== 'temperature.memory' && f !== 'mig.mode.current',
);

/** Static fields, streamed by a slow child (every staticRefreshMs); index and uuid join them to the dynamic rows.
 * name stays LAST: it is free text. */
export const SMI_STATIC_FIELDS = [
  'index', 'uuid', 'pci.bus_id', 'driver_version', 'enforced.power.limit', 'pcie.link.gen.current', 'pcie.link.width.current',
  'ecc.mode.current', 'persistence_mode', 'mig.mode.current', 'name',
] as const;

/** Dynamic fields, streamed every telemetry interval: SMI_QUERY_GPU_FIELDS without the static ones (index, uuid kept). */
export const SMI_DYNAMIC_FIELDS: readonly string[] = SMI_QUERY_GPU_FIELDS.filter(
  (f) => f === 'index' || f === 'uuid' || !(SMI_STATIC_FIELDS as readonly string[]).includes(f),
);

/** A field list without what old drivers reject (same fields as SMI_QUERY_GPU_FIELDS_LEGACY drops). */
export const legacyFields = (fields: readonly string[]): readonly string[] =>
  fields.filter((f) => f !== 'memory.reserved' && f !== 'temperature.memory' && f !== 'mig.mode.current');

/** Fixed `--query-compute-apps` field list (process_name LAST: it may contain commas and spaces). */
export const SMI_QUERY_APPS_FIELDS = ['timestamp', 'gpu_uuid', 'pid', 'used_gpu_memory', 'process_name'] as const;

// nvidia-smi accepts aliases; header files may use either spelling. Map to our canonical names.
const ALIASES: Record<string, string> = {
  'clocks.current.sm': 'clocks.sm',
  'clocks.current.memory': 'clocks.mem',
  'gpu.power.current_limit': 'enforced.power.limit',
  'gpu_name': 'name',
};

/** A CSV row keyed by canonical field name, values raw (units not yet stripped). */
export type CsvRecord = Record<string, string>;

/** Split a CSV line into exactly n cells: the first n-1 at commas, the rest (free text) intact. */
export function splitLimit(line: string, n: number): string[] {
  const out: string[] = [];
  let rest = line;
  for (let i = 0; i < n - 1; i++) {
    const at = rest.indexOf(',');
    if (at < 0) break;
    out.push(rest.slice(0, at).trim());
    rest = rest.slice(at + 1);
  }
  out.push(rest.trim());
  return out;
}

/** Header cell → canonical field name ("memory.used [MiB]" → "memory.used"). */
function headerName(cell: string): string {
  const base = cell.trim().replace(/\s*\[[^\]]*\]$/, '');
  return ALIASES[base] ?? base;
}

/**
 * Parse a CSV text WITH a header line into records. When a row has more cells than the header
 * (a free-text column contained commas), the surplus is merged back into that free-text column.
 */
export function parseCsvWithHeader(text: string): CsvRecord[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0].split(',').map(headerName);
  const freeCol = Math.max(header.indexOf('process_name'), header.indexOf('name'));
  return lines.slice(1).map((line) => {
    let cells = line.split(',').map((c) => c.trim());
    if (cells.length > header.length && freeCol >= 0) {
      const extra = cells.length - header.length;
      const merged = line.split(',').slice(freeCol, freeCol + extra + 1).join(',').trim();
      cells = [...cells.slice(0, freeCol), merged, ...cells.slice(freeCol + extra + 1)];
    }
    const rec: CsvRecord = {};
    header.forEach((h, i) => (rec[h] = cells[i] ?? ''));
    return rec;
  });
}

/** Map one `--query-gpu` record (header-driven or positional) to a GpuSample without processes. */
export function csvRecordToSample(r: CsvRecord, fallbackIndex: number): GpuSample {
  const index = int(r['index']) ?? fallbackIndex;
  return {
    index,
    uuid: str(r['uuid']) ?? `unknown-gpu-${index}`,
    name: str(r['name']),
    pci_bus_id: normalizeBusId(r['pci.bus_id']),
    status: 'ok',
    error: null,
    gpu_util_pct: num(r['utilization.gpu']),
    mem_copy_util_pct: num(r['utilization.memory']),
    fb_total_bytes: mibToBytes(r['memory.total']),
    fb_used_bytes: mibToBytes(r['memory.used']),
    fb_free_bytes: mibToBytes(r['memory.free']),
    fb_reserved_bytes: mibToBytes(r['memory.reserved']),
    gpu_temp_c: num(r['temperature.gpu']),
    memory_temp_c: num(r['temperature.memory']),
    power_usage_w: num(r['power.draw']),
    power_limit_w: num(r['enforced.power.limit']),
    sm_clock_mhz: num(r['clocks.sm']),
    mem_clock_mhz: num(r['clocks.mem']),
    fan_speed_pct: num(r['fan.speed']),
    pstate: str(r['pstate']),
    pcie_link_gen: int(r['pcie.link.gen.current']),
    pcie_link_width: int(r['pcie.link.width.current']),
    ecc_mode: enabledFlag(r['ecc.mode.current']),
    ecc_corrected_volatile: num(r['ecc.errors.corrected.volatile.total']),
    ecc_uncorrected_volatile: num(r['ecc.errors.uncorrected.volatile.total']),
    persistence_mode: enabledFlag(r['persistence_mode']),
    mig_mode: enabledFlag(r['mig.mode.current']),
    mig_instances: [], // --query-gpu has no per-MIG-instance rows
    processes: [],
  };
}

/** Map one `--query-compute-apps` record to a GpuProcess; null when pid or uuid is missing. */
export function csvRecordToProcess(r: CsvRecord): GpuProcess | null {
  const pid = int(r['pid']);
  const uuid = str(r['gpu_uuid']);
  if (pid === null || uuid === null) return null;
  return {
    gpu_uuid: uuid,
    pid,
    type: null, // the CSV lists compute apps but does not say C vs C+G
    process_name: str(r['process_name']),
    used_gpu_memory_bytes: mibToBytes(r['used_gpu_memory']),
    gpu_instance_id: null, // the CSV carries the parent GPU only, no GI/CI (§8.4)
    compute_instance_id: null,
  };
}

/** Parse a `--query-gpu --format=csv` file with header → driver version + samples. */
export function parseQueryGpuCsv(text: string): { driver_version: string | null; gpus: GpuSample[] } {
  const recs = parseCsvWithHeader(text);
  return { driver_version: str(recs[0]?.['driver_version']), gpus: recs.map((r, i) => csvRecordToSample(r, i)) };
}

/** Parse a `--query-compute-apps --format=csv` file with header → processes. */
export function parseComputeAppsCsv(text: string): GpuProcess[] {
  return parseCsvWithHeader(text).flatMap((r) => csvRecordToProcess(r) ?? []);
}

/** Positional parse of one noheader,nounits line in `fields` order; null for a short/blank line. */
export function parsePositional(line: string, fields: readonly string[]): CsvRecord | null {
  if (line.trim() === '') return null;
  const cells = splitLimit(line, fields.length);
  if (cells.length < fields.length) return null;
  const rec: CsvRecord = {};
  fields.forEach((f, i) => (rec[f] = cells[i]));
  return rec;
}

/** Splits a byte stream into complete lines; the partial tail waits for the next chunk. */
export class LineSplitter {
  private tail = '';
  /** Feed a chunk; returns the complete lines it finished. */
  push(chunk: string): string[] {
    const parts = (this.tail + chunk).split(/\r?\n/);
    this.tail = parts.pop() ?? '';
    return parts;
  }
}

/**
 * Groups streaming `--query-gpu` lines into samples. A sample ends when `index` wraps (≤ the
 * previous index) or when `expectedCount` lines arrived; only the latest complete sample is kept,
 * so a slow consumer never queues old data (§3).
 */
export class GpuSampleFramer {
  private lines = new LineSplitter();
  private group: GpuSample[] = [];
  private last: GpuSample[] | null = null;
  private seq = 0;
  private driver: string | null = null;

  /** fields: the positional order the child was started with; expectedCount: GPU count if known. */
  constructor(private readonly fields: readonly string[] = SMI_QUERY_GPU_FIELDS, private readonly expectedCount = 0) {}

  /** Feed a stdout chunk; returns true when at least one new complete sample was produced. */
  push(chunk: string): boolean {
    let produced = false;
    for (const line of this.lines.push(chunk)) {
      const rec = parsePositional(line, this.fields);
      if (!rec) continue;
      this.driver = str(rec['driver_version']) ?? this.driver;
      const s = csvRecordToSample(rec, this.group.length);
      const prev = this.group[this.group.length - 1];
      if (prev && s.index <= prev.index) produced = this.complete() || produced;
      this.group.push(s);
      if (this.expectedCount > 0 && this.group.length >= this.expectedCount) produced = this.complete() || produced;
    }
    return produced;
  }

  private complete(): boolean {
    if (this.group.length === 0) return false;
    this.last = this.group;
    this.group = [];
    this.seq++;
    return true;
  }

  /** Drop a partial line and group left by a child that died mid-write (before a restart). */
  resetPartial(): void {
    this.lines = new LineSplitter();
    this.group = [];
  }

  /** Latest complete sample (GPUs in index order), or null before the first one. */
  latest(): GpuSample[] | null {
    return this.last;
  }

  /** Driver version from the latest line that carried one (a GpuSample has no such field). */
  driverVersion(): string | null {
    return this.driver;
  }

  /** Number of complete samples seen so far (lets callers detect staleness). */
  get samples(): number {
    return this.seq;
  }
}

/**
 * Groups streaming `--query-compute-apps` lines (SMI_QUERY_APPS_FIELDS order) by their timestamp.
 * A tick with no processes prints nothing, so callers treat a silent stream as "no processes"
 * once it has been quiet for longer than the loop interval (see latestAt).
 */
export class AppsFramer {
  private lines = new LineSplitter();
  private ts: string | null = null;
  private current: GpuProcess[] = [];
  private lastLineAt = 0;

  /** Feed a stdout chunk; now = the caller's clock (ms). */
  push(chunk: string, now: number): void {
    for (const line of this.lines.push(chunk)) {
      const rec = parsePositional(line, SMI_QUERY_APPS_FIELDS);
      if (!rec) continue;
      const p = csvRecordToProcess(rec);
      // A new timestamp, or a (gpu, pid) already in this group, means a new tick began.
      const repeat = p !== null && this.current.some((q) => q.pid === p.pid && q.gpu_uuid === p.gpu_uuid);
      if (rec['timestamp'] !== this.ts || repeat) {
        this.ts = rec['timestamp'];
        this.current = [];
      }
      if (p) this.current.push(p);
      this.lastLineAt = now;
    }
  }

  /** Drop a partial line left by a child that died mid-write (before a restart). */
  resetPartial(): void {
    this.lines = new LineSplitter();
  }

  /** Processes of the latest tick, or [] when nothing was printed within staleMs before now. */
  latestAt(now: number, staleMs: number): GpuProcess[] {
    return now - this.lastLineAt > staleMs ? [] : this.current;
  }
}
