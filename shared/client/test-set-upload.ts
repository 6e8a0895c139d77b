// Staging a rollout gate's test set with rollout.uploadTestSet: the JSON of the TestSet cut into chunks sized to the
// agent's frame limit (node.info max_frame_bytes), the last with the sha256. Used by `fleetml rollout start
// --test-set`, the rollout coordinator (to send the set to a peer for model.evaluate) and the tests.
import { createHash } from 'node:crypto';
import type { TestSet } from '../protocol/rollout.js';

/** Decoded bytes of one chunk at most: the schema's 512 KiB of base64. */
export const TEST_SET_CHUNK_BYTES = 384 * 1024;
/** Room in a frame for the JSON-RPC envelope around a chunk's base64. */
const FRAME_OVERHEAD = 1024;

/** A call on one agent, as AgentClient.call or a coordinator's node call provides it. */
export type TestSetCall = (method: 'rollout.uploadTestSet' | 'node.info', params: Record<string, unknown>) => Promise<unknown>;

/** Decoded bytes per chunk so that a chunk's frame (base64 plus envelope) fits in `maxFrameBytes`. */
export function testSetChunkBytes(maxFrameBytes: number | undefined): number {
  if (maxFrameBytes === undefined) return TEST_SET_CHUNK_BYTES;
  const fit = Math.floor(((maxFrameBytes - FRAME_OVERHEAD) / 4) * 3);
  return Math.max(256, Math.min(TEST_SET_CHUNK_BYTES, fit - (fit % 3)));
}

/** Result of a staged upload: the id to reference (gate.test_set_id, model.evaluate test_set_id) and the row count. */
export interface StagedTestSet { id: string; name: string | null; rows: number }

/**
 * Upload a test set with rollout.uploadTestSet, chunk by chunk in order. Without `chunkBytes` the agent's frame limit
 * is asked first (node.info; an agent that does not say gets TEST_SET_CHUNK_BYTES). Rejects as the agent answers
 * (METHOD_NOT_FOUND from an agent older than protocol 1.7: send the set inline instead).
 */
export async function uploadTestSet(call: TestSetCall, testSet: TestSet, opts: { chunkBytes?: number } = {}): Promise<StagedTestSet> {
  let chunk = opts.chunkBytes;
  if (chunk === undefined) {
    const info = await call('node.info', {}) as { max_frame_bytes?: number };
    chunk = testSetChunkBytes(info.max_frame_bytes);
  }
  const bytes = Buffer.from(JSON.stringify(testSet), 'utf8');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let uploadId: string | undefined;
  for (let offset = 0; ; offset += chunk) {
    const part = bytes.subarray(offset, offset + chunk);
    const final = offset + part.length >= bytes.length;
    const r = await call('rollout.uploadTestSet', { ...(uploadId ? { upload_id: uploadId } : {}), offset, data_b64: part.toString('base64'), final, ...(final ? { sha256 } : {}) }) as { upload_id: string; test_set: StagedTestSet | null };
    uploadId = r.upload_id;
    if (final) {
      if (!r.test_set) throw new Error('the agent did not stage the test set after its final chunk; upload it again');
      return r.test_set;
    }
  }
}
