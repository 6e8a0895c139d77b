// The sim source: replays real nvidia-smi fixtures with deterministic, bounded motion so demos and
// the TUI's sparklines move on machines without GPUs. Output is flagged simulated: true everywhere.
import { packageRoot } from '../../../shared/util/package-root.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GpuSample, GpuState } from '../../../shared/protocol/index.js';
import type { GpuSource, GpuSourceOptions } from './source.js';
import { parseQueryGpuCsv } from './smi-csv.js';
import { parseSmiXml } from './smi-xml.js';
import { pickStatic, StaticRefresh, type GpuStatic } from './static-refresh.js';

/** Fixture used when the operator gives none (2× RTX A5000 with processes, driver 590). */
export const DEFAULT_SIM_FIXTURE = 'test/fixtures/nvidia-smi/rtx-a5000-2gpu-590.44-procs-q-x.xml';

/** Absolute path of DEFAULT_SIM_FIXTURE, resolved against the package root. */
export function defaultSimFixturePath(): string {
  return join(packageRoot(), DEFAULT_SIM_FIXTURE);
}

/** Fixture file(s) → driver/cuda versions and GPUs (concatenated and re-indexed). Throws on bad input. */
export async function loadSimFixtures(files: string[]): Promise<Omit<GpuState, 'status' | 'reason' | 'source' | 'simulated'>> {
  let driver: string | null = null;
  let cuda: string | null = null;
  const gpus: GpuSample[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const isXml = text.trimStart().startsWith('<');
    const parsed = isXml ? parseSmiXml(text) : { ...parseQueryGpuCsv(text), cuda_version: null };
    // A CSV without real uuid values is not a --query-gpu capture (e.g. a notes file).
    if (parsed.gpus.length === 0 || parsed.gpus.some((g) => !g.uuid.startsWith('GPU-'))) {
      throw new Error(`${file}: no GPUs found (expected nvidia-smi -q -x XML or --query-gpu CSV with header)`);
    }
    driver ??= parsed.driver_version;
    cuda ??= parsed.cuda_version;
    for (const g of parsed.gpus) gpus.push({ ...g, index: gpus.length });
  }
  return { driver_version: driver, cuda_version: cuda, gpus };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * Deterministic motion for one GPU at time t (ms): a slow sine per GPU around the fixture value.
 * Pure: same (gpu, t) → same output. Nulls stay null; values stay in their valid ranges.
 */
export function animateSample(g: GpuSample, t: number): GpuSample {
  const phase = g.index * 1.7;
  const wave = (periodMs: number): number => Math.sin((2 * Math.PI * t) / periodMs + phase);
  const util = g.gpu_util_pct === null ? null : clamp(Math.round(g.gpu_util_pct + 25 * wave(60_000)), 0, 100);
  const memUtil = g.mem_copy_util_pct === null ? null : clamp(Math.round(g.mem_copy_util_pct + 8 * wave(45_000)), 0, 100);
  let used = g.fb_used_bytes;
  let free = g.fb_free_bytes;
  if (used !== null && g.fb_total_bytes !== null) {
    const cap = g.fb_total_bytes - (g.fb_reserved_bytes ?? 0);
    used = Math.round(clamp(used + 0.05 * g.fb_total_bytes * wave(120_000), 0, cap));
    if (free !== null) free = Math.max(0, cap - used);
  }
  const limit = g.power_limit_w;
  const power =
    g.power_usage_w === null ? null : clamp(round2(g.power_usage_w * (1 + 0.15 * wave(30_000))), 0, limit ?? Number.MAX_VALUE);
  // A reported 0 C (vGPU guests) is a real reading; leave it alone rather than invent heat.
  const temp = g.gpu_temp_c === null || g.gpu_temp_c === 0 ? g.gpu_temp_c : clamp(Math.round(g.gpu_temp_c + 4 * wave(90_000)), 0, 110);
  return { ...g, gpu_util_pct: util, mem_copy_util_pct: memUtil, fb_used_bytes: used, fb_free_bytes: free, power_usage_w: power, gpu_temp_c: temp };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** Options for the sim source beyond GpuSourceOptions (a clock for deterministic tests). */
export interface SimSourceExtra {
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/**
 * GpuSource kind 'sim': replays fixture files (GpuSourceOptions.fixtures, default DEFAULT_SIM_FIXTURE). The loaded
 * fixture plays the hardware, read like a real source: the static attributes (and driver/CUDA versions) on the
 * StaticRefresh schedule, the dynamic fields every tick, so the sim costs and behaves as a real source does.
 */
export class SimGpuSource implements GpuSource {
  readonly kind = 'sim' as const;
  private state: GpuState;
  private readonly now: () => number;
  private readonly files: string[];
  /** When the static attributes are read again from the fixture. */
  readonly statics: StaticRefresh;
  private st: { driver: string | null; cuda: string | null; gpus: GpuStatic[] } = { driver: null, cuda: null, gpus: [] };

  constructor(private readonly opts: GpuSourceOptions, extra: SimSourceExtra = {}) {
    this.now = extra.now ?? Date.now;
    this.files = opts.fixtures.length > 0 ? opts.fixtures : [defaultSimFixturePath()];
    this.state = unavailable('sim source not started');
    this.statics = new StaticRefresh(opts.staticRefreshMs, this.now);
  }

  private readStatic(): void {
    this.st = { driver: this.state.driver_version, cuda: this.state.cuda_version, gpus: this.state.gpus.map(pickStatic) };
    this.statics.done(this.st.gpus.map((g) => g.uuid));
  }

  /** Load and parse the fixtures; a failure becomes status 'unavailable' with the reason. */
  async start(): Promise<void> {
    try {
      const loaded = await loadSimFixtures(this.files);
      this.state = { status: 'ok', reason: null, source: 'sim', simulated: true, ...loaded };
      this.statics.invalidate();
      this.opts.logger.info({ files: this.files, gpus: loaded.gpus.length }, 'gpu sim source loaded fixtures');
    } catch (err) {
      const reason = `sim fixtures could not be loaded: ${(err as Error).message}`;
      this.state = unavailable(reason);
      this.opts.logger.warn({ files: this.files, err: (err as Error).message }, 'gpu sim source unavailable');
    }
  }

  /** Current fixture values with time-varying utilisation/memory/power/temperature; static ones as last read. */
  async refresh(): Promise<GpuState> {
    if (this.state.status !== 'ok') return this.state;
    if (this.statics.due()) this.readStatic();
    const t = this.now();
    const dynamic = this.state.gpus.map((g) => animateSample(g, t));
    if (!this.statics.sameSet(dynamic.map((g) => g.uuid))) this.readStatic();
    const st = this.st;
    return { ...this.state, driver_version: st.driver, cuda_version: st.cuda, gpus: dynamic.map((g, i) => ({ ...g, ...st.gpus[i] })) };
  }

  /** Nothing to release: the sim source owns no timers or processes. */
  async dispose(): Promise<void> {}
}

function unavailable(reason: string): GpuState {
  return { status: 'unavailable', reason, source: 'sim', simulated: true, driver_version: null, cuda_version: null, gpus: [] };
}

/** Build the sim source (same as `new SimGpuSource(opts, extra)`). */
export function createSimGpuSource(opts: GpuSourceOptions, extra: SimSourceExtra = {}): SimGpuSource {
  return new SimGpuSource(opts, extra);
}
