// Static GPU attributes are read on their own interval, dynamic ones every tick, and a change in the GPU set re-reads
// the static set at once. Clocks are injected: ticks are counted, never timed.
import { describe, it, expect } from 'vitest';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { NvmlGpuSource, NVML_STATIC_CALLS } from '../../../agent/telemetry/gpu/nvml.js';
import { SimGpuSource } from '../../../agent/telemetry/gpu/sim-source.js';
import { GPU_STATIC_FIELDS, StaticRefresh } from '../../../agent/telemetry/gpu/static-refresh.js';
import { NVML } from '../../../agent/telemetry/gpu/nvml-structs.js';
import { countingLib, fail, fakeLib, ok } from './fake-nvml.js';
import { fixture, silentLogger } from './helpers.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

const staticCalls = (count: Map<string, number>) => NVML_STATIC_CALLS.reduce((a, k) => a + (count.get(k) ?? 0), 0);

describe('StaticRefresh', () => {
  it('is due first, then only once refreshMs has passed', () => {
    const c = clock();
    const r = new StaticRefresh(30_000, c.now);
    expect(r.due()).toBe(true);
    r.done(['GPU-a', 'GPU-b']);
    c.advance(29_999);
    expect(r.due()).toBe(false);
    c.advance(1);
    expect(r.due()).toBe(true);
    expect(r.reads).toBe(1);
  });
  it('a different GPU set (count or UUIDs) makes it due at once; the same set does not', () => {
    const r = new StaticRefresh(30_000, clock().now);
    r.done(['GPU-a', 'GPU-b']);
    expect(r.sameSet(['GPU-a', 'GPU-b'])).toBe(true);
    expect(r.due()).toBe(false);
    expect(r.sameSet(['GPU-a'])).toBe(false);
    expect(r.due()).toBe(true);
    r.done(['GPU-a']);
    expect(r.sameSet(['GPU-c'])).toBe(false);
    expect(r.due()).toBe(true);
  });
  it('refuses an interval that is not positive', () => {
    expect(() => new StaticRefresh(0)).toThrow(/must be > 0/);
  });
});

describe('sim source: static attributes on their own interval', () => {
  it('100 ticks of 1 s with a 30 s refresh read the static set 4 times, and every sample is complete', async () => {
    const c = clock();
    const src = new SimGpuSource({ choice: 'sim', fixtures: [fixture('rtx-a5000-2gpu-590.44-procs-q-x.xml')], intervalMs: 1000, staticRefreshMs: 30_000, logger: silentLogger }, { now: c.now });
    await src.start();
    const utils = new Set<number | null>();
    let first: GpuState | null = null;
    for (let i = 0; i < 100; i++) {
      const s = GpuState.parse(await src.refresh());
      first ??= s;
      expect(s.gpus).toHaveLength(2);
      // the static fields are the fixture's, every tick
      for (const [j, g] of s.gpus.entries()) for (const f of GPU_STATIC_FIELDS) expect(g[f]).toEqual(first.gpus[j][f]);
      expect(s.driver_version).toBe(first.driver_version);
      utils.add(s.gpus[0].gpu_util_pct);
      c.advance(1000);
    }
    expect(src.statics.reads).toBe(4); // t = 0, 30, 60, 90 s
    expect(first!.gpus[0].name).toMatch(/A5000/);
    expect(utils.size).toBeGreaterThan(1); // dynamic fields moved on every tick's read
    await src.dispose();
  });
});

describe('NVML source: static calls on the refresh only, dynamic calls every tick', () => {
  const opts = { choice: 'nvml' as const, fixtures: [], intervalMs: 1000, staticRefreshMs: 30_000, logger: silentLogger };

  it('10 ticks within the interval make no static NVML call after the first refresh; the 30 s refresh makes them again', async () => {
    const c = clock();
    const { lib, count } = countingLib(fakeLib());
    const src = new NvmlGpuSource(opts, { loadLib: async () => lib, now: c.now });
    await src.start();
    await src.refresh();
    const afterFirst = staticCalls(count);
    const utilAfterFirst = count.get('nvmlDeviceGetUtilizationRates') ?? 0;
    for (let i = 0; i < 10; i++) { c.advance(1000); GpuState.parse(await src.refresh()); }
    expect(staticCalls(count)).toBe(afterFirst);
    expect(count.get('nvmlDeviceGetUtilizationRates')! - utilAfterFirst).toBe(20); // 2 GPUs × 10 ticks
    c.advance(30_000);
    await src.refresh();
    expect(staticCalls(count) - afterFirst).toBe(2 * NVML_STATIC_CALLS.length);
    await src.dispose();
  });

  it('a changed power limit shows after the refresh interval, not before (the value is cached in between)', async () => {
    const c = clock();
    let limitMw = 700_000;
    const src = new NvmlGpuSource(opts, { loadLib: async () => fakeLib({ nvmlDeviceGetEnforcedPowerLimit: () => ok(limitMw) }), now: c.now });
    await src.start();
    expect((await src.refresh()).gpus[0].power_limit_w).toBe(700);
    limitMw = 450_000; // nvidia-smi -pl 450
    c.advance(1000);
    expect((await src.refresh()).gpus[0].power_limit_w).toBe(700);
    c.advance(30_000);
    expect((await src.refresh()).gpus[0].power_limit_w).toBe(450);
    await src.dispose();
  });

  it('a GPU that goes away (count 2 → 1) re-reads the static set on that very tick', async () => {
    const c = clock();
    let n = 2;
    const { lib, count } = countingLib(fakeLib({ nvmlDeviceGetCount_v2: () => ok(n) }));
    const src = new NvmlGpuSource(opts, { loadLib: async () => lib, now: c.now });
    await src.start();
    expect((await src.refresh()).gpus.map((g) => g.uuid)).toEqual(['GPU-h0', 'GPU-h1']);
    const reads = src.statics.reads;
    const names = count.get('nvmlDeviceGetName')!;
    n = 1;
    c.advance(1000);
    const s = GpuState.parse(await src.refresh());
    expect(s.gpus.map((g) => g.uuid)).toEqual(['GPU-h0']);
    expect(src.statics.reads).toBe(reads + 1);
    expect(count.get('nvmlDeviceGetName')! - names).toBe(1);
    n = 2; // and back
    c.advance(1000);
    expect((await src.refresh()).gpus).toHaveLength(2);
    expect(src.statics.reads).toBe(reads + 2);
    await src.dispose();
  });

  it('a GPU reporting an error has its static set re-read on the next tick, and recovers', async () => {
    const c = clock();
    let lost = false;
    const src = new NvmlGpuSource(opts, {
      loadLib: async () => fakeLib({ nvmlDeviceGetUtilizationRates: (h) => (lost && h === 'h1' ? fail(NVML.GPU_IS_LOST) : ok({ gpu: 5, memory: 1 })) }),
      now: c.now,
    });
    await src.start();
    await src.refresh();
    const reads = src.statics.reads;
    lost = true;
    c.advance(1000);
    expect((await src.refresh()).gpus[1].status).toBe('error');
    expect(src.statics.reads).toBe(reads); // found on the dynamic read
    lost = false;
    c.advance(1000);
    const s = await src.refresh();
    expect(src.statics.reads).toBe(reads + 1);
    expect(s.gpus[1]).toMatchObject({ status: 'ok', uuid: 'GPU-h1', gpu_util_pct: 5 });
    await src.dispose();
  });
});
