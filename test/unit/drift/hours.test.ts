import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../agent/config.js';
import { createLogger } from '../../../agent/log.js';
import { openStore, type Db } from '../../../agent/store/db.js';
import { DriftMonitor } from '../../../agent/drift/monitor.js';
import { DriftStore } from '../../../agent/drift/store.js';
import { accFromJson, mergeAcc, newAcc, type CatAcc, type FeatureAcc, type NumAcc } from '../../../agent/drift/profile.js';
import type { ModelRegistry, StoredVersion } from '../../../agent/serving/registry.js';
import type { InferSample, ServingManager } from '../../../agent/serving/serving.js';
import type { RawTensor } from '../../../agent/serving/tensors.js';
import { gaussian, mulberry32 } from '../../../shared/util/prng.js';

// Stored hour blocks (drift_hours, migration v8): a window merged from hour rows + loose buckets + the open bucket
// equals a plain merge of every stored bucket, across a restart (a new DriftMonitor on the same database, with a
// bucket that closed while it was down), a reference change and pruning. Injected clock, as bench/drift.ts does.

const BUCKET_MS = 300_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const NAME = 'm';
const VERSION = 'v1';

const version: StoredVersion = {
  name: NAME, version: VERSION, sha256: 'x', size_bytes: 1, pushed_by: 't', pushed_at: 0,
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3] }, { name: 'k', dtype: 'string', shape: ['batch'] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2, 2] }], // not profiled: no reference predictions to run
  lineage: { git_commit: null, dataset_sha256: null, dataset_name: null, meta: {} },
};
const registry = {
  resolve: () => version, get: () => version, alias: () => null,
} as unknown as ModelRegistry;
const serving = { onSamples: () => () => undefined, sampleRates: new Map<string, number>(), samplesDropped: 0 } as unknown as ServingManager;

const rnd = mulberry32(11);
const g = gaussian(rnd);
const CATS = ['a', 'b', 'c', 'd'];

function sample(ts: number, n: number, shift = 0): InferSample {
  const x = new Float32Array(n * 3);
  for (let i = 0; i < x.length; i++) x[i] = shift + (i % 3) + (1 + (i % 3)) * g();
  const k = Array.from({ length: n }, () => CATS[Math.floor(rnd() * (shift ? 2 : 4))]);
  return { name: NAME, version: VERSION, ts, inputs: { x: { dtype: 'float32', dims: [n, 3], data: x } as RawTensor, k: { dtype: 'string', dims: [n], data: k } as unknown as RawTensor }, outputs: {} };
}

function csv(n: number, shift = 0): string {
  const lines = ['x[0],x[1],x[2],k'];
  for (let i = 0; i < n; i++) lines.push([0, 1, 2].map((j) => (shift + j + (1 + j) * g()).toFixed(4)).concat(CATS[Math.floor(rnd() * 4)]).join(','));
  return lines.join('\n') + '\n';
}

let dir: string | null = null;
let db: Db | null = null;
afterEach(() => { db?.close(); db = null; if (dir) rmSync(dir, { recursive: true, force: true }); dir = null; });

type Internals = { stateOf(name: string, version: string): { open: { start: number; accs: FeatureAcc[] } | null; ref: Array<{ edges: number[] | null }> | null; defs: Array<{ type: 'numeric' | 'categorical' }> };
  windowAccs(st: unknown, from: number, until?: number): { accs: FeatureAcc[]; rows: number } };

