import { BinaryInferHeader, ErrorCodes, RpcError, roleAllows, type ErrorName } from '../../shared/protocol/index.js';
import { describeIssues } from './rpc.js';
import { ORT_TO_KSERVE } from '../serving/tensors.js';
import type { ServingManager } from '../serving/serving.js';
import type { RawTensor } from '../serving/tensors.js';
import { fromBinary, toBinary } from './http-v2.js';
import type { CallContext } from './context.js';

// Binary form of model.infer over the WebSocket: JSON costs more than the inference for small models.
// Frame (both directions): [u32 LE header length][header: UTF-8 JSON][tensor bytes, little-endian, in header order].
// Request header:  {"jsonrpc":"2.0","id":…,"method":"model.infer","params":{"name","version"?,"inputs":[{"name","datatype","shape","binary_data_size"}]}}
// Response header: {"jsonrpc":"2.0","id":…,"result":{"model_name","model_version","timing_us","outputs":[{"name","datatype","shape","binary_data_size"}]}}
// Errors come back as ordinary text JSON-RPC error frames with the same id.

/** Split a binary frame into its JSON header and payload. Throws a clear Error on a malformed frame. */
export function decodeFrame(buf: Buffer): { header: any; payload: Buffer } {
  if (buf.length < 4) throw new Error('binary frame shorter than its 4-byte header length');
  const n = buf.readUInt32LE(0);
  if (n === 0 || 4 + n > buf.length) throw new Error(`binary frame header length ${n} does not fit the ${buf.length}-byte frame`);
  let header: unknown;
  try { header = JSON.parse(buf.toString('utf8', 4, 4 + n)); } catch (e) { throw new Error(`binary frame header is not JSON: ${(e as Error).message}`); }
  return { header, payload: buf.subarray(4 + n) };
}

/** Build a binary frame from a JSON header and tensor bytes. */
export function encodeFrame(header: unknown, parts: Buffer[]): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  return Buffer.concat([len, h, ...parts]);
}

/** Handle one binary frame; returns the binary answer, or a text error frame. */
export async function handleBinaryFrame(buf: Buffer, ctx: CallContext, serving: ServingManager): Promise<Buffer | string> {
  let id: string | number | null = null;
  const fail = (name: ErrorName, message: string) => JSON.stringify({ jsonrpc: '2.0', id, error: { code: ErrorCodes[name], message, data: { code: name } } });
  try {
    const { header, payload } = decodeFrame(buf);
    id = (typeof header?.id === 'string' && header.id.length <= 128) || typeof header?.id === 'number' ? header.id : null;
    if (header?.jsonrpc !== '2.0' || header?.method !== 'model.infer') return fail('INVALID_REQUEST', 'binary frames carry only {"jsonrpc":"2.0","method":"model.infer"} requests');
    if (!roleAllows(ctx.principal.role, 'read')) return fail('FORBIDDEN', 'model.infer needs role read');
    // Every field is bounded by the schema before anything is looked up: an over-long or malformed name never
    // reaches the registry (whose caches hold only names that exist).
    const parsed = BinaryInferHeader.safeParse(header);
    if (!parsed.success) return fail('INVALID_PARAMS', `invalid params for model.infer: ${describeIssues(parsed.error.issues)}`);
    const p = parsed.data.params;
    const feeds: Record<string, RawTensor> = {};
    let off = 0;
    for (const [i, t] of p.inputs.entries()) {
      const where = `inputs[${i}] "${t.name.slice(0, 64)}"`;
      if (off + t.binary_data_size > payload.length) return fail('INVALID_PARAMS', `${where}: binary_data_size ${t.binary_data_size} runs past the ${payload.length}-byte payload`);
      if (feeds[t.name]) return fail('INVALID_PARAMS', `${where}: given twice`);
      try { feeds[t.name] = fromBinary(where, t.datatype, t.shape, payload.subarray(off, off + t.binary_data_size)); } catch (e) { return fail('INVALID_PARAMS', (e as Error).message); }
      off += t.binary_data_size;
    }
    if (off !== payload.length) return fail('INVALID_PARAMS', `the payload has ${payload.length - off} bytes no input claims`);
    const r = await serving.inferRaw(p.name, p.version, feeds);
    const parts: Buffer[] = [];
    const outputs = Object.entries(r.outputs).map(([name, t]) => { const b = toBinary(t); parts.push(b); return { name, datatype: ORT_TO_KSERVE[t.dtype], shape: t.dims, binary_data_size: b.length }; });
    return encodeFrame({ jsonrpc: '2.0', id, result: { model_name: r.name, model_version: r.version, timing_us: r.timing_us, outputs } }, parts);
  } catch (e) {
    if (e instanceof RpcError) return JSON.stringify({ jsonrpc: '2.0', id, error: { code: e.code, message: e.message, data: e.data } });
    return fail('INVALID_REQUEST', `bad binary frame: ${(e as Error).message}`);
  }
}
