import type { AgentClient } from '../../shared/client/agent-client.js';

/** The demo credit features (logreg.onnx: 4 inputs → 1 probability): names, means and standard deviations. */
export const CREDIT = { names: ['income', 'age', 'debt_ratio', 'tenure'], means: [0.5, -0.2, 0.1, 0.3], stds: [1, 0.8, 1.2, 0.5] };

/** CSV text with a header. */
export const csvOf = (header: readonly string[], rows: readonly number[][]) => [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';

/** Sends rows as [n, F] FP32 requests of `batch` rows. */
export async function sendRows(c: AgentClient, name: string, rows: readonly number[][], batch = 25): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) {
    const part = rows.slice(i, i + batch);
    await c.call('model.infer', { name, inputs: [{ name: 'input', datatype: 'FP32', shape: [part.length, part[0].length], data: part.flat() }] });
  }
}

/** Resolves once the wall clock crosses into the next bucket of `bucketMs` (plus a margin). */
export const nextBucket = (bucketMs: number, margin = 30) => new Promise((r) => setTimeout(r, bucketMs - (Date.now() % bucketMs) + margin));
