// NVML constants, struct layouts and pure decoders. Struct sizes/offsets follow the C ABI on x86-64
// (research note §4 table); they are checked against koffi.sizeof/offsetof in the unit tests.
// koffi is passed in rather than imported so importing this file never loads the native addon.
import type * as KoffiNs from 'koffi';

/** The koffi module shape (default export of 'koffi'). */
export type Koffi = typeof KoffiNs;

/** nvmlReturn_t codes we act on (nvml.h). */
export const NVML = {
  SUCCESS: 0,
  UNINITIALIZED: 1,
  INVALID_ARGUMENT: 2,
  NOT_SUPPORTED: 3,
  NO_PERMISSION: 4,
  NOT_FOUND: 6,
  INSUFFICIENT_SIZE: 7,
  DRIVER_NOT_LOADED: 9,
  TIMEOUT: 10,
  LIBRARY_NOT_FOUND: 12,
  FUNCTION_NOT_FOUND: 13,
  GPU_IS_LOST: 15,
  RESET_REQUIRED: 16,
  LIB_RM_VERSION_MISMATCH: 18,
  ARGUMENT_VERSION_MISMATCH: 25,
  UNKNOWN: 999,
} as const;

/** nvmlInitWithFlags flag: succeed on machines with no GPUs (we then see count 0 → absent). */
export const NVML_INIT_FLAG_NO_GPUS = 1;
/** NVML_VALUE_NOT_AVAILABLE for u64 fields (ULLONG_MAX), e.g. usedGpuMemory under WDDM. */
export const NVML_U64_NOT_AVAILABLE = 0xffff_ffff_ffff_ffffn;
/** GI/CI id meaning "not a MIG process". */
export const NVML_ID_NONE = 0xffff_ffff;
/** Versioned struct version = sizeof | (version << 24). */
export const nvmlStructVersion = (size: number, ver: number): number => (size | (ver << 24)) >>> 0;
/** nvmlMemory_v2_t.version (= 0x02000028). */
export const NVML_MEMORY_V2_VERSION = nvmlStructVersion(40, 2);
/** nvmlProcessDetailList_v1_t.version (24-byte list struct, version 1). */
export const NVML_PROCESS_DETAIL_LIST_V1_VERSION = nvmlStructVersion(24, 1);
/** Modes of nvmlDeviceGetRunningProcessDetailList. */
export const NVML_PROCESS_MODE = { compute: 0, graphics: 1, mps: 2 } as const;

/** Byte size of the NUL-terminated string buffers we pass (NVML_DEVICE_NAME_V2_BUFFER_SIZE etc.). */
export const NVML_STRING_BUFFER = 96;

/**
 * How to list processes on this driver (nvitop's rule, note §4):
 * - detail-list: nvmlDeviceGetRunningProcessDetailList with 32-byte nvmlProcessDetail_v1_t;
 * - v3 32 bytes on the broken 535.43–535.86 drivers (v3 + ConfComputeMemSizeInfo, no DetailList);
 * - else v3 / v2 with 24 bytes, else plain v1 with 16 bytes.
 * `legacy` is the per-list symbol path, kept as the fallback when the detail list fails.
 */
export interface ProcessLayout {
  api: 'detail-list' | 'legacy';
  detailRecordSize: 32;
  legacy: { compute: string; graphics: string; recordSize: 16 | 24 | 32; hasInstanceIds: boolean };
}

/** Pick the process API and record layout from which NVML symbols exist. Pure. */
export function selectProcessLayout(symbols: ReadonlySet<string>): ProcessLayout {
  const has = (s: string): boolean => symbols.has(s);
  const detail = has('nvmlDeviceGetRunningProcessDetailList');
  let legacy: ProcessLayout['legacy'];
  if (has('nvmlDeviceGetComputeRunningProcesses_v3')) {
    const broken = has('nvmlDeviceGetConfComputeMemSizeInfo') && !detail;
    legacy = {
      compute: 'nvmlDeviceGetComputeRunningProcesses_v3',
      graphics: 'nvmlDeviceGetGraphicsRunningProcesses_v3',
      recordSize: broken ? 32 : 24,
      hasInstanceIds: true,
    };
  } else if (has('nvmlDeviceGetComputeRunningProcesses_v2')) {
    legacy = { compute: 'nvmlDeviceGetComputeRunningProcesses_v2', graphics: 'nvmlDeviceGetGraphicsRunningProcesses_v2', recordSize: 24, hasInstanceIds: true };
  } else {
    legacy = { compute: 'nvmlDeviceGetComputeRunningProcesses', graphics: 'nvmlDeviceGetGraphicsRunningProcesses', recordSize: 16, hasInstanceIds: false };
  }
  return { api: detail ? 'detail-list' : 'legacy', detailRecordSize: 32, legacy };
}

