import type { AgentClient } from '../../shared/client/agent-client.js';

// The credit dataset lives in scripts/lib/credit-data.ts (the demo uses it too); re-exported for the tests.
export { CREDIT, CREDIT_DRIFT, CREDIT_SHIFTED, CREDIT_SHIFT_STDS, creditRows, csvOf } from '../../scripts/lib/credit-data.js';

/** Sends rows as [n, F] FP32 requests of `batch` rows. */
export async function sendRows(c: AgentClient, name: string, rows: readonly number[][], batch = 25): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) {
    const part = rows.slice(i, i + batch);
    await c.call('model.infer', { name, inputs: [{ name: 'input', datatype: 'FP32', shape: [part.length, part[0].length], data: part.flat() }] });
  }
}

/** Resolves once the wall clock crosses into the next bucket of `bucketMs` (plus a margin). */
export const nextBucket = (bucketMs: number, margin = 30) => new Promise((r) => setTimeout(r, bucketMs - (Date.now() % bucketMs) + margin));
