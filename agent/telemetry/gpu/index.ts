// Composition of the GPU sources. 'auto' ladder (research note §1, §5):
//   NVML (koffi load + init + self-check) → nvidia-smi streams (probe `-L`) → a placeholder that
//   reports absent/unavailable with both reasons and re-probes every reprobeMs (default 60 s).
// Importing this module starts nothing: timers, library loads and spawns happen in start().
import type { GpuState } from '../../../shared/protocol/index.js';
import type { GpuSource, GpuSourceOptions } from './source.js';
import { NvmlGpuSource, type NvmlSourceExtra } from './nvml.js';
import { SimGpuSource, type SimSourceExtra } from './sim-source.js';
import { SmiGpuSource, type SmiSourceExtra } from './smi-source.js';

export type { GpuSource, GpuSourceOptions, GpuSourceChoice, GpuLogger } from './source.js';

/** Per-source extras (injected NVML library, nvidia-smi path, clock), mainly for tests and the smoke script. */
export interface GpuSourceExtra {
  nvml?: NvmlSourceExtra;
  smi?: SmiSourceExtra;
  sim?: SimSourceExtra;
}

/** Reason reported by the 'none' source. */
export const GPU_DISABLED_REASON = 'GPU telemetry disabled (gpu-source none)';

function emptyState(status: GpuState['status'], reason: string | null): GpuState {
  return { status, reason, source: 'none', simulated: false, driver_version: null, cuda_version: null, gpus: [] };
}

/** GpuSource for `gpu-source none`: always absent, owns nothing. */
export class DisabledGpuSource implements GpuSource {
  readonly kind = 'none' as const;
  /** Nothing to start. */
  async start(): Promise<void> {}
  /** Always status absent with GPU_DISABLED_REASON. */
  async refresh(): Promise<GpuState> {
    return emptyState('absent', GPU_DISABLED_REASON);
  }
  /** Nothing to release. */
  async dispose(): Promise<void> {}
}

/** 'auto': delegates to the first source that works; otherwise reports why and re-probes. */
export class AutoGpuSource implements GpuSource {
  private current: GpuSource | null = null;
  private state: GpuState = emptyState('unavailable', 'GPU probe not started');
  private timer: NodeJS.Timeout | null = null;
  private disposed = false;
  private probing = false;

  constructor(private readonly opts: GpuSourceOptions, private readonly extra: GpuSourceExtra = {}) {}

  /** Kind of the chosen source, or 'none' while no source works. */
  get kind(): GpuSource['kind'] {
    return this.current?.kind ?? 'none';
  }

  /** Run the ladder once; on failure schedule the next attempt. Never throws. */
  async start(): Promise<void> {
    if (this.probing || this.disposed || this.current) return;
    this.probing = true;
    try {
      const nvml = new NvmlGpuSource(this.opts, this.extra.nvml);
      const nvmlState = await this.tryOne(nvml);
      if (nvmlState === null) return;
      const smi = new SmiGpuSource(this.opts, this.extra.smi);
      const smiState = await this.tryOne(smi);
      if (smiState === null) return;
      const status = nvmlState.status === 'absent' && smiState.status === 'absent' ? 'absent' : 'unavailable';
      this.state = emptyState(status, `NVML: ${nvmlState.reason}; nvidia-smi: ${smiState.reason}`);
      this.opts.logger.warn({ status, reason: this.state.reason }, 'no GPU source available; will re-probe');
      this.scheduleReprobe();
    } finally {
      this.probing = false;
    }
  }

  /** Start a candidate; keep it (return null) when ok, else dispose it and return its state. */
  private async tryOne(src: GpuSource): Promise<GpuState | null> {
    await src.start();
    const s = await src.refresh();
    if (s.status === 'ok' && !this.disposed) {
      this.current = src;
      this.opts.logger.info({ source: src.kind, gpus: s.gpus.length }, 'gpu source chosen');
      return null;
    }
    await src.dispose();
    return s;
  }

  private scheduleReprobe(): void {
    if (this.disposed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.start();
    }, this.opts.reprobeMs ?? 60_000);
    this.timer.unref();
  }

  /** The chosen source's sample, or the absent/unavailable state with both reasons. */
  async refresh(): Promise<GpuState> {
    return this.current ? this.current.refresh() : this.state;
  }

  /** Dispose the chosen source and stop re-probing. */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current?.dispose();
  }
}

/** Build the GpuSource the operator chose (auto | nvml | smi | sim | none). Starts nothing. */
export function createGpuSource(opts: GpuSourceOptions, extra: GpuSourceExtra = {}): GpuSource {
  switch (opts.choice) {
    case 'none': return new DisabledGpuSource();
    case 'sim': return new SimGpuSource(opts, extra.sim);
    case 'smi': return new SmiGpuSource(opts, extra.smi);
    case 'nvml': return new NvmlGpuSource(opts, extra.nvml);
    case 'auto': return new AutoGpuSource(opts, extra);
  }
}
