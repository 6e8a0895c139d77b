import { describe, expect, it } from 'vitest';
import { Batcher, batchable, concatFeeds, splitOutputs } from '../../../agent/serving/batcher.js';
import type { RawTensor } from '../../../agent/serving/tensors.js';

const t = (rows: number, cols: number, start: number): RawTensor => ({ dtype: 'float32', dims: [rows, cols], data: Float32Array.from({ length: rows * cols }, (_, i) => start + i) });

describe('dynamic batching', () => {
  it('batches only signatures with a dynamic first dimension everywhere', () => {
    expect(batchable([{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }])).toBe(true);
    expect(batchable([{ name: 'x', dtype: 'float32', shape: [1, 4] }], [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }])).toBe(false);
  });
  it('concatenates along rows and splits the outputs back exactly', () => {
    const c = concatFeeds([{ x: t(1, 2, 0) }, { x: t(2, 2, 10) }]);
    expect(c.x.dims).toEqual([3, 2]);
    expect(Array.from(c.x.data as Float32Array)).toEqual([0, 1, 10, 11, 12, 13]);
    const parts = splitOutputs({ y: t(3, 1, 100) }, [1, 2]);
    expect(parts.map((p) => Array.from(p.y.data as Float32Array))).toEqual([[100], [101, 102]]);
    expect(parts[1].y.dims).toEqual([2, 1]);
  });
  it('runs concurrent requests as one batch within the delay, each getting its own rows back', async () => {
    const runs: number[] = [];
    const b = new Batcher({ maxBatchSize: 8, maxQueueDelayUs: 20_000 }, async (feeds) => {
      runs.push(feeds.x.dims[0]);
      const d = feeds.x.data as Float32Array;
      return { outputs: { y: { dtype: 'float32', dims: [feeds.x.dims[0], 1], data: Float32Array.from({ length: feeds.x.dims[0] }, (_, r) => d[r * 2] * 2) } }, computeUs: 5 };
    });
    const res = await Promise.all([0, 1, 2, 3].map((i) => b.submit({ x: t(1, 2, i * 10) })));
    expect(runs).toEqual([4]);
    expect(res.map((r) => (r.outputs.y.data as Float32Array)[0])).toEqual([0, 20, 40, 60]);
    expect(res.every((r) => r.batch === 4)).toBe(true);
    // a full batch runs at once, without waiting for the delay
    runs.length = 0;
    await Promise.all(Array.from({ length: 8 }, (_, i) => b.submit({ x: t(1, 2, i) })));
    expect(runs).toEqual([8]);
  });
});
