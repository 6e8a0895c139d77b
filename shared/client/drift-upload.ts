// Uploading a reference dataset with drift.setReference: the file is cut into text chunks at line boundaries only
// (a CSV row or a JSON line never straddles two chunks), each well under the protocol's 512 KiB `data` limit.
// Used by `fleetml drift reference --from`, `fleetml model push --reference`, the demo, the benchmarks and the tests.
//
// Chunks are cut from raw bytes at '\n' bytes: 0x0A never occurs inside a multibyte UTF-8 sequence, so every chunk
// is whole UTF-8 on its own (checked: invalid UTF-8 is refused, not replaced). Memory stays bounded by one chunk plus
// one read buffer, whatever the file size.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { z } from 'zod';
import type { AgentClient } from './agent-client.js';
import type { DriftSetReferenceResult } from '../protocol/drift.js';
import { InputError } from './input-error.js';

/**
 * UTF-8 bytes of one chunk's `data`. The schema caps `data` at 512 * 1024 UTF-16 code units; a string never has more
 * code units than UTF-8 bytes, so a byte cap below that limit (with room to spare) always passes.
 */
export const REFERENCE_CHUNK_BYTES = 480 * 1024;

/** Formats drift.setReference accepts. */
export type ReferenceFormat = 'csv' | 'jsonl';

/** Result of drift.setReference. */
export type SetReferenceResult = z.infer<typeof DriftSetReferenceResult>;

/** One chunk of a reference upload: whole lines of text; the last one has final. */
export interface ReferenceChunk { data: string; final: boolean }

const NL = 0x0a;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Cut a byte stream into chunks of whole lines, each at most `maxBytes` UTF-8 bytes, in order; the last is final.
 * A UTF-8 byte-order mark at the start is dropped. Throws an InputError (naming `source`) for a line longer than
 * `maxBytes`, for text that is not UTF-8, and for input with nothing but blank space.
 */
export async function* chunkLines(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, source: string, maxBytes: number = REFERENCE_CHUNK_BYTES): AsyncGenerator<ReferenceChunk> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`chunkLines: maxBytes must be a whole number >= 1, got ${maxBytes}`);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = Buffer.alloc(0);
  let first = true;
  let linesBefore = 0; // complete lines already cut off, for error messages
  let held: string | null = null; // one chunk held back so the last can be marked final
  let content = false;

  const decode = (bytes: Buffer): string => {
    try { return decoder.decode(bytes); } catch {
      throw new InputError(`${source}: not UTF-8 text (in lines ${linesBefore + 1}-${linesBefore + countLines(bytes)}); save it as UTF-8 CSV or JSON lines`);
    }
  };
  function* cut(bytes: Buffer): Generator<ReferenceChunk> {
    const text = decode(bytes);
    linesBefore += countLines(bytes);
    if (!content && /\S/.test(text)) content = true;
    if (held !== null) yield { data: held, final: false };
    held = text;
  }

  for await (const part of input) {
    pending = pending.length ? Buffer.concat([pending, part]) : Buffer.from(part);
    if (first && pending.length >= BOM.length) {
      if (pending.subarray(0, BOM.length).equals(BOM)) pending = pending.subarray(BOM.length);
      first = false;
    }
    while (pending.length > maxBytes) {
      const nl = pending.lastIndexOf(NL, maxBytes - 1);
      if (nl < 0) {
        throw new InputError(`${source}: line ${linesBefore + 1} is longer than ${formatKiB(maxBytes)} (the most one upload chunk carries); split wide rows, or drop columns the model does not take`);
      }
      yield* cut(pending.subarray(0, nl + 1));
      pending = pending.subarray(nl + 1);
    }
  }
  if (first && pending.subarray(0, BOM.length).equals(BOM)) pending = pending.subarray(BOM.length);
  if (pending.length) yield* cut(pending);
  if (held === null || !content) throw new InputError(`${source} is empty; give a CSV file with a header row or JSON lines, one row per line`);
  yield { data: held, final: true };
}

function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(NL); i >= 0; i = bytes.indexOf(NL, i + 1)) n++;
  // a last line without its newline is still a line
  return bytes.length && bytes[bytes.length - 1] !== NL ? n + 1 : n;
}

const formatKiB = (n: number) => (n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`);

/** Which model version gets the reference, and how the data reads. */
export interface ReferenceUpload { name: string; version?: string; format: ReferenceFormat; datasetName: string }

/** Building the profile on the final chunk may take a while on big references. */
const FINAL_CALL_MS = 120_000;

/**
 * Send chunks with drift.setReference in order: the first without upload_id, the later ones with the id the agent
 * gave, `final` on the last. Resolves with the last answer, whose `reference` the agent built.
 */
export async function uploadReference(client: Pick<AgentClient, 'call'>, chunks: AsyncIterable<ReferenceChunk>, req: ReferenceUpload, opts: { onProgress?: (rows: number) => void } = {}): Promise<SetReferenceResult> {
  let uploadId: string | undefined;
  for await (const c of chunks) {
    const r = await client.call('drift.setReference', {
      name: req.name,
      ...(req.version !== undefined ? { version: req.version } : {}),
      format: req.format,
      ...(uploadId !== undefined ? { upload_id: uploadId } : {}),
      data: c.data,
      final: c.final,
      dataset_name: req.datasetName.slice(0, 256),
    }, c.final ? { timeoutMs: FINAL_CALL_MS } : {});
    opts.onProgress?.(r.received_rows);
    if (c.final) {
      if (!r.reference) throw new Error('the agent did not build the reference after the final chunk; upload it again');
      return r;
    }
    if (!r.upload_id) throw new Error('the agent gave no upload id for the next chunk; upload it again');
    uploadId = r.upload_id;
  }
  throw new InputError('nothing to upload: the reference has no rows');
}

/** Upload a reference file (chunked, streamed) to one agent; dataset_name is the file's base name. */
export async function uploadReferenceFile(client: Pick<AgentClient, 'call'>, path: string, req: Omit<ReferenceUpload, 'datasetName'>, opts: { chunkBytes?: number; onProgress?: (rows: number) => void } = {}): Promise<SetReferenceResult> {
  const chunks = chunkLines(createReadStream(path, { highWaterMark: 64 * 1024 }), path, opts.chunkBytes ?? REFERENCE_CHUNK_BYTES);
  return uploadReference(client, chunks, { ...req, datasetName: basename(path) }, opts);
}
