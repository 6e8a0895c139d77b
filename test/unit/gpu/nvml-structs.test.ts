import { describe, it, expect } from 'vitest';
import koffi from 'koffi';
import {
  NVML_MEMORY_V2_VERSION, NVML_PROCESS_DETAIL_LIST_V1_VERSION, decodeProcessRecords, defineNvmlTypes, instanceIdOrNull,
  selectProcessLayout, u64OrNull, cString,
} from '../../../agent/telemetry/gpu/nvml-structs.js';
import { readFixture } from './helpers.js';

const t = defineNvmlTypes(koffi);
const size = (x: unknown) => koffi.sizeof(x as never);
const off = (x: unknown, m: string) => koffi.offsetof(x as never, m);

describe('NVML struct layouts (x86-64 C ABI, research note §4)', () => {
  it('matches the sizes and offsets of the note table', () => {
    expect([size(t.utilization), off(t.utilization, 'memory')]).toEqual([8, 4]);
    expect([size(t.memoryV1), off(t.memoryV1, 'free'), off(t.memoryV1, 'used')]).toEqual([24, 8, 16]);
    expect([size(t.memoryV2), off(t.memoryV2, 'total'), off(t.memoryV2, 'reserved'), off(t.memoryV2, 'free'), off(t.memoryV2, 'used')]).toEqual([40, 8, 16, 24, 32]);
    expect([size(t.processInfoV1), off(t.processInfoV1, 'usedGpuMemory')]).toEqual([16, 8]);
    expect([size(t.processInfoV2), off(t.processInfoV2, 'gpuInstanceId'), off(t.processInfoV2, 'computeInstanceId')]).toEqual([24, 16, 20]);
    expect([size(t.processInfo535), off(t.processInfo535, 'usedGpuCcProtectedMemory')]).toEqual([32, 24]);
    expect(size(t.processDetailV1)).toBe(32);
    expect([size(t.processDetailList), off(t.processDetailList, 'procArray')]).toEqual([24, 16]);
    expect([size(t.pciInfo), off(t.pciInfo, 'domain'), off(t.pciInfo, 'busId')]).toEqual([68, 16, 36]);
    expect([size(t.processUtilSample), off(t.processUtilSample, 'timeStamp'), off(t.processUtilSample, 'decUtil')]).toEqual([32, 8, 28]);
    expect([size(t.temperatureV1), off(t.temperatureV1, 'temperature')]).toEqual([12, 8]);
  });
  it('versioned struct constants', () => {
    expect(NVML_MEMORY_V2_VERSION).toBe(0x02000028);
    expect(NVML_PROCESS_DETAIL_LIST_V1_VERSION).toBe(0x01000018);
  });
  it('defines the types once per koffi module', () => {
    expect(defineNvmlTypes(koffi)).toBe(t);
  });
});

describe('process layout from symbol presence', () => {
  const symbols590 = new Set(readFixture('nvml-symbols-590.48.01.txt').split('\n').map((s) => s.trim()).filter(Boolean));
  it('the 590.48 symbol list has 405 functions', () => {
    expect(symbols590.size).toBe(405);
  });
  it('590: RunningProcessDetailList, with the 24-byte _v3 path as fallback', () => {
    const l = selectProcessLayout(symbols590);
    expect(l.api).toBe('detail-list');
    expect(l.detailRecordSize).toBe(32);
    expect(l.legacy).toEqual({ compute: 'nvmlDeviceGetComputeRunningProcesses_v3', graphics: 'nvmlDeviceGetGraphicsRunningProcesses_v3', recordSize: 24, hasInstanceIds: true });
  });
  it('broken 535.43–535.86: _v3 + ConfComputeMemSizeInfo without DetailList → 32 bytes', () => {
    const s = new Set([...symbols590].filter((x) => x !== 'nvmlDeviceGetRunningProcessDetailList'));
    expect(selectProcessLayout(s)).toMatchObject({ api: 'legacy', legacy: { recordSize: 32 } });
  });
  it('older drivers: _v2 24 bytes, then plain v1 16 bytes', () => {
    expect(selectProcessLayout(new Set(['nvmlDeviceGetComputeRunningProcesses_v2'])).legacy).toMatchObject({ recordSize: 24, compute: 'nvmlDeviceGetComputeRunningProcesses_v2' });
    expect(selectProcessLayout(new Set(['nvmlDeviceGetComputeRunningProcesses'])).legacy).toMatchObject({ recordSize: 16, hasInstanceIds: false });
  });
});

describe('decoders', () => {
  it('decodes 24-byte records and keeps ULLONG_MAX as a BigInt', () => {
    const buf = Buffer.alloc(48);
    buf.writeUInt32LE(1234, 0); buf.writeBigUInt64LE(1005n * 2n ** 20n, 8); buf.writeUInt32LE(0xffffffff, 16); buf.writeUInt32LE(0xffffffff, 20);
    buf.writeUInt32LE(99, 24); buf.writeBigUInt64LE(0xffffffffffffffffn, 32); buf.writeUInt32LE(2, 40); buf.writeUInt32LE(0, 44);
    const r = decodeProcessRecords(new DataView(buf.buffer, buf.byteOffset, buf.length), 2, 24);
    expect(r[0]).toEqual({ pid: 1234, usedGpuMemory: 1005 * 2 ** 20, gpuInstanceId: 0xffffffff, computeInstanceId: 0xffffffff });
    expect(r[1].usedGpuMemory).toBe(0xffffffffffffffffn);
    expect(u64OrNull(r[1].usedGpuMemory)).toBeNull();
    expect(instanceIdOrNull(r[0].gpuInstanceId)).toBeNull();
    expect(instanceIdOrNull(r[1].gpuInstanceId)).toBe(2);
  });
  it('reading 32-byte records as 24 gives garbage, which is why the layout matters', () => {
    const buf = Buffer.alloc(64);
    buf.writeUInt32LE(10, 0); buf.writeUInt32LE(11, 32);
    const wrong = decodeProcessRecords(new DataView(buf.buffer, buf.byteOffset, buf.length), 2, 24);
    expect(wrong[1].pid).not.toBe(11);
    expect(decodeProcessRecords(new DataView(buf.buffer, buf.byteOffset, buf.length), 2, 32)[1].pid).toBe(11);
  });
  it('u64OrNull and cString', () => {
    expect(u64OrNull(5n)).toBe(5);
    expect(u64OrNull(2n ** 60n)).toBeNull();
    expect(cString(Buffer.from('GPU-abc\0junk'))).toBe('GPU-abc');
  });
});
