import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { DEFAULT_SIM_FIXTURE, SimGpuSource, animateSample, defaultSimFixturePath } from '../../../agent/telemetry/gpu/sim-source.js';
import { fixture, silentLogger } from './helpers.js';

const MiB = 2 ** 20;
const opts = (fixtures: string[]) => ({ choice: 'sim' as const, fixtures, intervalMs: 1000, logger: silentLogger });

describe('sim source', () => {
  it('default fixture resolves from the package root', () => {
    expect(defaultSimFixturePath()).toBe(join(__dirname, '..', '..', '..', DEFAULT_SIM_FIXTURE));
    expect(defaultSimFixturePath().endsWith(DEFAULT_SIM_FIXTURE)).toBe(true);
    expect(existsSync(defaultSimFixturePath())).toBe(true);
  });

  it('replays the default 2× A5000 fixture, flagged simulated, processes intact', async () => {
    const src = new SimGpuSource(opts([]), { now: () => 0 });
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s).toMatchObject({ status: 'ok', source: 'sim', simulated: true, driver_version: '590.44.01', cuda_version: '13.1' });
    expect(s.gpus.map((g) => g.name)).toEqual(['NVIDIA RTX A5000', 'NVIDIA RTX A5000']);
    expect(s.gpus[0].processes[0]).toMatchObject({ pid: 100477, used_gpu_memory_bytes: 22430 * MiB });
    await src.dispose();
  });

  it('several files are concatenated and re-indexed (XML + CSV with header)', async () => {
    const src = new SimGpuSource(opts([fixture('tesla-t4-515.105-procs-q-x.xml'), fixture('query-gpu-h100-80gb-hbm3-590.48-load.csv')]));
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s.gpus.map((g) => [g.index, g.name])).toEqual([[0, 'Tesla T4'], [1, 'NVIDIA H100 80GB HBM3']]);
  });

  it('values move deterministically, stay in range, and nulls stay null', async () => {
    const mig = new SimGpuSource(opts([fixture('a100-sxm4-80gb-mig-535.54-q-x.xml')]), { now: () => 15_000 });
    await mig.start();
    expect((await mig.refresh()).gpus[0].gpu_util_pct).toBeNull(); // MIG util is N/A in the fixture
    let t = 0;
    const src = new SimGpuSource(opts([fixture('query-gpu-h100-80gb-hbm3-590.48-load.csv')]), { now: () => t });
    await src.start();
    const seen = new Set<number>();
    for (t = 0; t < 120_000; t += 3_700) {
      const g = GpuState.parse(await src.refresh()).gpus[0];
      seen.add(g.power_usage_w!);
      seen.add(-g.gpu_util_pct!);
      expect(g.gpu_util_pct!).toBeGreaterThanOrEqual(0);
      expect(g.gpu_util_pct!).toBeLessThanOrEqual(100);
      expect(g.power_usage_w!).toBeLessThanOrEqual(700); // enforced limit in the fixture
      expect(g.fb_used_bytes! + g.fb_free_bytes!).toBeLessThanOrEqual(81559 * MiB);
      expect(g.fan_speed_pct).toBeNull();
    }
    expect(seen.size).toBeGreaterThan(5);
    t = 42_000;
    expect(await src.refresh()).toEqual(await src.refresh());
  });

  it('a reported 0 C (vGPU) stays 0', async () => {
    const src = new SimGpuSource(opts([fixture('grid-p4-1q-vgpu-win-513.46-q-x.xml')]), { now: () => 33_000 });
    await src.start();
    expect((await src.refresh()).gpus[0].gpu_temp_c).toBe(0);
  });

  it('missing or unparseable fixture → unavailable with a clear reason, no throw', async () => {
    for (const f of [fixture('does-not-exist.xml'), fixture('SOURCES.md')]) {
      const src = new SimGpuSource(opts([f]));
      await src.start();
      const s = GpuState.parse(await src.refresh());
      expect(s.status).toBe('unavailable');
      expect(s.reason).toMatch(/^sim fixtures could not be loaded: /);
      expect(s.simulated).toBe(true);
    }
  });

  it('animateSample is pure', () => {
    const g = { index: 0, gpu_util_pct: 50 } as Parameters<typeof animateSample>[0];
    expect(animateSample(g, 1234)).toEqual(animateSample(g, 1234));
  });
});
