import { z } from 'zod';
import { RequestId } from './envelope.js';
import { RpcError } from './errors.js';
import { DatatypeName, ModelName, TensorName, VersionName } from './names.js';
import { InferRequestId } from './feedback.js';

// The binary form of a method over the WebSocket (today only model.infer): JSON costs more than the inference for
// small models, so tensor bytes travel raw and only a small JSON header is parsed. One codec for both sides.
//
// Frame (both directions): [u32 LE header length N][N bytes: UTF-8 JSON header][tensor bytes, little-endian, in
// header order, each `binary_data_size` long, nothing left over].
//   request header:  {"jsonrpc":"2.0","id":…,"method":"model.infer","params":BinaryInferParams}
//   response header: {"jsonrpc":"2.0","id":…,"result":BinaryInferResult}
// Errors come back as ordinary text JSON-RPC error frames with the same id (the same stable codes as JSON-RPC).
// decodeFrame and splitPayload never copy tensor bytes: they return views of the frame.

/** Bytes of the header-length prefix. */
export const FRAME_PREFIX_BYTES = 4;

/** One tensor in a binary header: its bytes follow the header in header order. */
export const BinaryTensorHeader = z.object({
  name: TensorName,
  datatype: DatatypeName,
  shape: z.array(z.number().int().min(0)).max(16),
  binary_data_size: z.number().int().min(0),
});
export type BinaryTensorHeader = z.infer<typeof BinaryTensorHeader>;

/** Params of the binary model.infer: the same bounds as model.infer's (name, version), tensors described, not sent. */
export const BinaryInferParams = z.object({ name: ModelName, version: VersionName.optional(), id: InferRequestId.optional(), inputs: z.array(BinaryTensorHeader).min(1).max(64) }).strict();
export type BinaryInferParams = z.infer<typeof BinaryInferParams>;

/** Result header of the binary model.infer: which version answered, timing, and the outputs' layout. */
export const BinaryInferResult = z.object({
  model_name: z.string().max(256),
  model_version: z.string().max(256),
  /** The request id: the caller's, or one the agent generated (model.feedback joins labels on it). Always sent since
   * protocol 1.5; optional so that a newer client still decodes the answers of a 1.4 agent. */
  id: z.string().max(128).optional(),
  timing_us: z.object({ queue: z.number(), compute: z.number() }),
  outputs: z.array(BinaryTensorHeader).max(1024),
});
export type BinaryInferResult = z.infer<typeof BinaryInferResult>;

/** The whole request header of a binary model.infer frame. */
export const BinaryInferHeader = z.object({
  jsonrpc: z.literal('2.0'),
  id: RequestId.optional(),
  method: z.literal('model.infer'),
  params: BinaryInferParams,
});
export type BinaryInferHeader = z.infer<typeof BinaryInferHeader>;

/** The whole response header of a binary model.infer frame. */
export const BinaryInferResponseHeader = z.object({ jsonrpc: z.literal('2.0'), id: z.union([RequestId, z.null()]), result: BinaryInferResult });
export type BinaryInferResponseHeader = z.infer<typeof BinaryInferResponseHeader>;

/**
 * Split a frame into its JSON header (parsed, not yet validated) and its payload (a view of `buf`, no copy).
 * Throws RpcError: INVALID_REQUEST for a frame whose length prefix does not fit, PARSE_ERROR for a header that is not JSON.
 */
export function decodeFrame(buf: Buffer): { header: unknown; payload: Buffer } {
  if (buf.length < FRAME_PREFIX_BYTES) throw new RpcError('INVALID_REQUEST', `binary frame of ${buf.length} bytes is shorter than its ${FRAME_PREFIX_BYTES}-byte header length`);
  const n = buf.readUInt32LE(0);
  if (n === 0 || FRAME_PREFIX_BYTES + n > buf.length) throw new RpcError('INVALID_REQUEST', `binary frame header length ${n} does not fit the ${buf.length}-byte frame`);
  let header: unknown;
  try { header = JSON.parse(buf.toString('utf8', FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + n)); } catch (e) {
    throw new RpcError('PARSE_ERROR', `binary frame header is not JSON: ${(e as Error).message}`);
  }
  return { header, payload: buf.subarray(FRAME_PREFIX_BYTES + n) };
}

/** Build a frame from a JSON header and tensor bytes (one allocation; the parts are copied once into it). */
export function encodeFrame(header: unknown, parts: readonly Uint8Array[]): Buffer {
  const json = JSON.stringify(header);
  const n = Buffer.byteLength(json);
  let size = FRAME_PREFIX_BYTES + n;
  for (const p of parts) size += p.byteLength;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(n, 0);
  out.write(json, FRAME_PREFIX_BYTES, 'utf8');
  let off = FRAME_PREFIX_BYTES + n;
  for (const p of parts) { out.set(p, off); off += p.byteLength; }
  return out;
}

/**
 * Cut a payload into one view per tensor, in header order (no copy). Throws RpcError INVALID_PARAMS naming the tensor
 * when a size runs past the payload, and when bytes are left over. `where` names the list ("inputs", "outputs").
 */
export function splitPayload(payload: Buffer, tensors: ReadonlyArray<{ name: string; binary_data_size: number }>, where: string): Buffer[] {
  const out = new Array<Buffer>(tensors.length);
  let off = 0;
  for (let i = 0; i < tensors.length; i++) {
    const size = tensors[i].binary_data_size;
    if (off + size > payload.length) {
      throw new RpcError('INVALID_PARAMS', `${where}[${i}] "${tensors[i].name.slice(0, 64)}": binary_data_size ${size} at offset ${off} runs past the ${payload.length}-byte payload`);
    }
    out[i] = payload.subarray(off, off + size);
    off += size;
  }
  if (off !== payload.length) throw new RpcError('INVALID_PARAMS', `the payload has ${payload.length - off} bytes no entry of ${where} claims (binary_data_size adds up to ${off} of ${payload.length})`);
  return out;
}
