import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkLines, REFERENCE_CHUNK_BYTES, uploadReference, uploadReferenceFile, type ReferenceChunk } from '../../shared/client/drift-upload.js';
import { InputError } from '../../shared/client/input-error.js';
import { checkReferenceFile, referenceFormat } from '../../cli/drift-upload.js';
import { DriftSetReferenceParams } from '../../shared/protocol/drift.js';
import type { AgentClient } from '../../shared/client/agent-client.js';

const collect = async (it: AsyncIterable<ReferenceChunk>) => { const out: ReferenceChunk[] = []; for await (const c of it) out.push(c); return out; };
const chunk = (text: string | Buffer | Buffer[], max: number) => collect(chunkLines(Array.isArray(text) ? text : [Buffer.from(text)], 'data.csv', max));
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('chunkLines', () => {
  it('cuts only at line ends, each chunk within the byte limit, the last one final', async () => {
    const text = 'a,b\n1,2\n3,4\n55,66\n';
    const got = await chunk(text, 9);
    expect(got).toEqual([{ data: 'a,b\n1,2\n', final: false }, { data: '3,4\n', final: false }, { data: '55,66\n', final: true }]);
    expect(got.map((c) => c.data).join('')).toBe(text);
    expect(got.every((c) => c.data.endsWith('\n'))).toBe(true);
  });
  it('fills chunks as far as the limit allows and keeps a last line without a newline', async () => {
    expect(await chunk('ab\ncd\nef', 6)).toEqual([{ data: 'ab\ncd\n', final: false }, { data: 'ef', final: true }]);
    expect(await chunk('one line', 1024)).toEqual([{ data: 'one line', final: true }]);
  });
  it('counts UTF-8 bytes, not characters, and never splits a multibyte character', async () => {
    const line = 'é€😀\n'; // 2 + 3 + 4 bytes + newline = 10 bytes, 4 UTF-16 code units + 1
    const text = line.repeat(5);
    const got = await chunk(text, 25);
    expect(got.map((c) => c.data).join('')).toBe(text);
    expect(got.map((c) => bytes(c.data))).toEqual([20, 20, 10]);
    expect(got.every((c) => bytes(c.data) <= 25 && c.data.endsWith('\n'))).toBe(true);
  });
  it('joins input buffers that cut a character or a line in two', async () => {
    const b = Buffer.from('x,€\ny,😀\n');
    const parts = [b.subarray(0, 3), b.subarray(3, 7), b.subarray(7, 9), b.subarray(9)];
    const got = await chunk(parts, 7);
    expect(got).toEqual([{ data: 'x,€\n', final: false }, { data: 'y,😀\n', final: true }]);
  });
  it('refuses a line longer than the limit, naming its number', async () => {
    await expect(chunk('h\nok\n' + 'x'.repeat(20) + '\nz\n', 10)).rejects.toThrow(/data\.csv: line 3 is longer than 10 bytes/);
    await expect(chunk('x'.repeat(2 * 1024 + 1), 2 * 1024)).rejects.toThrow(InputError);
    // a line of exactly the limit (with its newline) fits
    expect(await chunk('x'.repeat(9) + '\n', 10)).toEqual([{ data: 'x'.repeat(9) + '\n', final: true }]);
  });
  it('refuses empty and blank input', async () => {
    await expect(chunk('', 10)).rejects.toThrow(/data\.csv is empty/);
    await expect(collect(chunkLines([], 'data.csv', 10))).rejects.toThrow(InputError);
    await expect(chunk('\n\n  \n', 10)).rejects.toThrow(/is empty/);
  });
  it('drops a UTF-8 byte-order mark and refuses text that is not UTF-8', async () => {
    expect(await chunk(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a\n1\n')]), 100)).toEqual([{ data: 'a\n1\n', final: true }]);
    await expect(chunk(Buffer.from([0x61, 0x0a, 0xff, 0xfe, 0x0a]), 100)).rejects.toThrow(/not UTF-8 text/);
  });
  it('the default chunk of the longest characters stays within the schema limit', async () => {
    expect(REFERENCE_CHUNK_BYTES).toBeLessThan(512 * 1024);
    const text = ('😀'.repeat(1000) + '\n').repeat(200); // 4001 bytes per line
    const got = await collect(chunkLines([Buffer.from(text)], 'big.csv'));
    expect(got.length).toBeGreaterThan(1);
    for (const c of got) {
      expect(bytes(c.data)).toBeLessThanOrEqual(REFERENCE_CHUNK_BYTES);
      expect(DriftSetReferenceParams.safeParse({ name: 'm', format: 'csv', data: c.data }).success).toBe(true);
    }
  });
});

describe('referenceFormat', () => {
  it('takes the format from the flag or the extension', () => {
    expect(referenceFormat('train.csv', undefined)).toBe('csv');
    expect(referenceFormat('dir/Train.CSV', undefined)).toBe('csv');
    expect(referenceFormat('rows.jsonl', undefined)).toBe('jsonl');
    expect(referenceFormat('rows.ndjson', undefined)).toBe('jsonl');
    expect(referenceFormat('rows.txt', 'jsonl')).toBe('jsonl');
  });
  it('asks for --format when the name does not tell, and refuses other formats', () => {
    expect(() => referenceFormat('rows.txt', undefined)).toThrow(/give --format csv .* or --format jsonl/);
    expect(() => referenceFormat('rows.csv', 'parquet')).toThrow(/--format "parquet": use --format csv or --format jsonl/);
    expect(() => referenceFormat('rows.bin', undefined, '--reference-format')).toThrow(/--reference-format csv/);
  });
});

describe('uploadReference', () => {
  const agent = () => {
    const calls: Array<Record<string, unknown>> = [];
    let rows = 0;
    const client = {
      call: async (method: string, p: Record<string, unknown>) => {
        expect(method).toBe('drift.setReference');
        expect(DriftSetReferenceParams.safeParse(p).success).toBe(true);
        calls.push(p);
        rows += (p.data as string).split('\n').filter(Boolean).length;
        const reference = p.final ? { source: 'dataset', rows, rows_seen: rows, created_at: 1, created_by: 't', dataset_name: p.dataset_name, dataset_sha256: null, matched_by: 'name' } : null;
        return { upload_id: 'up-1', received_rows: rows, reference, features: p.final ? ['a', 'b'] : [] };
      },
    } as unknown as AgentClient;
    return { client, calls };
  };
  it('sends the chunks in order: no upload_id first, then the agent\'s id; final on the last; the file name as dataset_name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-ref-'));
    const f = join(dir, 'train.csv');
    writeFileSync(f, 'a,b\n1,2\n3,4\n5,6\n');
    const { client, calls } = agent();
    const r = await uploadReferenceFile(client, f, { name: 'fraud', version: '3', format: 'csv' }, { chunkBytes: 8 });
    expect(calls.map((c) => [c.upload_id, c.final, c.data])).toEqual([[undefined, false, 'a,b\n1,2\n'], ['up-1', true, '3,4\n5,6\n']]);
    expect(calls.map((c) => c.data).join('')).toBe('a,b\n1,2\n3,4\n5,6\n');
    expect(calls.every((c) => c.name === 'fraud' && c.version === '3' && c.format === 'csv' && c.dataset_name === 'train.csv')).toBe(true);
    expect(r.reference?.rows).toBe(4);
    expect(r.features).toEqual(['a', 'b']);
    expect(await checkReferenceFile(f, '--from', 8)).toBe(calls.length);
  });
  it('fails when the agent gives no upload id or builds no reference', async () => {
    const once = async function* (final: boolean) { yield { data: 'a\n1\n', final }; yield { data: '2\n', final: true }; };
    const noId = { call: async () => ({ upload_id: null, received_rows: 1, reference: null, features: [] }) } as unknown as AgentClient;
    await expect(uploadReference(noId, once(false), { name: 'm', format: 'csv', datasetName: 'x.csv' })).rejects.toThrow(/no upload id/);
    await expect(uploadReference(noId, once(true), { name: 'm', format: 'csv', datasetName: 'x.csv' })).rejects.toThrow(/did not build the reference/);
  });
  it('checks a file before anything is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-ref-'));
    await expect(checkReferenceFile(join(dir, 'missing.csv'), '--from')).rejects.toThrow(/--from .*missing\.csv: cannot read it \(ENOENT\)/);
    await expect(checkReferenceFile(dir, '--from')).rejects.toThrow(/is not a regular file/);
    writeFileSync(join(dir, 'empty.csv'), '');
    await expect(checkReferenceFile(join(dir, 'empty.csv'), '--from')).rejects.toThrow(/empty/);
  });
});
