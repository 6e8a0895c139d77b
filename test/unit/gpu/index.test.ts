import { describe, it, expect } from 'vitest';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { AutoGpuSource, GPU_DISABLED_REASON, createGpuSource } from '../../../agent/telemetry/gpu/index.js';
import { silentLogger } from './helpers.js';

const opts = (choice: 'auto' | 'none' | 'sim' | 'smi' | 'nvml') => ({ choice, fixtures: [], intervalMs: 1000, reprobeMs: 50, logger: silentLogger });

describe('createGpuSource', () => {
  it("'none' → absent with the disabled reason, source none", async () => {
    const src = createGpuSource(opts('none'));
    await src.start();
    expect(src.kind).toBe('none');
    expect(GpuState.parse(await src.refresh())).toEqual({ status: 'absent', reason: GPU_DISABLED_REASON, source: 'none', simulated: false, driver_version: null, cuda_version: null, gpus: [] });
  });

  it('builds the requested kinds without starting anything', () => {
    expect(createGpuSource(opts('sim')).kind).toBe('sim');
    expect(createGpuSource(opts('smi')).kind).toBe('smi');
    expect(createGpuSource(opts('nvml')).kind).toBe('nvml');
  });

  it("'auto' with no NVML and no nvidia-smi → absent with both reasons, then re-probes", async () => {
    let nvmlLoads = 0;
    const src = createGpuSource(opts('auto'), {
      nvml: { loadLib: async () => { nvmlLoads++; throw new Error('Failed to load shared library: cannot open shared object file'); } },
      smi: { smiPath: '/nonexistent/nvidia-smi' },
    }) as AutoGpuSource;
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s.status).toBe('absent');
    expect(s.source).toBe('none');
    expect(s.reason).toMatch(/^NVML: NVML library not loadable: .*; nvidia-smi: nvidia-smi not found/);
    await new Promise((r) => setTimeout(r, 200));
    expect(nvmlLoads).toBeGreaterThan(1); // re-probed every reprobeMs
    await src.dispose();
    const after = nvmlLoads;
    await new Promise((r) => setTimeout(r, 150));
    expect(nvmlLoads).toBe(after); // dispose stops re-probing
  });
});
