import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDenseModel, readModelInfo } from '../../../agent/serving/onnx-pb.js';
import { modelPath } from './helpers.js';

describe('readModelInfo', () => {
  it('reads the generated fixtures', () => {
    const info = readModelInfo(fs.readFileSync(modelPath('mlp')));
    expect(info).toMatchObject({ irVersion: 8, producer: 'fleetml-onnx-pb', opset: 13, graphName: 'mlp' });
    expect(info.metadata).toMatchObject({ fixture: 'mlp', seed: '4' });
  });
  it('round-trips a model built in memory', () => {
    const bytes = buildDenseModel({ graphName: 'g', layers: [{ inFeatures: 1, outFeatures: 1, weights: [2], bias: [1], activation: 'relu' }], metadata: { a: 'b' }, opset: 14, irVersion: 7 });
    expect(readModelInfo(bytes)).toMatchObject({ irVersion: 7, opset: 14, graphName: 'g', metadata: { a: 'b' } });
  });
  it('rejects an empty file', () => expect(() => readModelInfo(new Uint8Array())).toThrow(/^not an ONNX model: the file is empty/));
  it('rejects a PNG', () => expect(() => readModelInfo(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))).toThrow(/not an ONNX model: .*PNG/));
  it('rejects truncated files', () => {
    const full = fs.readFileSync(modelPath('mlp'));
    for (const n of [1, 2, 10, 100, 1000, full.length >> 1, full.length - 20, full.length - 1]) {
      expect(() => readModelInfo(full.subarray(0, n)), `cut at ${n}`).toThrow(/^not an ONNX model: /);
    }
  });
  it('rejects random bytes', () => {
    let seed = 7;
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 24; };
    for (let k = 0; k < 200; k++) {
      const b = Uint8Array.from({ length: 16 + k * 13 }, rnd);
      expect(() => readModelInfo(b)).toThrow(/^not an ONNX model: /);
    }
  });
  it('rejects text', () => expect(() => readModelInfo(new TextEncoder().encode('hello world, not a model\n'))).toThrow(/^not an ONNX model: /));
});
