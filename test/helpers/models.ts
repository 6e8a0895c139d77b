import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../shared/client/agent-client.js';

/** Path of a generated test model (scripts/gen-onnx-models.ts). */
export const modelFile = (f: string) => join(__dirname, '..', 'fixtures', 'models', f);

/** Push a file through the real chunked model.push API. */
export async function pushModel(c: AgentClient, name: string, bytes: Buffer, o: { version?: string; chunk?: number; sha256?: string } = {}) {
  const chunk = o.chunk ?? 512 * 1024;
  const sha256 = o.sha256 ?? createHash('sha256').update(bytes).digest('hex');
  let upload_id: string | undefined;
  let offset = 0;
  for (;;) {
    const part = bytes.subarray(offset, offset + chunk);
    const final = offset + part.length >= bytes.length;
    const r = await c.call('model.push', { name, ...(o.version ? { version: o.version } : {}), ...(upload_id ? { upload_id } : {}), offset, data_b64: part.toString('base64'), final, ...(final ? { sha256 } : {}) });
    upload_id = r.upload_id;
    offset += part.length;
    if (final) return r;
  }
}

/** Bytes of a generated model. */
export const modelBytes = (f: string) => readFileSync(modelFile(f));
