import { describe, it, expect } from 'vitest';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { NvmlGpuSource, initFailure, listProcesses, probeNvml, readGpu } from '../../../agent/telemetry/gpu/nvml.js';
import { loadNvmlLib, type NvmlLib } from '../../../agent/telemetry/gpu/nvml-lib.js';
import { NVML } from '../../../agent/telemetry/gpu/nvml-structs.js';
import { silentLogger } from './helpers.js';
import { fakeLib, fail, ok } from './fake-nvml.js';

const GiB = 2 ** 30;

describe('init error mapping', () => {
  it.each([
    [NVML.DRIVER_NOT_LOADED, 'unavailable', /driver not loaded/],
    [NVML.NO_PERMISSION, 'unavailable', /permission/],
    [NVML.LIB_RM_VERSION_MISMATCH, 'unavailable', /reboot/],
    [NVML.LIBRARY_NOT_FOUND, 'absent', /library not found/],
    [NVML.NOT_FOUND, 'absent', /no NVIDIA GPUs/],
    [NVML.UNKNOWN, 'unavailable', /nvmlInit failed: error 999 \(code 999\)/],
  ])('code %i → %s', async (code, status, reason) => {
    const lib = fakeLib({ nvmlInitWithFlags: async () => code });
    const p = await probeNvml(lib);
    expect(p.status).toBe(status);
    expect(p.status !== 'ok' && p.reason).toMatch(reason);
    expect(initFailure(code, `error ${code}`).status).toBe(status);
  });
});

describe('probe ladder and self-check', () => {
  it('healthy: ok with versions, count and the detail-list API', async () => {
    const p = await probeNvml(fakeLib());
    expect(p).toEqual({ status: 'ok', count: 2, processApi: 'detail-list', driver: '590.48.01', nvmlVersion: '13.590.48.01', cuda: '13.1' });
  });
  it('count 0 → absent, and NVML is shut down again', async () => {
    const lib = fakeLib({ nvmlDeviceGetCount_v2: () => ok(0) });
    expect(await probeNvml(lib)).toEqual({ status: 'absent', reason: 'NVML reports no GPUs' });
    expect(lib.calls).toContain('shutdown');
  });
  it('garbage detail-list records fall back to the legacy layout', async () => {
    const lib = fakeLib();
    const sane = lib.listProcesses;
    lib.listProcesses = async (h, kind, cap, api) =>
      api === 'detail-list' && cap > 0 ? { ret: 0, count: 1, procs: [{ pid: 0, usedGpuMemory: 2 ** 50, gpuInstanceId: 1, computeInstanceId: 1 }] } : sane(h, kind, cap, api);
    expect(await probeNvml(lib)).toMatchObject({ status: 'ok', processApi: 'legacy' });
  });
  it('insane records on every layout → unavailable (auto then tries smi)', async () => {
    const lib = fakeLib({ listProcesses: async (_h, _k, cap) => (cap === 0 ? { ret: 7, count: 1, procs: [] } : { ret: 0, count: 1, procs: [{ pid: 0, usedGpuMemory: 1, gpuInstanceId: null, computeInstanceId: null }] }) });
    expect(await probeNvml(lib)).toMatchObject({ status: 'unavailable', reason: expect.stringContaining('self-check') });
  });
});

