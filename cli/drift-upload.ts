// The CLI side of reference uploads (the upload itself is shared/client/drift-upload.ts): the file's format from
// --format or its extension, a whole-file check before anything is sent, and what to try next for drift errors.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { RpcCallError } from '../shared/client/agent-client.js';
import { chunkLines, REFERENCE_CHUNK_BYTES, type ReferenceFormat } from '../shared/client/drift-upload.js';
import { UsageError } from './output.js';

/** --format, or the file's extension: .csv → csv; .jsonl / .ndjson → jsonl. Anything else asks for --format. */
export function referenceFormat(path: string, format: string | undefined, flag = '--format'): ReferenceFormat {
  if (format !== undefined) {
    if (format === 'csv' || format === 'jsonl') return format;
    throw new UsageError(`${flag} "${format}": use ${flag} csv or ${flag} jsonl`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new UsageError(`cannot tell the format of ${path} from its name: give ${flag} csv (a header row, then one row per line) or ${flag} jsonl (one JSON object or array per line)`);
}

/**
 * Check a reference file before anything is sent: it exists, is a regular file, and cuts into chunks (UTF-8, no
 * line over the chunk limit, not empty). Reads the whole file once, streamed; a bad file fails before any upload
 * starts instead of leaving a half-sent upload on the agent. Resolves with the number of chunks.
 */
export async function checkReferenceFile(path: string, flag: string, chunkBytes: number = REFERENCE_CHUNK_BYTES): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${flag} ${path} is not a regular file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let n = 0;
  for await (const _chunk of chunkLines(createReadStream(path, { highWaterMark: 64 * 1024 }), `${flag} ${path}`, chunkBytes)) n++;
  return n;
}

/** Say what to try next for the agent errors of drift calls a user can fix. */
export function explainDriftError(e: unknown, node: string, method: string, model: string): Error {
  if (!(e instanceof RpcCallError)) return e instanceof Error ? e : new Error(String(e));
  const hint = e.codeName === 'FORBIDDEN' ? '; this needs a token with the operate role (create one with: fleetml token create --role operate)'
    : e.codeName === 'METHOD_NOT_FOUND' ? '; the agent is too old for drift monitoring: upgrade it'
    : e.codeName === 'NOT_FOUND' ? `; list the models with: fleetml model list ${model}`
    : e.codeName === 'INVALID_PARAMS' && method === 'drift.setReference' ? '; check the file: CSV needs a header row whose columns name the model inputs (or are in input order), JSON lines need one object or array per line'
    : e.codeName === 'TIMEOUT' ? `; the agent may still be working: check with: fleetml drift show ${model}`
    : '';
  return new Error(`${method} on ${node} refused (${e.codeName}): ${e.message}${hint}`);
}
