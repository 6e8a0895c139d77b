import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../agent/config.js';
import { createLogger } from '../../../agent/log.js';
import { openStore, type Db } from '../../../agent/store/db.js';
import { DriftMonitor } from '../../../agent/drift/monitor.js';
import { DriftStore } from '../../../agent/drift/store.js';
import type { ModelRegistry, StoredVersion } from '../../../agent/serving/registry.js';
import type { InferSample, ServingManager } from '../../../agent/serving/serving.js';
import type { RawTensor } from '../../../agent/serving/tensors.js';
import { RpcError } from '../../../shared/protocol/index.js';

// dispose() resolves only once the monitor's work in flight has ended: main.ts closes the database right after it.
// The case that matters: the final chunk of a reference upload whose predictions are still being computed (the
// version runs on the reference rows, asynchronously); without the wait its reference write hit a closed database.
// Real SQLite, fake serving whose evaluate() waits on a gate the test opens.

const NAME = 'm';
const VERSION = 'v1';
const T0 = Date.UTC(2025, 0, 1);
const version: StoredVersion = {
  name: NAME, version: VERSION, sha256: 'x', size_bytes: 1, pushed_by: 't', pushed_at: 0,
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 2] }],
  outputs: [{ name: 'score', dtype: 'float32', shape: ['batch'] }],
  lineage: { git_commit: null, dataset_sha256: null, dataset_name: null, meta: {} },
};
const registry = { resolve: () => version, get: () => version, alias: () => null } as unknown as ModelRegistry;

/** Serving stand-in: evaluate() answers score = x[0] + x[1] once `open()` was called; records calls. */
function gatedServing() {
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  let calls = 0;
  let entered!: () => void;
  const firstCall = new Promise<void>((r) => { entered = r; });
  const rates = new Map<string, number>();
  const serving = {
    onSamples: () => () => undefined, samplesDropped: 0, sampleRates: rates,
    setSampleRate: (m: string, r: number) => { if (r >= 1) rates.delete(m); else rates.set(m, r); },
    withEvaluation: async <T>(_n: string, _v: string, fn: () => Promise<T>) => fn(),
    evaluate: async (_n: string, _v: string, feeds: Record<string, RawTensor>) => {
      calls++; entered();
      await gate;
      const x = feeds.x.data as Float32Array; const n = feeds.x.dims[0];
      const score = new Float32Array(n);
      for (let i = 0; i < n; i++) score[i] = x[2 * i] + x[2 * i + 1];
      return { score: { dtype: 'float32', dims: [n], data: score } as RawTensor };
    },
  } as unknown as ServingManager;
  return { serving, open: () => open(), firstCall, calls: () => calls };
}

function csv(n: number): string {
  const lines = ['x[0],x[1]'];
  for (let i = 0; i < n; i++) lines.push(`${(i % 17) / 3},${(i % 5) - 2}`);
  return lines.join('\n') + '\n';
}

function sample(ts: number, n: number): InferSample {
  const x = new Float32Array(2 * n).map((_, i) => i % 7);
  return { name: NAME, version: VERSION, ts, inputs: { x: { dtype: 'float32', dims: [n, 2], data: x } as RawTensor }, outputs: { score: { dtype: 'float32', dims: [n], data: new Float32Array(n) } as RawTensor } };
}

let dir: string | null = null;
let db: Db | null = null;
afterEach(() => { try { db?.close(); } catch { /* closed by the test */ } db = null; if (dir) rmSync(dir, { recursive: true, force: true }); dir = null; });

function setup() {
  dir = mkdtempSync(join(tmpdir(), 'fleetml-drift-dispose-'));
  const cfg = loadConfig({ dataDir: dir, listen: '127.0.0.1:0' }, {});
  cfg.drift.auto_reference_rows = 0;
  db = openStore(dir);
  const s = gatedServing();
  const monitor = new DriftMonitor({ store: new DriftStore(db), registry, serving: s.serving, config: cfg.drift, log: createLogger('silent'), now: () => T0 + 1000 });
  monitor.start();
  return { monitor, ...s };
}

describe('DriftMonitor.dispose', () => {
  it('waits for a final reference chunk still being profiled, so the reference is stored before the database closes', async () => {
    const { monitor, open, firstCall, calls } = setup();
    monitor.ingest([sample(T0 + 500, 40)]);
    const upload = monitor.setReference({ name: NAME, format: 'csv', data: csv(600), final: true }, 'tester');
    await firstCall; // the predictions of the reference rows are running
    let disposed = false;
    const disposing = monitor.dispose().then(() => { disposed = true; });
    await new Promise((r) => setTimeout(r, 30));
    expect(disposed).toBe(false);
    open();
    await disposing;
    // main.ts order: dispose, then close the database
    db!.close();
    const result = await upload; // no "database connection is not open"
    expect(result.reference).toMatchObject({ source: 'dataset', rows: 600, rows_seen: 600, created_by: 'tester', matched_by: 'name' });
    expect(calls()).toBe(2); // 600 rows in batches of 512
    // The next agent finds the reference (with its predictions) and the open bucket flushed at dispose.
    db = openStore(dir!);
    const store = new DriftStore(db);
    const ref = store.reference(NAME, VERSION);
    expect(ref?.info.rows).toBe(600);
    expect(ref?.features.map((f) => f.name)).toEqual(['x[0]', 'x[1]', 'score']);
    expect(ref?.profile[2].acc.t).toBe('n');
    expect(store.open(T0 + 1000).map((o) => o.bucket.rows)).toEqual([40]);
  });

  it('resolves at once with nothing in flight and refuses a reference upload afterwards', async () => {
    const { monitor } = setup();
    await monitor.dispose();
    await expect(monitor.setReference({ name: NAME, format: 'csv', data: csv(10), final: true }, 'tester')).rejects.toSatisfy((e) => e instanceof RpcError && e.data.code === 'UNAVAILABLE');
  });
});
