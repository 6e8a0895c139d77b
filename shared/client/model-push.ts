// Uploading a model with model.push: a file (streamed, chunk by chunk) or bytes already in memory. Used by
// `fleetml model push`, the demo, the benchmarks and the tests.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { AgentClient } from './agent-client.js';
import type { ModelVersion } from '../protocol/models.js';

/** Bytes of one model.push chunk (decoded): the protocol's maximum. */
export const PUSH_CHUNK_BYTES = 512 * 1024;

/** Committing a push (sha256 + ONNX parse check) may take a while on big models. */
const FINAL_CALL_MS = 120_000;

/** One chunk of an upload: bytes [offset, offset + length) of the file; the last one has final. */
export interface ChunkPlan { offset: number; length: number; final: boolean }

/**
 * Cut a file of `size` bytes into chunks of at most `chunk` bytes, in order; the last is final.
 * An empty file has no chunks (model.push refuses empty files: the caller says so first).
 */
export function planChunks(size: number, chunk: number = PUSH_CHUNK_BYTES): ChunkPlan[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`planChunks: size must be a whole number >= 0, got ${size}`);
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`planChunks: chunk must be a whole number >= 1, got ${chunk}`);
  const out: ChunkPlan[] = [];
  for (let offset = 0; offset < size; offset += chunk) {
    const length = Math.min(chunk, size - offset);
    out.push({ offset, length, final: offset + length === size });
  }
  return out;
}

/** sha256 of a file, streamed (models can be large). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Upload bytes already in memory with model.push (tests, benchmarks, the demo's generated models): chunks in order,
 * the last one final with the sha256 (computed unless given, e.g. a wrong one on purpose). Resolves with the final
 * answer, whose `model` is the committed version.
 */
export async function pushModelBytes(client: Pick<AgentClient, 'call'>, name: string, bytes: Buffer, o: { version?: string; chunk?: number; sha256?: string } = {}) {
  const chunk = o.chunk ?? PUSH_CHUNK_BYTES;
  const sha256 = o.sha256 ?? createHash('sha256').update(bytes).digest('hex');
  let upload_id: string | undefined;
  let offset = 0;
  for (;;) {
    const part = bytes.subarray(offset, offset + chunk);
    const final = offset + part.length >= bytes.length;
    const r = await client.call('model.push', { name, ...(o.version ? { version: o.version } : {}), ...(upload_id ? { upload_id } : {}), offset, data_b64: part.toString('base64'), final, ...(final ? { sha256 } : {}) }, final ? { timeoutMs: FINAL_CALL_MS } : {});
    upload_id = r.upload_id;
    offset += part.length;
    if (final) return r;
  }
}

/** Lineage sent with model.push. */
export interface PushLineage { git_commit?: string; dataset_sha256?: string; dataset_name?: string; meta?: Record<string, string> }

/** What every chunk of one push carries besides its bytes. */
export interface PushRequest { name: string; version?: string; sha256: string; size: number; lineage?: PushLineage }

/**
 * Upload a file to one agent with model.push: chunk by chunk in order, the first without upload_id, the last with
 * final and the sha256. Resolves with the committed version.
 */
export async function pushModel(client: Pick<AgentClient, 'call'>, path: string, req: PushRequest, opts: { chunkBytes?: number; onProgress?: (sent: number) => void } = {}): Promise<ModelVersion> {
  const plan = planChunks(req.size, opts.chunkBytes ?? PUSH_CHUNK_BYTES);
  const fh = await open(path, 'r');
  try {
    let uploadId: string | undefined;
    const buf = Buffer.alloc(Math.min(opts.chunkBytes ?? PUSH_CHUNK_BYTES, req.size));
    for (const c of plan) {
      const { bytesRead } = await fh.read(buf, 0, c.length, c.offset);
      if (bytesRead !== c.length) throw new Error(`${path} changed while it was being pushed (short read at ${c.offset}); push again`);
      const r = await client.call('model.push', {
        name: req.name,
        ...(req.version !== undefined ? { version: req.version } : {}),
        ...(uploadId !== undefined ? { upload_id: uploadId } : {}),
        offset: c.offset,
        data_b64: buf.subarray(0, c.length).toString('base64'),
        final: c.final,
        total_bytes: req.size,
        ...(c.final ? { sha256: req.sha256 } : {}),
        ...(req.lineage ? { lineage: req.lineage } : {}),
      }, c.final ? { timeoutMs: FINAL_CALL_MS } : {});
      uploadId = r.upload_id;
      if (r.received_bytes !== c.offset + c.length) throw new Error(`the agent has ${r.received_bytes} bytes of the upload, expected ${c.offset + c.length}; push again`);
      opts.onProgress?.(r.received_bytes);
      if (c.final) {
        if (!r.model) throw new Error('the agent did not commit the upload after its final chunk; push again');
        return r.model;
      }
    }
    throw new Error('nothing to push: the file is empty');
  } finally { await fh.close(); }
}
