import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Db } from '../../../agent/store/db.js';
import { createLogger } from '../../../agent/log.js';
import { FeedbackStore, newRequestId, planOf, scoreKept } from '../../../agent/serving/feedback.js';
import type { StoredVersion } from '../../../agent/serving/registry.js';
import type { RawTensor } from '../../../agent/serving/tensors.js';
import { tempDir } from '../../helpers/agent.js';

// The join store on a real SQLite database, without an agent: sampling, bounds, repeated ids, export; and its pure parts.
const spec = (name: string, shape: Array<number | string>, dtype = 'float32') => ({ name, dtype: dtype as 'float32', shape });
const version = (inputs = [spec('x', ['N', 3])], outputs = [spec('p', ['N', 2])]): StoredVersion => ({
  name: 'm', version: 'v1', sha256: '0'.repeat(64), size_bytes: 1, inputs, outputs, pushed_by: 't', pushed_at: 0,
  lineage: { git_commit: null, dataset_sha256: null, dataset_name: null, meta: {} },
});
const f32 = (dims: number[], xs: number[]): RawTensor => ({ dtype: 'float32', dims, data: new Float32Array(xs) });

let tmp: ReturnType<typeof tempDir>;
let db: Db;
let t: number;
const store = (o: ConstructorParameters<typeof FeedbackStore>[1] = {}) => new FeedbackStore(db, { now: () => t, ...o }, createLogger('silent'), () => ({ version: 'v1', inputs: [spec('x', ['N', 3])] }));
beforeEach(() => { tmp = tempDir(); db = openStore(tmp.dir); t = 1_000_000; });
afterEach(() => { db.close(); tmp.cleanup(); });

describe('planOf', () => {
  it('keeps the input row of tabular numeric models up to 256 values, none otherwise', () => {
    expect(planOf(version())).toEqual({ out: 'p', inputs: [{ name: 'x', width: 3 }], size: 3 });
    expect(planOf(version([spec('x', ['N', 3]), spec('y', ['N'])]))!.size).toBe(4);
    expect(planOf(version([spec('img', ['N', 3, 8, 8])]))!.inputs).toBeNull();
    expect(planOf(version([spec('x', ['N', 257])]))!.inputs).toBeNull();
    expect(planOf(version([spec('s', ['N'], 'string')]))!.inputs).toBeNull();
    expect(planOf(version(undefined, [spec('label', ['N'], 'string')]))).toBeNull();
  });
});

describe('scoreKept', () => {
  it('scores stored argmaxes as classes (a NaN prediction is always wrong) and values as scoreOutputs does', () => {
    expect(scoreKept([0, 1, NaN, 2], 3, [0, 1, 2, 2])).toMatchObject({ task: 'classification', accuracy: 0.75 });
    expect(scoreKept([0.9, 0.2], 1, [1, 0])).toMatchObject({ task: 'classification', accuracy: 1 });
    expect(scoreKept([1, 3], 1, [2, 2])).toMatchObject({ task: 'regression', mae: 1, rmse: 1 });
  });
});

describe('newRequestId', () => {
  it('gives 16 hex characters, different every time', () => {
    const ids = new Set(Array.from({ length: 2000 }, newRequestId));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('FeedbackStore', () => {
  it('keeps the argmax of the first row, the input row, and nothing in SQLite until flushed', () => {
    const s = store();
    s.record(version(), 'a', { x: f32([2, 3], [1, 2, 3, 4, 5, 6]) }, { p: f32([2, 2], [0.1, 0.9, 0.8, 0.2]) });
    expect((db.prepare('SELECT COUNT(*) AS n FROM feedback_requests').get() as { n: number }).n).toBe(0);
    expect(s.flush()).toBe(1);
    expect(db.prepare('SELECT request_id, pred, width, ts FROM feedback_requests').get()).toEqual({ request_id: 'a', pred: 1, width: 2, ts: t });
    expect(s.label('m', undefined, [{ id: 'a', label: 1 }])).toEqual({ matched: 1, unknown: 0, already_labelled: 0 });
    expect(s.exportLabelled('m', 'v1', 10)).toEqual({ header: ['x[0]', 'x[1]', 'x[2]'], rows: [[1, 2, 3]], labels: [1] });
  });

  it('keeps every request under the per-second budget, then a sample of about the budget a second', () => {
    const rnd = (() => { let i = 0; return () => (i++ % 10) / 10; })(); // uniform over 0.0 … 0.9
    const s = store({ maxPerSecond: 10, rnd });
    const v = version();
    const one = (id: string) => s.record(v, id, { x: f32([1, 3], [1, 2, 3]) }, { p: f32([1, 2], [0, 1]) });
    for (let i = 0; i < 10; i++) one(`u${i}`);
    expect(s.flush()).toBe(10); // under the budget: all
    for (let i = 0; i < 50; i++) one(`o${i}`); // the same second, over the budget: the first 10 only
    expect(s.flush()).toBe(0);
    expect(s.skipped).toBe(50);
    t += 1000; // next second: rate = 10 / 60 of the previous second's traffic
    for (let i = 0; i < 60; i++) one(`n${i}`);
    const kept = s.flush();
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(10);
  });

  it('bounds the buffer, evicts the oldest beyond the per-version bound, and keeps the first of a repeated id', () => {
    const s = store({ maxBuffered: 3, maxPerVersion: 4 });
    const v = version();
    const one = (id: string, p: number) => s.record(v, id, { x: f32([1, 3], [1, 2, 3]) }, { p: f32([1, 2], [p, 1 - p]) });
    for (let i = 0; i < 5; i++) { t += 1000; one(`r${i}`, 1); }
    expect(s.dropped).toBe(2);
    s.flush();
    for (let i = 5; i < 8; i++) { t += 1000; one(`r${i}`, 1); }
    s.flush();
    const ids = (db.prepare('SELECT request_id FROM feedback_requests ORDER BY ts').all() as Array<{ request_id: string }>).map((r) => r.request_id);
    expect(ids).toEqual(['r2', 'r5', 'r6', 'r7']); // r3, r4 did not fit the buffer; r0, r1 evicted
    t += 1000; one('r7', 0); // same id again: the first request stays
    s.flush();
    expect((db.prepare("SELECT pred FROM feedback_requests WHERE request_id = 'r7'").get() as { pred: number }).pred).toBe(0);
  });

  it('counts what it keeps across a restart, sweeps expired rows and flushes on dispose', () => {
    let s = store({ retentionMs: 60_000 });
    s.start();
    s.record(version(), 'a', { x: f32([1, 3], [1, 2, 3]) }, { p: f32([1, 2], [1, 0]) });
    s.dispose(); // flushes
    s = store({ retentionMs: 60_000 });
    s.start();
    expect(s.versions()).toEqual([{ name: 'm', version: 'v1' }]);
    expect(s.performance('m', 'v1', 0)).toMatchObject({ requests: 1, labelled: 0, task: null });
    t += 61_000;
    expect(s.sweep()).toBe(1);
    expect(s.versions()).toEqual([]);
    s.dispose();
  });
});