/** A decoded process record (raw NVML values, before null normalisation). */
export interface RawNvmlProcess {
  pid: number;
  usedGpuMemory: number | bigint;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

/** Decode `count` process records of `recordSize` bytes (16/24/32) from little-endian memory. */
export function decodeProcessRecords(view: DataView, count: number, recordSize: 16 | 24 | 32): RawNvmlProcess[] {
  const out: RawNvmlProcess[] = [];
  for (let i = 0; i < count && (i + 1) * recordSize <= view.byteLength; i++) {
    const o = i * recordSize;
    const mem = view.getBigUint64(o + 8, true);
    out.push({
      pid: view.getUint32(o, true),
      usedGpuMemory: mem <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(mem) : mem,
      gpuInstanceId: recordSize >= 24 ? view.getUint32(o + 16, true) : null,
      computeInstanceId: recordSize >= 24 ? view.getUint32(o + 20, true) : null,
    });
  }
  return out;
}

/** u64 from koffi (Number, or BigInt above 2^53) → Number, or null for ULLONG_MAX/unsafe values. */
export function u64OrNull(v: number | bigint | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** GI/CI id → number, or null for 0xFFFFFFFF ("no MIG"). */
export function instanceIdOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined || v === NVML_ID_NONE ? null : v;
}

/** Cut a fixed-size char[] buffer at the first NUL. */
export function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return Buffer.from(buf.subarray(0, end < 0 ? buf.length : end)).toString('utf8');
}

/** koffi type objects for the NVML structs we use; built once per koffi module. */
export interface NvmlTypes {
  device: unknown;
  utilization: unknown;
  memoryV1: unknown;
  memoryV2: unknown;
  processInfoV1: unknown;
  processInfoV2: unknown;
  processInfo535: unknown;
  processDetailV1: unknown;
  processDetailList: unknown;
  pciInfo: unknown;
  processUtilSample: unknown;
  temperatureV1: unknown;
}

const cache = new WeakMap<object, NvmlTypes>();

/** Define (once) the NVML struct types on a koffi module. Anonymous structs avoid name clashes. */
export function defineNvmlTypes(k: Koffi): NvmlTypes {
  const hit = cache.get(k);
  if (hit) return hit;
  const processDetailV1 = k.struct({ pid: 'uint32', usedGpuMemory: 'uint64', gpuInstanceId: 'uint32', computeInstanceId: 'uint32', usedGpuCcProtectedMemory: 'uint64' });
  const types: NvmlTypes = {
    device: k.pointer(k.opaque()),
    utilization: k.struct({ gpu: 'uint32', memory: 'uint32' }),
    memoryV1: k.struct({ total: 'uint64', free: 'uint64', used: 'uint64' }),
    memoryV2: k.struct({ version: 'uint32', total: 'uint64', reserved: 'uint64', free: 'uint64', used: 'uint64' }),
    processInfoV1: k.struct({ pid: 'uint32', usedGpuMemory: 'uint64' }),
    processInfoV2: k.struct({ pid: 'uint32', usedGpuMemory: 'uint64', gpuInstanceId: 'uint32', computeInstanceId: 'uint32' }),
    processInfo535: processDetailV1,
    processDetailV1,
    // procArray is declared void* so we can hand NVML memory from koffi.alloc and decode it ourselves.
    processDetailList: k.struct({ version: 'uint32', mode: 'uint32', numProcArrayEntries: 'uint32', procArray: 'void *' }),
    pciInfo: k.struct({
      busIdLegacy: k.array('char', 16),
      domain: 'uint32',
      bus: 'uint32',
      device: 'uint32',
      pciDeviceId: 'uint32',
      pciSubSystemId: 'uint32',
      busId: k.array('char', 32),
    }),
    processUtilSample: k.struct({ pid: 'uint32', timeStamp: 'uint64', smUtil: 'uint32', memUtil: 'uint32', encUtil: 'uint32', decUtil: 'uint32' }),
    temperatureV1: k.struct({ version: 'uint32', sensorType: 'int', temperature: 'int' }),
  };
  cache.set(k, types);
  return types;
}
