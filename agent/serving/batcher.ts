import type { TensorSpec } from '../../shared/protocol/index.js';
import { allocData, elementCount, isDynamicDim, type RawTensor } from './tensors.js';

// Dynamic batching like Triton's: requests for one model version wait at most `maxQueueDelayUs` to be run together,
// up to `maxBatchSize` rows (along the first dimension). Only models whose every input and output has a dynamic
// first dimension can batch; requests whose other dimensions differ are run in separate batches.

/** Batching settings of one loaded version. */
export interface BatchingOptions { maxBatchSize: number; maxQueueDelayUs: number }

/** True when a signature can be batched along dimension 0. */
export function batchable(inputs: TensorSpec[], outputs: TensorSpec[]): boolean {
  return [...inputs, ...outputs].every((t) => t.shape.length > 0 && isDynamicDim(t.shape[0]));
}

/** Concatenate feeds along dimension 0 (same names, dtypes and trailing dims). Pure. */
export function concatFeeds(parts: Array<Record<string, RawTensor>>): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const name of Object.keys(parts[0])) {
    const ts = parts.map((p) => p[name]);
    const rows = ts.reduce((a, t) => a + t.dims[0], 0);
    const dims = [rows, ...ts[0].dims.slice(1)];
    if (Array.isArray(ts[0].data)) { out[name] = { dtype: ts[0].dtype, dims, data: ts.flatMap((t) => t.data as string[]) }; continue; }
    const data = allocData(ts[0].dtype, elementCount(dims)) as Exclude<RawTensor['data'], string[]>;
    let off = 0;
    for (const t of ts) { (data as Float32Array).set(t.data as Float32Array, off); off += (t.data as Float32Array).length; }
    out[name] = { dtype: ts[0].dtype, dims, data };
  }
  return out;
}

/** Split outputs of a batch back into per-request outputs by their row counts. Pure. */
export function splitOutputs(outputs: Record<string, RawTensor>, rows: number[]): Array<Record<string, RawTensor>> {
  const res: Array<Record<string, RawTensor>> = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    const per = t.dims[0] === 0 ? 0 : elementCount(t.dims) / t.dims[0];
    let r0 = 0;
    rows.forEach((n, i) => {
      const dims = [n, ...t.dims.slice(1)];
      const data = Array.isArray(t.data) ? t.data.slice(r0 * per, (r0 + n) * per) : (t.data as Float32Array).slice(r0 * per, (r0 + n) * per);
      res[i][name] = { dtype: t.dtype, dims, data: data as RawTensor['data'] };
      r0 += n;
    });
  }
  return res;
}

interface Waiting { feeds: Record<string, RawTensor>; rows: number; resolve: (o: { outputs: Record<string, RawTensor>; computeUs: number; batch: number }) => void; reject: (e: Error) => void }

/** Collects requests of one version and runs them in batches through `run`. */
export class Batcher {
  private queues = new Map<string, { items: Waiting[]; rows: number; timer: NodeJS.Timeout | null }>();
  constructor(private readonly o: BatchingOptions, private readonly run: (feeds: Record<string, RawTensor>) => Promise<{ outputs: Record<string, RawTensor>; computeUs: number }>) {}

  /** Queue a request; resolves with its own outputs and the size of the batch it ran in. */
  submit(feeds: Record<string, RawTensor>): Promise<{ outputs: Record<string, RawTensor>; computeUs: number; batch: number }> {
    const rows = Object.values(feeds)[0]?.dims[0] ?? 1;
    if (rows >= this.o.maxBatchSize) return this.run(feeds).then((r) => ({ ...r, batch: rows }));
    // requests batch together only with the same names, dtypes and trailing dimensions
    const key = Object.entries(feeds).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, t]) => `${n}:${t.dtype}:${t.dims.slice(1).join('x')}`).join('|');
    return new Promise((resolve, reject) => {
      let q = this.queues.get(key);
      if (!q) this.queues.set(key, (q = { items: [], rows: 0, timer: null }));
      if (q.rows + rows > this.o.maxBatchSize) this.flush(key);
      q = this.queues.get(key) ?? (this.queues.set(key, { items: [], rows: 0, timer: null }), this.queues.get(key)!);
      q.items.push({ feeds, rows, resolve, reject });
      q.rows += rows;
      if (q.rows >= this.o.maxBatchSize) this.flush(key);
      else if (!q.timer) q.timer = setTimeout(() => this.flush(key), Math.max(0, this.o.maxQueueDelayUs / 1000));
    });
  }

  private flush(key: string): void {
    const q = this.queues.get(key);
    if (!q || q.items.length === 0) return;
    this.queues.delete(key);
    if (q.timer) clearTimeout(q.timer);
    const items = q.items;
    const run = items.length === 1 ? this.run(items[0].feeds) : this.run(concatFeeds(items.map((w) => w.feeds)));
    run.then((r) => {
      const parts = items.length === 1 ? [r.outputs] : splitOutputs(r.outputs, items.map((w) => w.rows));
      items.forEach((w, i) => w.resolve({ outputs: parts[i], computeUs: r.computeUs, batch: q.rows }));
    }, (e) => items.forEach((w) => w.reject(e as Error)));
  }

  /** Reject everything still waiting (unload). */
  dispose(): void {
    for (const [k, q] of this.queues) { if (q.timer) clearTimeout(q.timer); q.items.forEach((w) => w.reject(new Error('model unloaded'))); this.queues.delete(k); }
  }
}
