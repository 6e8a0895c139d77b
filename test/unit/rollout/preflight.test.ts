import { describe, expect, it } from 'vitest';
import { gpuMemoryCheck, hostMemoryCheck } from '../../../agent/rollout/preflight.js';
import type { GpuSample, GpuState } from '../../../shared/protocol/index.js';

const MiB = 2 ** 20;
const gpu = (index: number, total: number | null, used: number | null, over: Partial<GpuSample> = {}) => ({ index, uuid: `GPU-${index}`, name: 'Card', status: 'ok', error: null, fb_total_bytes: total, fb_used_bytes: used, ...over }) as GpuSample;
const state = (gpus: GpuSample[], over: Partial<GpuState> = {}): GpuState => ({ status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: null, cuda_version: null, gpus, ...over });
const cand = [{ version: 'v2', size_bytes: 400 * MiB }];

describe('gpuMemoryCheck', () => {
  it('judges GPU 0 (the CUDA provider\'s device) on max(minimum, 3 × file size) per version', () => {
    const c = gpuMemoryCheck('n1', cand, ['cuda', 'cpu'], state([gpu(1, 80_000 * MiB, 0), gpu(0, 2000 * MiB, 1000 * MiB)]), 512 * MiB);
    expect(c).toMatchObject({ outcome: 'fail', free_bytes: 1000 * MiB, need_bytes: 1200 * MiB });
    expect(c.detail).toBe('n1: loading v2 (400.0 MiB file) with the CUDA provider needs about 1200 MiB on GPU 0 (Card) (max(models.gpu_load_min_bytes 512 MiB, 3× the file size) per version); 1000 MiB are free (fb_total − fb_used)');
    expect(gpuMemoryCheck('n1', [{ version: 'v2', size_bytes: 1000 }], ['cuda'], state([gpu(0, 2000 * MiB, 1000 * MiB)]), 512 * MiB)).toMatchObject({ outcome: 'pass', need_bytes: 512 * MiB });
  });
  it('is skipped, saying why, where it does not apply', () => {
    const s = (d: ReturnType<typeof gpuMemoryCheck>) => [d.outcome, d.detail];
    expect(s(gpuMemoryCheck('n', [], ['cuda'], state([gpu(0, 1, 1)]), 0))[0]).toBe('skipped');
    expect(s(gpuMemoryCheck('n', cand, undefined, state([gpu(0, 1, 1)]), 0))[1]).toMatch(/older than protocol 1.7/);
    expect(s(gpuMemoryCheck('n', cand, ['cpu', 'cuda'], state([gpu(0, 1, 1)]), 0))[1]).toMatch(/cpu provider/);
    expect(s(gpuMemoryCheck('n', cand, ['cuda'], state([], { status: 'absent', reason: 'no NVIDIA driver' }), 0))[1]).toMatch(/no GPU in its telemetry \(absent: no NVIDIA driver\)/);
    expect(s(gpuMemoryCheck('n', cand, ['cuda'], state([gpu(0, null, null, { status: 'error', error: 'GPU is lost' })]), 0))[1]).toMatch(/GPU 0 reports no memory reading \(GPU is lost\)/);
  });
});

describe('hostMemoryCheck', () => {
  it('needs 3 × the file size of every version to load', () => {
    expect(hostMemoryCheck('n', [...cand, { version: 'v1', size_bytes: 100 * MiB }], 1000 * MiB)).toMatchObject({ outcome: 'fail', need_bytes: 1500 * MiB });
    expect(hostMemoryCheck('n', cand, null).outcome).toBe('skipped');
  });
});
