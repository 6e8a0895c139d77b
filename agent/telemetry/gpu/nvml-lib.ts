// The thin koffi binding of libnvidia-ml. Every call runs through koffi's `.async` (libuv worker
// threads; NVML is thread-safe) so nvmlInit's seconds and PCIe's 20 ms never block the event loop.
// Only versioned symbols are bound: over FFI the plain names are often the legacy layouts (§4).
// The NvmlLib interface is what nvml.ts consumes; tests replace it with a fake with canned codes.
import {
  NVML, NVML_MEMORY_V2_VERSION, NVML_PROCESS_DETAIL_LIST_V1_VERSION, NVML_PROCESS_MODE, NVML_STRING_BUFFER,
  cString, decodeProcessRecords, defineNvmlTypes, selectProcessLayout, type Koffi, type ProcessLayout, type RawNvmlProcess,
} from './nvml-structs.js';

/** Return code plus the value an out-parameter produced (null unless ret is SUCCESS). */
export interface NvmlResult<T> {
  ret: number;
  value: T | null;
}
/** Opaque device handle (a BigInt pointer in koffi 3; anything in fakes). */
export type NvmlHandle = unknown;
/** u64 as koffi returns it: Number up to 2^53, BigInt above. */
export type U64 = number | bigint;

/** The NVML calls fleetml uses, named after the C functions, async, with out-params returned. */
export interface NvmlLib {
  readonly symbols: ReadonlySet<string>;
  nvmlInitWithFlags(flags: number): Promise<number>;
  nvmlShutdown(): Promise<number>;
  nvmlErrorString(ret: number): string;
  nvmlSystemGetDriverVersion(): Promise<NvmlResult<string>>;
  nvmlSystemGetNVMLVersion(): Promise<NvmlResult<string>>;
  nvmlSystemGetCudaDriverVersion_v2(): Promise<NvmlResult<number>>;
  nvmlDeviceGetCount_v2(): Promise<NvmlResult<number>>;
  nvmlDeviceGetHandleByIndex_v2(index: number): Promise<NvmlResult<NvmlHandle>>;
  nvmlDeviceGetName(h: NvmlHandle): Promise<NvmlResult<string>>;
  nvmlDeviceGetUUID(h: NvmlHandle): Promise<NvmlResult<string>>;
  nvmlDeviceGetPciInfo_v3(h: NvmlHandle): Promise<NvmlResult<string>>;
  nvmlDeviceGetMemoryInfo_v2(h: NvmlHandle): Promise<NvmlResult<{ total: U64; reserved: U64 | null; free: U64; used: U64 }>>;
  nvmlDeviceGetUtilizationRates(h: NvmlHandle): Promise<NvmlResult<{ gpu: number; memory: number }>>;
  nvmlDeviceGetTemperature(h: NvmlHandle, sensor: number): Promise<NvmlResult<number>>;
  nvmlDeviceGetPowerUsage(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetEnforcedPowerLimit(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetClockInfo(h: NvmlHandle, type: number): Promise<NvmlResult<number>>;
  nvmlDeviceGetFanSpeed(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetPerformanceState(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetCurrPcieLinkGeneration(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetCurrPcieLinkWidth(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetEccMode(h: NvmlHandle): Promise<NvmlResult<{ current: number; pending: number }>>;
  nvmlDeviceGetTotalEccErrors(h: NvmlHandle, errorType: number, counterType: number): Promise<NvmlResult<U64>>;
  nvmlDeviceGetPersistenceMode(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetMigMode(h: NvmlHandle): Promise<NvmlResult<{ current: number; pending: number }>>;
  nvmlDeviceGetMaxMigDeviceCount(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetMigDeviceHandleByIndex(h: NvmlHandle, index: number): Promise<NvmlResult<NvmlHandle>>;
  nvmlDeviceGetGpuInstanceId(h: NvmlHandle): Promise<NvmlResult<number>>;
  nvmlDeviceGetComputeInstanceId(h: NvmlHandle): Promise<NvmlResult<number>>;
  /**
   * One process-list call with room for `capacity` records (0 = size query). Returns NVML's count
   * (the needed size on INSUFFICIENT_SIZE) and the decoded records on SUCCESS.
   */
  listProcesses(h: NvmlHandle, kind: 'compute' | 'graphics', capacity: number, api: ProcessLayout['api']): Promise<{ ret: number; count: number; procs: RawNvmlProcess[] }>;
}

// Symbols whose presence drives layout choices or optional calls.
const PROBED_SYMBOLS = [
  'nvmlInitWithFlags', 'nvmlDeviceGetRunningProcessDetailList', 'nvmlDeviceGetConfComputeMemSizeInfo',
  'nvmlDeviceGetComputeRunningProcesses', 'nvmlDeviceGetComputeRunningProcesses_v2', 'nvmlDeviceGetComputeRunningProcesses_v3',
  'nvmlDeviceGetGraphicsRunningProcesses', 'nvmlDeviceGetGraphicsRunningProcesses_v2', 'nvmlDeviceGetGraphicsRunningProcesses_v3',
  'nvmlDeviceGetMemoryInfo_v2', 'nvmlDeviceGetMigMode', 'nvmlSystemGetCudaDriverVersion_v2',
];

/** Library file name per platform. */
export const NVML_LIBRARY = process.platform === 'win32' ? 'nvml.dll' : 'libnvidia-ml.so.1';

/**
 * Import koffi and load NVML. Throws (with koffi's message) when koffi or the library is missing;
 * the caller maps that to status 'absent'. Nothing here runs at import time.
 */
export async function loadNvmlLib(libraryPath: string = NVML_LIBRARY): Promise<NvmlLib> {
  const mod = (await import('koffi')) as unknown as { default?: Koffi } & Koffi;
  const k: Koffi = mod.default ?? mod;
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = k.load(libraryPath);
  } catch (err) {
    // koffi 3's message drops the file name ("Failed to load shared library: cannot open shared
    // object file: …"); name it, since that is what an operator has to go and find.
    throw new Error(`${(err as Error).message} (${libraryPath})`, { cause: err });
  }
  const t = defineNvmlTypes(k);
  const symbols = new Set<string>();
  for (const s of PROBED_SYMBOLS) {
    try {
      lib.symbol(s);
      symbols.add(s);
    } catch {
      /* absent on this driver */
    }
  }
  const layout = selectProcessLayout(symbols);
  type Fn = { async: (...a: unknown[]) => void } | null;
  const bound = new Map<string, Fn>();
  const fn = (name: string, ret: string, args: unknown[]): Fn => {
    if (!bound.has(name)) {
      try {
        bound.set(name, lib.func(name, ret, args as never) as unknown as Fn);
      } catch {
        bound.set(name, null); // missing symbol → FUNCTION_NOT_FOUND at call time
      }
    }
    return bound.get(name)!;
  };
  const call = (f: Fn, ...args: unknown[]): Promise<number> =>
    f === null
      ? Promise.resolve(NVML.FUNCTION_NOT_FOUND)
      : new Promise((res, rej) => f.async(...args, (err: unknown, r: number) => (err ? rej(err) : res(r))));
  const ok = <T>(ret: number, v: T): NvmlResult<T> => ({ ret, value: ret === NVML.SUCCESS ? v : null });
  const outU32 = k.out(k.pointer('uint32'));
  const outU64 = k.out(k.pointer('uint64'));
  const outDev = k.out(k.pointer(t.device as never));
  const dev = t.device as never;

  const scalar = (name: string, extra: string[] = []) => async (h: NvmlHandle, ...xs: number[]): Promise<NvmlResult<number>> => {
    const o = [0];
    const r = await call(fn(name, 'int', [dev, ...extra, outU32]), h, ...xs, o);
    return ok(r, o[0]);
  };
  const text = (name: string, withDevice: boolean) => async (h?: NvmlHandle): Promise<NvmlResult<string>> => {
    const buf = Buffer.alloc(NVML_STRING_BUFFER);
    const r = withDevice
      ? await call(fn(name, 'int', [dev, 'char *', 'uint32']), h, buf, buf.length)
      : await call(fn(name, 'int', ['char *', 'uint32']), buf, buf.length);
    return ok(r, cString(buf));
  };
  const pair = (name: string) => async (h: NvmlHandle): Promise<NvmlResult<{ current: number; pending: number }>> => {
    const a = [0], b = [0];
    const r = await call(fn(name, 'int', [dev, outU32, outU32]), h, a, b);
    return ok(r, { current: a[0], pending: b[0] });
  };
  const handle = (name: string, withDevice: boolean) => async (...args: unknown[]): Promise<NvmlResult<NvmlHandle>> => {
    const o: unknown[] = [null];
    const r = withDevice
      ? await call(fn(name, 'int', [dev, 'uint32', outDev]), ...args, o)
      : await call(fn(name, 'int', ['uint32', outDev]), ...args, o);
    return ok(r, o[0]);
  };

  const errorString = lib.func('nvmlErrorString', 'const char *', ['int']) as unknown as (r: number) => string;

  return {
    symbols,
    nvmlInitWithFlags: (flags) => call(fn('nvmlInitWithFlags', 'int', ['uint32']), flags),
    nvmlShutdown: () => call(fn('nvmlShutdown', 'int', [])),
    nvmlErrorString: (r) => errorString(r) ?? `NVML error ${r}`,
    nvmlSystemGetDriverVersion: text('nvmlSystemGetDriverVersion', false),
    nvmlSystemGetNVMLVersion: text('nvmlSystemGetNVMLVersion', false),
    nvmlSystemGetCudaDriverVersion_v2: async () => {
      const o = [0];
      const r = await call(fn('nvmlSystemGetCudaDriverVersion_v2', 'int', [k.out(k.pointer('int'))]), o);
      return ok(r, o[0]);
    },
    nvmlDeviceGetCount_v2: async () => {
      const o = [0];
      const r = await call(fn('nvmlDeviceGetCount_v2', 'int', [outU32]), o);
      return ok(r, o[0]);
    },
    nvmlDeviceGetHandleByIndex_v2: handle('nvmlDeviceGetHandleByIndex_v2', false),
    nvmlDeviceGetName: text('nvmlDeviceGetName', true),
    nvmlDeviceGetUUID: text('nvmlDeviceGetUUID', true),
    nvmlDeviceGetPciInfo_v3: async (h) => {
      const o: Record<string, unknown> = {};
      const r = await call(fn('nvmlDeviceGetPciInfo_v3', 'int', [dev, k.out(k.pointer(t.pciInfo as never))]), h, o);
      return ok(r, String(o.busId ?? ''));
    },
    nvmlDeviceGetMemoryInfo_v2: async (h) => {
      if (symbols.has('nvmlDeviceGetMemoryInfo_v2')) {
        const o: Record<string, U64> = { version: NVML_MEMORY_V2_VERSION, total: 0, reserved: 0, free: 0, used: 0 };
        const r = await call(fn('nvmlDeviceGetMemoryInfo_v2', 'int', [dev, k.inout(k.pointer(t.memoryV2 as never))]), h, o);
        if (r !== NVML.FUNCTION_NOT_FOUND && r !== NVML.ARGUMENT_VERSION_MISMATCH) return ok(r, { total: o.total, reserved: o.reserved, free: o.free, used: o.used });
      }
      // v1: `used` includes reserved memory on drivers ≥ 510.39, and there is no reserved field.
      const o: Record<string, U64> = {};
      const r = await call(fn('nvmlDeviceGetMemoryInfo', 'int', [dev, k.out(k.pointer(t.memoryV1 as never))]), h, o);
      return ok(r, { total: o.total, reserved: null, free: o.free, used: o.used });
    },
    nvmlDeviceGetUtilizationRates: async (h) => {
      const o: Record<string, number> = {};
      const r = await call(fn('nvmlDeviceGetUtilizationRates', 'int', [dev, k.out(k.pointer(t.utilization as never))]), h, o);
      return ok(r, { gpu: o.gpu, memory: o.memory });
    },
    nvmlDeviceGetTemperature: scalar('nvmlDeviceGetTemperature', ['int']),
    nvmlDeviceGetPowerUsage: scalar('nvmlDeviceGetPowerUsage'),
    nvmlDeviceGetEnforcedPowerLimit: scalar('nvmlDeviceGetEnforcedPowerLimit'),
    nvmlDeviceGetClockInfo: scalar('nvmlDeviceGetClockInfo', ['int']),
    nvmlDeviceGetFanSpeed: scalar('nvmlDeviceGetFanSpeed'),
    nvmlDeviceGetPerformanceState: scalar('nvmlDeviceGetPerformanceState'),
    nvmlDeviceGetCurrPcieLinkGeneration: scalar('nvmlDeviceGetCurrPcieLinkGeneration'),
    nvmlDeviceGetCurrPcieLinkWidth: scalar('nvmlDeviceGetCurrPcieLinkWidth'),
    nvmlDeviceGetEccMode: pair('nvmlDeviceGetEccMode'),
    nvmlDeviceGetTotalEccErrors: async (h, errType, counterType) => {
      const o: U64[] = [0];
      const r = await call(fn('nvmlDeviceGetTotalEccErrors', 'int', [dev, 'int', 'int', outU64]), h, errType, counterType, o);
      return ok(r, o[0]);
    },
    nvmlDeviceGetPersistenceMode: scalar('nvmlDeviceGetPersistenceMode'),
    nvmlDeviceGetMigMode: pair('nvmlDeviceGetMigMode'),
    nvmlDeviceGetMaxMigDeviceCount: scalar('nvmlDeviceGetMaxMigDeviceCount'),
    nvmlDeviceGetMigDeviceHandleByIndex: handle('nvmlDeviceGetMigDeviceHandleByIndex', true),
    nvmlDeviceGetGpuInstanceId: scalar('nvmlDeviceGetGpuInstanceId'),
    nvmlDeviceGetComputeInstanceId: scalar('nvmlDeviceGetComputeInstanceId'),
    listProcesses: async (h, kind, capacity, api) => {
      const size = api === 'detail-list' ? layout.detailRecordSize : layout.legacy.recordSize;
      // koffi.alloc memory: NVML writes records there; we decode them with our own layout table.
      const mem = capacity > 0 ? (k.alloc('uint8', capacity * size) as bigint) : null;
      try {
        let r: number;
        let count: number;
        if (api === 'detail-list') {
          const list = { version: NVML_PROCESS_DETAIL_LIST_V1_VERSION, mode: NVML_PROCESS_MODE[kind], numProcArrayEntries: capacity, procArray: mem };
          r = await call(fn('nvmlDeviceGetRunningProcessDetailList', 'int', [dev, k.inout(k.pointer(t.processDetailList as never))]), h, list);
          count = list.numProcArrayEntries;
        } else {
          const c = [capacity];
          r = await call(fn(layout.legacy[kind], 'int', [dev, k.inout(k.pointer('uint32')), 'void *']), h, c, mem);
          count = c[0];
        }
        const procs = r === NVML.SUCCESS && mem !== null ? decodeProcessRecords(new DataView(k.view(mem, capacity * size)), Math.min(count, capacity), size) : [];
        return { ret: r, count, procs };
      } finally {
        if (mem !== null) k.free(mem);
      }
    },
  };
}
