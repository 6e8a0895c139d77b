// When a GPU source re-reads its static attributes (name, UUID, PCI bus id, power limit, PCIe link, ECC/MIG/
// persistence mode, driver and CUDA version). They change only on a reconfiguration (nvidia-smi -pl, -mig, a driver
// upgrade) or when a GPU appears or goes away, so reading them every tick is waste (research note §6).
// State: stale (never read, invalidated, or older than refreshMs) → read → fresh. A source asks due() each tick,
// reads the static set when it is, and calls done() with the UUIDs it found; the dynamic read each tick reports
// the GPU set it sees through sameSet(), and a different set makes the static set stale at once.
import type { GpuSample } from '../../../shared/protocol/index.js';
import { STATIC_REFRESH_MS } from './source.js';

/** The static-attribute refresh policy of one GPU source. */
export class StaticRefresh {
  private readAt: number | null = null;
  private key: string | null = null;
  /** Static reads so far (tests and the bench count them). */
  reads = 0;

  constructor(readonly refreshMs: number = STATIC_REFRESH_MS, private readonly now: () => number = Date.now) {
    if (!(refreshMs > 0)) throw new Error(`static refresh interval must be > 0 ms, got ${refreshMs}`);
  }

  /** True when the static set must be read now: never read, invalidated, or older than refreshMs. */
  due(): boolean {
    return this.readAt === null || this.now() - this.readAt >= this.refreshMs;
  }

  /** Record a static read that found these GPUs (UUIDs, or indices where a source has no UUID yet). */
  done(ids: readonly string[]): void {
    this.readAt = this.now();
    this.key = ids.join('\n');
    this.reads++;
  }

  /** Does the dynamic read see the GPUs of the last static read? A different set makes the static set stale. */
  sameSet(ids: readonly string[]): boolean {
    if (this.key !== null && ids.join('\n') === this.key) return true;
    this.invalidate();
    return false;
  }

  /** Make the next due() true (a GPU failed, the set changed, the source restarted). */
  invalidate(): void {
    this.readAt = null;
  }
}

/** Per-GPU fields a source reads on the static refresh, not every tick. */
export const GPU_STATIC_FIELDS = ['name', 'pci_bus_id', 'power_limit_w', 'pcie_link_gen', 'pcie_link_width', 'ecc_mode', 'persistence_mode', 'mig_mode'] as const;

/** The static part of a GPU sample. */
export type GpuStatic = Pick<GpuSample, 'uuid' | (typeof GPU_STATIC_FIELDS)[number]>;

/** The static fields of a sample. */
export function pickStatic(g: GpuSample): GpuStatic {
  return { uuid: g.uuid, name: g.name, pci_bus_id: g.pci_bus_id, power_limit_w: g.power_limit_w, pcie_link_gen: g.pcie_link_gen,
    pcie_link_width: g.pcie_link_width, ecc_mode: g.ecc_mode, persistence_mode: g.persistence_mode, mig_mode: g.mig_mode };
}
