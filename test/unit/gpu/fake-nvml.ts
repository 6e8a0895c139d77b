// A working fake NVML binding (same method names as agent/telemetry/gpu/nvml-lib.ts, canned return codes) for the
// NVML mapping layer's tests: 2 healthy H100s by default; any method can be overridden.
import type { NvmlLib } from '../../../agent/telemetry/gpu/nvml-lib.js';
import { NVML } from '../../../agent/telemetry/gpu/nvml-structs.js';

const GiB = 2 ** 30;
/** A successful NVML result. */
export const ok = <T>(value: T) => Promise.resolve({ ret: 0, value });
/** A failed NVML result with the given code. */
export const fail = (ret: number) => Promise.resolve({ ret, value: null });

/** A fake NVML with the binding's method names and canned return codes: 2 healthy GPUs by default. */
export function fakeLib(over: Partial<NvmlLib> & { calls?: string[] } = {}): NvmlLib & { calls: string[] } {
  const calls: string[] = over.calls ?? [];
  const base: NvmlLib = {
    symbols: new Set(['nvmlDeviceGetRunningProcessDetailList', 'nvmlDeviceGetComputeRunningProcesses_v3']),
    nvmlInitWithFlags: async () => { calls.push('init'); return 0; },
    nvmlShutdown: async () => { calls.push('shutdown'); return 0; },
    nvmlErrorString: (r) => `error ${r}`,
    nvmlSystemGetDriverVersion: () => ok('590.48.01'),
    nvmlSystemGetNVMLVersion: () => ok('13.590.48.01'),
    nvmlSystemGetCudaDriverVersion_v2: () => ok(13010),
    nvmlDeviceGetCount_v2: () => ok(2),
    nvmlDeviceGetHandleByIndex_v2: (i) => ok(`h${i}`),
    nvmlDeviceGetName: () => ok('NVIDIA H100 80GB HBM3'),
    nvmlDeviceGetUUID: (h) => ok(`GPU-${String(h)}`),
    nvmlDeviceGetPciInfo_v3: () => ok('00000000:00:09.0'),
    nvmlDeviceGetMemoryInfo_v2: () => ok({ total: 80 * GiB, reserved: 1 * GiB, free: 60 * GiB, used: 19 * GiB }),
    nvmlDeviceGetUtilizationRates: () => ok({ gpu: 100, memory: 11 }),
    nvmlDeviceGetTemperature: () => ok(59),
    nvmlDeviceGetPowerUsage: () => ok(631_950),
    nvmlDeviceGetEnforcedPowerLimit: () => ok(700_000),
    nvmlDeviceGetClockInfo: (_h, type) => ok(type === 1 ? 1980 : 2619),
    nvmlDeviceGetFanSpeed: () => fail(NVML.NOT_SUPPORTED),
    nvmlDeviceGetPerformanceState: () => ok(0),
    nvmlDeviceGetCurrPcieLinkGeneration: () => ok(5),
    nvmlDeviceGetCurrPcieLinkWidth: () => ok(16),
    nvmlDeviceGetEccMode: () => ok({ current: 1, pending: 1 }),
    nvmlDeviceGetTotalEccErrors: (_h, e) => ok(e === 0 ? 3 : 0),
    nvmlDeviceGetPersistenceMode: () => ok(1),
    nvmlDeviceGetMigMode: () => ok({ current: 0, pending: 0 }),
    nvmlDeviceGetMaxMigDeviceCount: () => ok(0),
    nvmlDeviceGetMigDeviceHandleByIndex: () => fail(NVML.NOT_FOUND),
    nvmlDeviceGetGpuInstanceId: () => fail(NVML.NOT_SUPPORTED),
    nvmlDeviceGetComputeInstanceId: () => fail(NVML.NOT_SUPPORTED),
    listProcesses: async (_h, kind, capacity, api) => {
      calls.push(`list:${kind}:${capacity}:${api}`);
      if (kind === 'graphics') return { ret: 0, count: 0, procs: [] };
      if (capacity === 0) return { ret: NVML.INSUFFICIENT_SIZE, count: 1, procs: [] };
      return { ret: 0, count: 1, procs: [{ pid: 21198, usedGpuMemory: 0xffffffffffffffffn, gpuInstanceId: 0xffffffff, computeInstanceId: 0xffffffff }] };
    },
  };
  return Object.assign(base, over, { calls });
}


/** Wrap a lib so that every call of each method is counted (by method name). */
export function countingLib(lib: NvmlLib): { lib: NvmlLib; count: Map<string, number> } {
  const count = new Map<string, number>();
  const wrapped = { ...lib } as Record<string, unknown>;
  for (const [k, v] of Object.entries(lib)) {
    if (typeof v === 'function') wrapped[k] = (...a: unknown[]) => { count.set(k, (count.get(k) ?? 0) + 1); return (v as (...x: unknown[]) => unknown)(...a); };
  }
  return { lib: wrapped as unknown as NvmlLib, count };
}