describe('drift hour blocks stored in drift_hours', () => {
  it('merges windows from hour rows exactly as from every bucket, across a restart, a reference change and pruning', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetml-drift-hours-'));
    const cfg = loadConfig({ dataDir: dir, listen: '127.0.0.1:0' }, {});
    cfg.drift.bucket_s = BUCKET_MS / 1000;
    cfg.drift.retention_h = 25;
    cfg.drift.auto_reference_rows = 0;
    db = openStore(dir);
    const store = new DriftStore(db);
    // Counts the bucket profiles reports read (the point of hour rows: few).
    let bucketRowsRead = 0;
    const bucketProfiles = store.bucketProfiles.bind(store);
    store.bucketProfiles = (...a) => { const r = bucketProfiles(...a); bucketRowsRead += r.length; return r; };
    let now = T0;
    const log = createLogger('silent');
    const newMonitor = () => new DriftMonitor({ store, registry, serving, config: cfg.drift, log, now: () => now, rnd: mulberry32(3) });
    // (hours before T0, without traffic, are stored too once a report merged them: empty rows)
    const hourRows = () => db!.prepare('SELECT start_ms, rows FROM drift_hours WHERE name = ? AND version = ? AND start_ms >= ? ORDER BY start_ms').all(NAME, VERSION, T0) as Array<{ start_ms: number; rows: number }>;
    const allHourRows = () => (db!.prepare('SELECT COUNT(*) AS n FROM drift_hours').get() as { n: number }).n;
    const bucketRows = (lo: number, hi: number) => (db!.prepare('SELECT SUM(rows) AS n FROM drift_buckets WHERE name = ? AND version = ? AND start_ms >= ? AND start_ms < ?').get(NAME, VERSION, lo, hi) as { n: number | null }).n ?? 0;

    /** Plain merge: every stored closed bucket starting at or after `from` (profile of the right length), plus the open one. */
    const plain = (m: DriftMonitor, from: number): { accs: FeatureAcc[]; rows: number } => {
      const st = (m as unknown as Internals).stateOf(NAME, VERSION);
      const accs = st.defs.map((d, i) => newAcc(d.type, st.ref?.[i]?.edges ?? null));
      let rows = 0;
      for (const b of bucketProfiles(NAME, VERSION, from, Infinity)) {
        if (b.start === st.open?.start || b.accs.length !== accs.length) continue;
        rows += b.rows;
        b.accs.forEach((j, i) => mergeAcc(accs[i], accFromJson(j)));
      }
      if (st.open) { st.open.accs.forEach((a, i) => mergeAcc(accs[i], a)); rows += (st.open as unknown as { rows: number }).rows; }
      return { accs, rows };
    };
    const windowOf = (m: DriftMonitor, from: number) => { const i = m as unknown as Internals; return i.windowAccs(i.stateOf(NAME, VERSION), from); };
    const close = (a: number, b: number) => Number.isNaN(a) || Number.isNaN(b) ? expect(a).toBe(b) : expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
    const expectSame = (got: { accs: FeatureAcc[]; rows: number }, want: { accs: FeatureAcc[]; rows: number }) => {
      expect(got.rows).toBe(want.rows);
      expect(got.accs).toHaveLength(want.accs.length);
      got.accs.forEach((a, i) => {
        const w = want.accs[i];
        expect(a.t).toBe(w.t);
        if (a.t === 'c') { const c = w as CatAcc; expect([a.rows, a.missing]).toEqual([c.rows, c.missing]); expect(new Map(a.counts)).toEqual(new Map(c.counts)); return; }
        const n = w as NumAcc;
        expect([a.rows, a.missing, a.n, a.inf, a.min, a.max, a.frac]).toEqual([n.rows, n.missing, n.n, n.inf, n.min, n.max, n.frac]);
        expect(a.hist).toEqual(n.hist);
        close(a.sum, n.sum); close(a.sumsq, n.sumsq);
        expect(a.sketch.n).toBe(n.sketch.n);
        for (const q of [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) close(a.sketch.quantile(q), n.sketch.quantile(q));
      });
    };
    /** Both ways over several windows: the 24 h one (hour rows), 2 h and 90 min (loose buckets of partial hours). */
    const check = (m: DriftMonitor) => {
      for (const back of [26 * HOUR, 24 * HOUR, 2 * HOUR, 90 * 60_000]) {
        const from = Math.floor((now - back) / BUCKET_MS) * BUCKET_MS;
        expectSame(windowOf(m, from), plain(m, from));
      }
    };
    /** Traffic from `t` to `until` (exclusive), a batch every 2 minutes, skipping [gapFrom, gapTo); tick at each bucket boundary. */
    const traffic = (m: DriftMonitor, t: number, until: number, o: { shift?: number; gap?: [number, number] } = {}) => {
      let bucket = Math.floor(t / BUCKET_MS);
      for (; t < until; t += 120_000) {
        if (o.gap && t >= o.gap[0] && t < o.gap[1]) continue;
        now = t;
        if (Math.floor(t / BUCKET_MS) !== bucket) { m.tick(); bucket = Math.floor(t / BUCKET_MS); }
        m.ingest([sample(t, 20 + Math.floor(rnd() * 20), o.shift)]);
      }
    };

    let m = newMonitor();
    m.start();
    await m.setReference({ name: NAME, format: 'csv', data: csv(2000), final: true }, 't');
    // 5 h 50 min of traffic, nothing from 2:20 to 2:40; the bucket of 5:50 is still open.
    traffic(m, T0, T0 + 5 * HOUR + 55 * 60_000, { gap: [T0 + 2 * HOUR + 20 * 60_000, T0 + 2 * HOUR + 40 * 60_000] });
    now = T0 + 5 * HOUR + 57 * 60_000;
    // Hours 0–4 are complete: each stored at the close that completed it (no report has run yet), with its rows.
    expect(hourRows().map((h) => h.start_ms)).toEqual([0, 1, 2, 3, 4].map((h) => T0 + h * HOUR));
    for (const h of hourRows()) expect(h.rows).toBe(bucketRows(h.start_ms, h.start_ms + HOUR));
    check(m);

    // Restart: the open bucket of 5:55 is flushed, then closes while the agent is down; a stale row for hour 5 (as if
    // written too early) must not survive the late judgement.
    m.dispose();
    db.prepare('INSERT INTO drift_hours (name, version, start_ms, ref, rows, profile) SELECT name, version, ?, ref, rows, profile FROM drift_hours WHERE start_ms = ?').run(T0 + 5 * HOUR, T0);
    now = T0 + 6 * HOUR + 10 * 60_000;
    m = newMonitor();
    m.start();
    const late = hourRows().find((h) => h.start_ms === T0 + 5 * HOUR);
    expect(late?.rows).toBe(bucketRows(T0 + 5 * HOUR, T0 + 6 * HOUR));
    bucketRowsRead = 0;
    const fromDay = Math.floor((now - 24 * HOUR) / BUCKET_MS) * BUCKET_MS;
    const after = windowOf(m, fromDay);
    expect(bucketRowsRead).toBe(0); // the six hours come from their rows; no bucket of hour 6 yet
    expectSame(after, plain(m, fromDay));
    check(m);

    // More traffic (drifted), then a reference change with the same types: hour rows go with the histograms, windows
    // are rebuilt from the unbinned buckets (and stored again by the report that merges them).
    traffic(m, now, T0 + 8 * HOUR + 10 * 60_000, { shift: 2 });
    now = T0 + 8 * HOUR + 12 * 60_000;
    check(m);
    expect(hourRows()).toHaveLength(8);
    await m.setReference({ name: NAME, format: 'csv', data: csv(1500, 1), final: true }, 't');
    expect(allHourRows()).toBe(0);
    check(m);
    expect(hourRows()).toHaveLength(8);
    const st = (m as unknown as Internals).stateOf(NAME, VERSION);
    expect((windowOf(m, T0).accs[0] as NumAcc).hist).toBeNull();
    expect(st.ref).not.toBeNull();
    // A new monitor reads the rows stored under the new reference.
    m.dispose();
    m = newMonitor();
    m.start();
    bucketRowsRead = 0;
    expectSame(windowOf(m, T0), plain(m, T0));
    expect(bucketRowsRead).toBeLessThanOrEqual(3);
    traffic(m, now, T0 + 9 * HOUR + 20 * 60_000, { shift: 1 });
    now = T0 + 9 * HOUR + 21 * 60_000;
    check(m);

    // Pruning: 25 h retention, the clock 26.5 h on: buckets that ended before 1:30 go, and the hour rows of hours 0 and 1.
    now = T0 + 26 * HOUR + 30 * 60_000;
    (m as unknown as { lastPrune: number }).lastPrune = 0;
    m.tick();
    expect(bucketRows(T0, T0 + HOUR)).toBe(0);
    expect(hourRows()[0].start_ms).toBe(T0 + 2 * HOUR);
    check(m);
    // hour 1 (its buckets of 1:25–2:00 are left) was merged again from them and stored, until the next prune
    expect(hourRows()[0]).toEqual({ start_ms: T0 + HOUR, rows: bucketRows(T0 + HOUR, T0 + 2 * HOUR) });
    m.dispose();
    m = newMonitor();
    m.start();
    check(m);
    m.dispose();
  });
});
