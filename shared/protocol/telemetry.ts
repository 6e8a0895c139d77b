import { z } from 'zod';
import { DriverHealth } from './jobs.js';

// Telemetry wire types. Units are in the field names (bytes, _w, _c, _mhz, _pct, _per_s).
// A value a GPU or host does not report is null — never 0, never a string.

const num = z.number().nullable();
const int = z.number().int().nullable();

/** One process using a GPU. Key: (gpu_uuid, pid); the same pid may appear on several GPUs. */
export const GpuProcess = z.object({
  gpu_uuid: z.string(),
  pid: z.number().int(),
  /** C (compute), G (graphics), C+G, M (MPS), or null when the source does not say. */
  type: z.string().nullable(),
  process_name: z.string().nullable(),
  used_gpu_memory_bytes: num,
  gpu_instance_id: int,
  compute_instance_id: int,
  /** Job that owns the process, when the agent can attribute it (jobs issue). */
  job_id: z.string().nullable().optional(),
});
export type GpuProcess = z.infer<typeof GpuProcess>;

/** A MIG instance of a MIG-enabled GPU. */
export const MigInstance = z.object({
  mig_uuid: z.string().nullable(),
  index: int,
  gpu_instance_id: int,
  compute_instance_id: int,
  /** Profile such as "3g.40gb" when known. */
  profile: z.string().nullable(),
  sm_count: int,
  fb_total_bytes: num,
  fb_used_bytes: num,
});
export type MigInstance = z.infer<typeof MigInstance>;

/** One GPU sample. Names follow DCGM/nvitop (see docs/telemetry.md). */
export const GpuSample = z.object({
  index: z.number().int(),
  uuid: z.string(),
  name: z.string().nullable(),
  pci_bus_id: z.string().nullable(),
  /** "ok", or "error" when this GPU failed (GPU_IS_LOST, …) while others still report. */
  status: z.enum(['ok', 'error']),
  error: z.string().nullable(),
  gpu_util_pct: num,
  mem_copy_util_pct: num,
  fb_total_bytes: num,
  fb_used_bytes: num,
  fb_free_bytes: num,
  fb_reserved_bytes: num,
  gpu_temp_c: num,
  memory_temp_c: num,
  power_usage_w: num,
  power_limit_w: num,
  sm_clock_mhz: num,
  mem_clock_mhz: num,
  fan_speed_pct: num,
  pstate: z.string().nullable(),
  pcie_link_gen: int,
  pcie_link_width: int,
  ecc_mode: z.enum(['enabled', 'disabled']).nullable(),
  ecc_corrected_volatile: num,
  ecc_uncorrected_volatile: num,
  persistence_mode: z.enum(['enabled', 'disabled']).nullable(),
  mig_mode: z.enum(['enabled', 'disabled']).nullable(),
  mig_instances: z.array(MigInstance),
  processes: z.array(GpuProcess),
});
export type GpuSample = z.infer<typeof GpuSample>;

/** Which GPU source serves a node and in what state. */
export const GpuSourceKind = z.enum(['nvml', 'smi', 'sim', 'none']);
export type GpuSourceKind = z.infer<typeof GpuSourceKind>;

/** The GPU part of a node sample. status: ok | absent (no NVIDIA GPU/driver) | unavailable (driver problem). */
export const GpuState = z.object({
  status: z.enum(['ok', 'absent', 'unavailable']),
  reason: z.string().nullable(),
  source: GpuSourceKind,
  /** True when GPUs are replayed from fixtures (sim source): show "simulated" wherever they appear. */
  simulated: z.boolean(),
  driver_version: z.string().nullable(),
  cuda_version: z.string().nullable(),
  gpus: z.array(GpuSample),
});
export type GpuState = z.infer<typeof GpuState>;

/** Host part of a node sample (systeminformation). Rates are per second over the last interval. */
export const HostSample = z.object({
  cpu: z.object({
    util_pct: num,
    per_core_pct: z.array(z.number()),
    load1: num,
    load5: num,
    load15: num,
  }),
  memory: z.object({
    total_bytes: num,
    used_bytes: num,
    available_bytes: num,
    swap_total_bytes: num,
    swap_used_bytes: num,
  }),
  disks: z.array(z.object({ mount: z.string(), fs: z.string(), type: z.string().nullable(), size_bytes: num, used_bytes: num })),
  disk_io: z.object({ read_bytes_per_s: num, write_bytes_per_s: num }),
  network: z.array(z.object({ iface: z.string(), rx_bytes_per_s: num, tx_bytes_per_s: num })),
  uptime_s: num,
});
export type HostSample = z.infer<typeof HostSample>;

/** Static description of a host: collected at start, refreshed rarely. */
export const HostInfo = z.object({
  hostname: z.string(),
  os: z.object({ platform: z.string(), distro: z.string().nullable(), release: z.string().nullable(), kernel: z.string().nullable(), arch: z.string() }),
  cpu: z.object({ model: z.string().nullable(), cores: z.number().int(), physical_cores: int }),
  memory_total_bytes: num,
});
export type HostInfo = z.infer<typeof HostInfo>;

/** One telemetry sample of a node: what `node.stats` returns and the `node.stats` topic streams. */
export const NodeStats = z.object({
  node: z.string(),
  /** Agent clock, ms since epoch. */
  ts: z.number(),
  seq: z.number().int(),
  host: HostSample,
  gpu: GpuState,
  /** Since 1.7: the task drivers' health as last checked (a container engine that went away shows here); absent from older agents. */
  drivers: z.array(DriverHealth).optional(),
});
export type NodeStats = z.infer<typeof NodeStats>;
