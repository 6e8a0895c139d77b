import type { GpuState, NodeStats } from '../../shared/protocol/index.js';
import { flattenStats } from '../../shared/protocol/index.js';
import type { GpuSource } from './gpu/source.js';
import type { HostSource } from './host.js';
import { History } from './history.js';

/** Listener of new samples. Called synchronously after each tick; must not block. */
export type SampleListener = (s: NodeStats) => void;

/**
 * Samples host and GPU telemetry every interval.
 * Invariants: ticks never overlap (a tick still running makes the next one skip, counted in `skipped`);
 * a failing source never stops the loop; stop() cancels the timer and awaits the running tick.
 */
export class Collector {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private listeners = new Set<SampleListener>();
  private seq = 0;
  private stopped = false;
  private latestSample: NodeStats | null = null;
  readonly history: History;
  /** Ticks skipped because the previous one was still running. */
  skipped = 0;
  /** Enriches each sample before it is stored and sent (GPU process → job attribution). */
  private readonly decorate: ((s: NodeStats) => void) | null;
  private readonly onCost: ((ms: number) => void) | undefined;
  /** Duration of the last sample, ms (also a Prometheus histogram). */
  lastCostMs = 0;

  constructor(
    private readonly node: string,
    private readonly host: HostSource,
    private readonly gpu: GpuSource,
    readonly intervalMs: number,
    historyS: number,
    hooks: { onCost?: (ms: number) => void; decorate?: (s: NodeStats) => void } = {},
  ) {
    this.onCost = hooks.onCost;
    this.decorate = hooks.decorate ?? null;
    this.history = new History(Math.max(1, Math.ceil((historyS * 1000) / intervalMs)));
  }

  get latest(): NodeStats | null { return this.latestSample; }

  /** Subscribe to samples; returns an unsubscribe function. */
  onSample(l: SampleListener): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }

  /** Take the first sample, then tick every interval. */
  async start(): Promise<void> {
    await this.tick();
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        if (this.running) { this.skipped++; loop(); return; }
        this.tick().then(loop, loop);
      }, this.intervalMs);
      this.timer.unref?.();
    };
    loop();
  }

  /** Take one sample now (never overlapping a running one). */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.sampleOnce().finally(() => { this.running = null; });
    return this.running;
  }

  private async sampleOnce(): Promise<void> {
    const t0 = performance.now();
    const ts = Date.now();
    const [host, gpu] = await Promise.all([this.host.sample(ts), this.safeGpu()]);
    const s: NodeStats = { node: this.node, ts, seq: ++this.seq, host, gpu };
    try { this.decorate?.(s); } catch { /* attribution is best effort */ }
    this.lastCostMs = performance.now() - t0;
    this.onCost?.(this.lastCostMs);
    this.latestSample = s;
    this.history.push(ts, flattenStats(s), this.history.capacity * this.intervalMs);
    for (const l of this.listeners) {
      try { l(s); } catch { /* a listener bug must not stop telemetry */ }
    }
  }

  private async safeGpu(): Promise<GpuState> {
    try { return await this.gpu.refresh(); } catch (e) {
      return { status: 'unavailable', reason: `GPU source failed: ${(e as Error).message}`, source: this.gpu.kind, simulated: false, driver_version: null, cuda_version: null, gpus: [] };
    }
  }

  /** Stop ticking and wait for a running tick. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
