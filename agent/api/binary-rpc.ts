import { decodeFrame, encodeFrame, RpcError } from '../../shared/protocol/index.js';
import type { CallContext } from './context.js';
import type { RpcDispatcher } from './rpc.js';

// Binary WebSocket frames: the transport only. The frame codec is shared/protocol/binary-frame.ts (used by the client
// too); the header goes through the same RpcDispatcher as text frames — envelope, method, role, the method's
// `binary.params` schema, metrics, audit, stable error codes. Tensor bytes are never copied or re-encoded here: the
// payload is a view of the frame, and the answer's parts are copied once into the outgoing frame.

/** Handle one binary frame: a binary answer, or a text JSON-RPC error frame with the request's id. */
export async function handleBinaryFrame(buf: Buffer, ctx: CallContext, dispatcher: RpcDispatcher): Promise<Buffer | string> {
  let decoded: { header: unknown; payload: Buffer };
  try { decoded = decodeFrame(buf); } catch (e) {
    const err = e instanceof RpcError ? e : new RpcError('INVALID_REQUEST', `bad binary frame: ${(e as Error).message}`);
    return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: err.code, message: err.message, data: err.data } });
  }
  const { response, parts } = await dispatcher.handleBinary(decoded.header, decoded.payload, ctx);
  return 'result' in response ? encodeFrame(response, parts) : JSON.stringify(response);
}