describe('sampling', () => {
  it('size-query dance: 0 → INSUFFICIENT_SIZE → count*2+5 → SUCCESS', async () => {
    const lib = fakeLib();
    const r = await listProcesses(lib, 'h0', 'compute', 'detail-list');
    expect(r.procs).toHaveLength(1);
    expect(lib.calls).toEqual(['list:compute:0:detail-list', 'list:compute:7:detail-list']);
  });
  it('maps units and sentinels: mW → W, ULLONG_MAX → null, 0xFFFFFFFF GI/CI → null, NOT_SUPPORTED → null', async () => {
    const g = await readGpu(fakeLib(), 0, 'detail-list');
    expect(g).toMatchObject({ index: 0, uuid: 'GPU-h0', status: 'ok', power_usage_w: 631.95, power_limit_w: 700, fan_speed_pct: null, pstate: 'P0', ecc_mode: 'enabled', ecc_corrected_volatile: 3, mig_mode: 'disabled', fb_total_bytes: 80 * GiB });
    expect(g.processes).toEqual([{ gpu_uuid: 'GPU-h0', pid: 21198, type: 'C', process_name: null, used_gpu_memory_bytes: null, gpu_instance_id: null, compute_instance_id: null }]);
  });
  it('GPU_IS_LOST on one GPU → that GPU status error, the other keeps reporting', async () => {
    const lib = fakeLib({ nvmlDeviceGetUtilizationRates: (h) => (h === 'h1' ? fail(NVML.GPU_IS_LOST) : ok({ gpu: 5, memory: 1 })) });
    const src = new NvmlGpuSource({ choice: 'nvml', fixtures: [], intervalMs: 1000, logger: silentLogger }, { loadLib: async () => lib });
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s.status).toBe('ok');
    expect(s.gpus[0]).toMatchObject({ status: 'ok', gpu_util_pct: 5 });
    expect(s.gpus[1]).toMatchObject({ status: 'error', uuid: 'GPU-h1', error: expect.stringContaining('code 15') });
    await src.dispose();
  });
  it('fills process_name by pid through the cached name lookup (NVML gives none)', async () => {
    const asked: number[] = [];
    const procName = async (pid: number) => (asked.push(pid), pid === 21198 ? '/usr/bin/python3' : null);
    const src = new NvmlGpuSource({ choice: 'nvml', fixtures: [], intervalMs: 1000, logger: silentLogger }, { loadLib: async () => fakeLib(), procName });
    await src.start();
    const s = GpuState.parse(await src.refresh());
    await src.refresh();
    expect(s.gpus.map((g) => g.processes.map((p) => [p.gpu_uuid, p.pid, p.process_name]))).toEqual([
      [['GPU-h0', 21198, '/usr/bin/python3']],
      [['GPU-h1', 21198, '/usr/bin/python3']],
    ]);
    expect(asked).toEqual([21198]); // one read for a pid on two GPUs and over two ticks
    await src.dispose();
  });
  it('LIB_RM_VERSION_MISMATCH mid-run → whole source unavailable', async () => {
    let broken = false;
    const lib = fakeLib({ nvmlDeviceGetTemperature: () => (broken ? fail(NVML.LIB_RM_VERSION_MISMATCH) : ok(40)) });
    const src = new NvmlGpuSource({ choice: 'nvml', fixtures: [], intervalMs: 1000, logger: silentLogger }, { loadLib: async () => lib });
    await src.start();
    broken = true;
    const s = GpuState.parse(await src.refresh());
    expect(s).toMatchObject({ status: 'unavailable', gpus: [], reason: expect.stringContaining('reboot') });
    await src.dispose();
  });
});

describe('real koffi binding without a GPU', () => {
  it('loading libnvidia-ml.so.1 throws here', async () => {
    await expect(loadNvmlLib()).rejects.toThrow(/Failed to load shared library.*\(libnvidia-ml\.so\.1\)$/);
  });
  it('the NVML source reports absent with the reason, never throws', async () => {
    const src = new NvmlGpuSource({ choice: 'nvml', fixtures: [], intervalMs: 1000, reprobeMs: 60_000, logger: silentLogger });
    await src.start();
    const s = GpuState.parse(await src.refresh());
    expect(s).toMatchObject({ status: 'absent', source: 'nvml', gpus: [] });
    expect(s.reason).toMatch(/^NVML library not loadable: Failed to load shared library.*\(libnvidia-ml\.so\.1\)$/);
    await src.dispose();
  });
});
