import type { GpuState, GpuSourceKind } from '../../../shared/protocol/index.js';

/** What the operator asked for: auto tries NVML, then nvidia-smi streams; sim replays fixtures; none disables GPUs. */
export type GpuSourceChoice = 'auto' | 'nvml' | 'smi' | 'sim' | 'none';

/** Minimal logger shape (a pino child logger satisfies it). */
export interface GpuLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Options every GPU source is built from (agent config → createGpuSource). */
export interface GpuSourceOptions {
  choice: GpuSourceChoice;
  /** Fixture files for the sim source (nvidia-smi -q -x XML or --query-gpu CSV with header). */
  fixtures: string[];
  /** Telemetry interval; smi streams use it for -lms. */
  intervalMs: number;
  /** How often a source that is absent/unavailable re-probes (default 60 s). */
  reprobeMs?: number;
  /** How often static attributes (name, UUID, limits, PCIe link, modes, driver) are re-read (default STATIC_REFRESH_MS). */
  staticRefreshMs?: number;
  logger: GpuLogger;
}

/** Default of GpuSourceOptions.staticRefreshMs (config telemetry.static_refresh_s). */
export const STATIC_REFRESH_MS = 30_000;

/**
 * One interface for all GPU access. Invariants:
 * - start() and refresh() never throw: failures become status "absent" / "unavailable" with a reason,
 *   and a per-GPU failure becomes that GPU's status "error" while the others keep reporting.
 * - refresh() is called once per telemetry tick and never overlaps with itself (the collector coalesces).
 * - No process is spawned per sample.
 * - Static attributes are read at most every staticRefreshMs, and again at once when the GPU set changes
 *   (StaticRefresh); only dynamic fields are read per tick.
 * - dispose() stops every child process, timer and worker the source owns.
 */
export interface GpuSource {
  readonly kind: GpuSourceKind;
  start(): Promise<void>;
  refresh(): Promise<GpuState>;
  dispose(): Promise<void>;
}
