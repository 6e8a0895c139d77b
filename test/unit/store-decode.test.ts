// JSON columns are decoded with their schema on the way out of SQLite; a row that no longer matches is read as
// stored with one warning (never lost), through a real job store on a real SQLite file.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { decodeStored } from '../../agent/store/decode.js';
import { openStore, type Db } from '../../agent/store/db.js';
import { JobStore } from '../../agent/jobs/job-store.js';
import { JobSpec } from '../../shared/protocol/jobs.js';
import { tempDir } from '../helpers/agent.js';

describe('decodeStored', () => {
  it('applies the schema (defaults) to a value that matches', () => {
    const S = z.object({ a: z.number(), b: z.string().default('x') });
    expect(decodeStored(S, '{"a":1}', { table: 't', id: '1', column: 'c' })).toEqual({ a: 1, b: 'x' });
  });

  it('reads a value that does not match as stored, and warns once per row', () => {
    const S = z.object({ a: z.number() });
    const warnings: Array<Record<string, unknown>> = [];
    const warn = (f: Record<string, unknown>) => { warnings.push(f); };
    for (let i = 0; i < 3; i++) expect(decodeStored(S, '{"a":"one"}', { table: 't', id: 'w1', column: 'c' }, warn)).toEqual({ a: 'one' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ table: 't', id: 'w1', column: 'c' });
    expect(String(warnings[0].issues)).toMatch(/^a: /);
  });
});

describe('the job store reads specs with their schema', () => {
  let db: Db | null = null;
  let cleanup = () => undefined as void;
  afterEach(() => { db?.close(); cleanup(); });

  it('gives back the spec it stored, and a hand-edited one as it is, with a warning', () => {
    const t = tempDir(); cleanup = t.cleanup;
    db = openStore(join(t.dir, 'data'));
    const warnings: string[] = [];
    const store = new JobStore(db, (f) => warnings.push(`${f.table}/${f.id}/${f.column}`));
    const spec = JobSpec.parse({ driver: 'fake', command: ['true'] });
    store.insert('j1', spec, 'admin', 1000, null);
    store.insert('j2', spec, 'admin', 1001, null);
    db.prepare('UPDATE jobs SET spec = ? WHERE id = ?').run(JSON.stringify({ ...spec, driver: 'teleport' }), 'j2');
    const byId = Object.fromEntries(store.list(undefined, 10).map((r) => [r.job.id, r.job.spec]));
    expect(byId.j1).toEqual(spec);
    expect(byId.j2.driver).toBe('teleport');
    expect(warnings).toEqual(['jobs/j2/spec']);
  });
});
