import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../../shared/protocol/models.js';
import { floatToHalf, fromJson, halfToFloat, toJson, validateFeeds, zeroFeeds, type RawTensor } from '../../../agent/serving/tensors.js';

const sig: TensorSpec[] = [{ name: 'input', dtype: 'float32', shape: ['batch', 4] }];
const f32 = (dims: number[]): RawTensor => ({ dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });

describe('fromJson / toJson', () => {
  it('converts every datatype', () => {
    expect(fromJson({ name: 'x', datatype: 'FP32', shape: [2], data: [1.5, -2] }).data).toEqual(Float32Array.from([1.5, -2]));
    expect(fromJson({ name: 'x', datatype: 'INT64', shape: [3], data: [1, '-9007199254740993', 3] }).data).toEqual(BigInt64Array.from([1n, -9007199254740993n, 3n]));
    expect(fromJson({ name: 'x', datatype: 'BOOL', shape: [2], data: [true, 0] }).data).toEqual(Uint8Array.from([1, 0]));
    expect(fromJson({ name: 'x', datatype: 'BYTES', shape: [1], data: ['a'] })).toEqual({ dtype: 'string', dims: [1], data: ['a'] });
    expect(fromJson({ name: 'x', datatype: 'UINT8', shape: [1, 1], data: [255] }).dtype).toBe('uint8');
    const h = fromJson({ name: 'x', datatype: 'FP16', shape: [3], data: [1, -0.5, 65504] });
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3c00, 0xb800, 0x7bff]);
    expect(halfToFloat(floatToHalf(0.1))).toBeCloseTo(0.1, 3);
  });
  it('round-trips through toJson', () => {
    for (const t of [
      { name: 'a', datatype: 'FP64', shape: [2, 1], data: [0.25, 3] },
      { name: 'b', datatype: 'INT64', shape: [2], data: [5, '9223372036854775807'] },
      { name: 'c', datatype: 'BOOL', shape: [2], data: [true, false] },
      { name: 'd', datatype: 'INT8', shape: [], data: [-3] },
      { name: 'e', datatype: 'FP16', shape: [1], data: [1.5] },
    ]) expect(toJson(t.name, fromJson(t))).toEqual(t);
  });
  it('errors clearly', () => {
    expect(() => fromJson({ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3] })).toThrow('input "x": shape [2, 2] needs 4 values, got 3');
    expect(() => fromJson({ name: 'x', datatype: 'FLOAT', shape: [1], data: [1] })).toThrow(/input "x": unknown datatype "FLOAT"/);
    expect(() => fromJson({ name: 'x', datatype: 'INT64', shape: [1], data: [2 ** 60] })).toThrow(/beyond ±2\^53.*decimal string/);
    expect(() => fromJson({ name: 'x', datatype: 'INT64', shape: [1], data: ['1.5'] })).toThrow(/expected an integer/);
    expect(() => fromJson({ name: 'x', datatype: 'INT8', shape: [1], data: [300] })).toThrow(/out of range for INT8/);
    expect(() => fromJson({ name: 'x', datatype: 'FP32', shape: [1], data: ['1'] })).toThrow(/FP32 values must be numbers/);
    expect(() => fromJson({ name: 'x', datatype: 'BOOL', shape: [1], data: [2] })).toThrow(/BOOL values must be/);
  });
});

describe('validateFeeds', () => {
  it('accepts any batch size', () => {
    expect(() => validateFeeds(sig, { input: f32([1, 4]) })).not.toThrow();
    expect(() => validateFeeds(sig, { input: f32([17, 4]) })).not.toThrow();
  });
  it('reports each problem', () => {
    expect(() => validateFeeds(sig, {})).toThrow('missing input "input" (expected float32 [batch, 4])');
    expect(() => validateFeeds(sig, { input: f32([1, 4]), extra: f32([1]) })).toThrow('unknown input "extra" (the model\'s inputs are: "input")');
    expect(() => validateFeeds(sig, { input: f32([1, 3]) })).toThrow('input "input": expected shape [batch, 4], got [1, 3]');
    expect(() => validateFeeds(sig, { input: f32([4]) })).toThrow('input "input": expected shape [batch, 4], got [4]');
    expect(() => validateFeeds(sig, { input: { dtype: 'int32', dims: [1, 4], data: new Int32Array(4) } })).toThrow('input "input": expected dtype float32 (FP32), got int32 (INT32)');
    expect(() => validateFeeds(sig, { input: { dtype: 'float32', dims: [2, 4], data: new Float32Array(4) } })).toThrow('input "input": shape [2, 4] needs 8 values, got 4');
    const two: TensorSpec[] = [{ name: 'a', dtype: 'float32', shape: ['batch', 2] }, { name: 'h', dtype: 'float32', shape: [2, 'batch'] }];
    expect(() => validateFeeds(two, { a: f32([3, 2]), h: f32([2, 1]) })).toThrow('input "h": dimension "batch" is 1 here but 3 in input "a"');
  });
  it('zeroFeeds sets dynamic dims to 1', () => {
    expect(zeroFeeds([{ name: 'x', dtype: 'int64', shape: ['batch', '', 3] }]).x).toEqual({ dtype: 'int64', dims: [1, 1, 3], data: new BigInt64Array(3) });
  });
});
