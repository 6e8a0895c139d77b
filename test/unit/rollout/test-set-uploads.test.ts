import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TEST_SET_IDLE_MS, TestSetUploads } from '../../../agent/rollout/test-set-uploads.js';
import { testSetChunkBytes } from '../../../shared/client/test-set-upload.js';

const json = Buffer.from(JSON.stringify({ name: 't.csv', rows: [[1, 2], [3, null]], labels: [0, 1] }));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const code = (f: () => unknown) => { try { f(); } catch (e) { return (e as { data?: { code?: string } }).data?.code; } return 'none'; };

describe('TestSetUploads', () => {
  it('stages a set sent in ordered chunks, checked by digest and schema, for its own token only', () => {
    const u = new TestSetUploads({ maxPerToken: 4, maxTotal: 32 });
    const a = u.receive({ offset: 0, data_b64: json.subarray(0, 10).toString('base64'), final: false }, 'alice');
    expect(a.test_set).toBeNull();
    expect(code(() => u.receive({ upload_id: a.upload_id, offset: 5, data_b64: '', final: false }, 'alice'))).toBe('INVALID_PARAMS');
    expect(code(() => u.receive({ upload_id: a.upload_id, offset: 10, data_b64: '', final: false }, 'bob'))).toBe('NOT_FOUND');
    expect(code(() => u.get(a.upload_id, 'alice'))).toBe('CONFLICT');
    const b = u.receive({ upload_id: a.upload_id, offset: 10, data_b64: json.subarray(10).toString('base64'), final: true, sha256: sha(json) }, 'alice');
    expect(b.test_set).toEqual({ id: a.upload_id, name: 't.csv', rows: 2 });
    expect(u.get(a.upload_id, 'alice').rows).toEqual([[1, 2], [3, null]]);
    expect(code(() => u.get(a.upload_id, 'bob'))).toBe('NOT_FOUND');
    u.release(a.upload_id);
    expect(code(() => u.get(a.upload_id, 'alice'))).toBe('NOT_FOUND');
  });

  it('refuses a wrong digest and what is not a test set, and ends the upload', () => {
    const u = new TestSetUploads({ maxPerToken: 4, maxTotal: 32 });
    expect(code(() => u.receive({ offset: 0, data_b64: json.toString('base64'), final: true, sha256: '0'.repeat(64) }, 'a'))).toBe('INVALID_PARAMS');
    const bad = Buffer.from(JSON.stringify({ rows: [[1]], labels: [1, 2] }));
    expect(code(() => u.receive({ offset: 0, data_b64: bad.toString('base64'), final: true, sha256: sha(bad) }, 'a'))).toBe('INVALID_PARAMS');
    expect(u.size).toBe(0);
  });

  it('counts unfinished and staged sets against uploads.max_per_token and max_total, and drops them after 10 minutes idle', () => {
    let now = 0;
    const u = new TestSetUploads({ maxPerToken: 2, maxTotal: 3 }, () => now);
    const begin = (by: string) => u.receive({ offset: 0, data_b64: 'e30=', final: false }, by);
    begin('a');
    u.receive({ offset: 0, data_b64: json.toString('base64'), final: true, sha256: sha(json) }, 'a');
    let e: unknown; try { begin('a'); } catch (x) { e = x; }
    expect(e).toMatchObject({ data: { code: 'OVERLOADED', limit: 'uploads.max_per_token', max: 2 } });
    begin('b');
    try { begin('c'); } catch (x) { e = x; }
    expect(e).toMatchObject({ data: { code: 'OVERLOADED', limit: 'uploads.max_total', max: 3 } });
    now = TEST_SET_IDLE_MS + 1;
    expect(u.size).toBe(0);
    expect(() => begin('a')).not.toThrow();
  });

  it('sizes chunks so that a chunk\'s frame fits the agent\'s frame limit', () => {
    expect(testSetChunkBytes(undefined)).toBe(384 * 1024);
    expect(testSetChunkBytes(1024 * 1024)).toBe(384 * 1024);
    const c = testSetChunkBytes(64 * 1024);
    expect(Math.ceil(c / 3) * 4 + 1024).toBeLessThanOrEqual(64 * 1024);
  });
});
