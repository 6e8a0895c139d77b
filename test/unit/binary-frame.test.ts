import { afterAll, describe, expect, it } from 'vitest';
import { BinaryInferParams, decodeFrame, encodeFrame, RpcError, splitPayload } from '../../shared/protocol/index.js';
import { RpcDispatcher } from '../../agent/api/rpc.js';
import { AuditLog } from '../../agent/store/audit.js';
import { openStore } from '../../agent/store/db.js';
import { createLogger } from '../../agent/log.js';
import { tempDir } from '../helpers/agent.js';

// The binary frame codec (shared/protocol/binary-frame.ts) used by the agent and the client, and the dispatcher's
// binary entry.

const rpcErr = (f: () => unknown) => { try { f(); } catch (e) { return e as RpcError; } throw new Error('did not throw'); };

describe('binary frame codec', () => {
  it('round-trips a header and tensor bytes, the payload a view of the frame', () => {
    const a = Buffer.from([1, 2, 3, 4]); const b = Buffer.from([5, 6]);
    const f = encodeFrame({ id: 7, é: 'ü' }, [a, b]);
    const { header, payload } = decodeFrame(f);
    expect(header).toEqual({ id: 7, é: 'ü' });
    expect([...payload]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(payload.buffer).toBe(f.buffer); // no copy
    expect(splitPayload(payload, [{ name: 'a', binary_data_size: 4 }, { name: 'b', binary_data_size: 2 }], 'inputs').map((x) => [...x])).toEqual([[1, 2, 3, 4], [5, 6]]);
  });
  it('refuses malformed frames with stable codes', () => {
    expect(rpcErr(() => decodeFrame(Buffer.from([1, 2]))).data.code).toBe('INVALID_REQUEST');
    const tooLong = Buffer.alloc(8); tooLong.writeUInt32LE(100, 0);
    expect(rpcErr(() => decodeFrame(tooLong)).message).toMatch(/header length 100 does not fit the 8-byte frame/);
    const notJson = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('{x}')]);
    expect(rpcErr(() => decodeFrame(notJson)).data.code).toBe('PARSE_ERROR');
  });
  it('names the tensor whose size runs past the payload, and refuses left-over bytes', () => {
    const e = rpcErr(() => splitPayload(Buffer.alloc(4), [{ name: 'input', binary_data_size: 8 }], 'inputs'));
    expect(e.data.code).toBe('INVALID_PARAMS');
    expect(e.message).toMatch(/inputs\[0\] "input": binary_data_size 8/);
    expect(rpcErr(() => splitPayload(Buffer.alloc(5), [{ name: 'x', binary_data_size: 4 }], 'inputs')).message).toMatch(/1 bytes no entry of inputs claims/);
  });
  it('bounds every string of the binary params', () => {
    const ok = { name: 'm', inputs: [{ name: 'input', datatype: 'FP32', shape: [1], binary_data_size: 4 }] };
    expect(BinaryInferParams.safeParse(ok).success).toBe(true);
    for (const bad of [{ ...ok, name: 'a'.repeat(64) }, { ...ok, version: 'v'.repeat(64) }, { ...ok, inputs: [{ ...ok.inputs[0], name: 'i'.repeat(257) }] }, { ...ok, inputs: [{ ...ok.inputs[0], datatype: 'F'.repeat(17) }] }]) {
      expect(BinaryInferParams.safeParse(bad).success).toBe(false);
    }
  });
});

describe('RpcDispatcher binary entry and in-agent calls', () => {
  const t = tempDir();
  const db = openStore(t.dir);
  afterAll(() => { db.close(); t.cleanup(); });
  const calls: string[] = [];
  const d = new RpcDispatcher(
    { 'model.get': () => { throw new RpcError('CONFLICT', 'busy', { retry_after_ms: 5 }); } },
    new AuditLog(db), createLogger('silent'), (m, o) => calls.push(`${m} ${o}`),
    { 'model.infer': async (p, payload) => ({ result: { model_name: p.name, model_version: 'v1', timing_us: { queue: 0, compute: 0 }, outputs: [{ name: 'y', datatype: 'UINT8', shape: [payload.length], binary_data_size: payload.length }] }, parts: [payload] }) },
  );
  const ctx = (role: 'read' | 'operate' | 'admin') => ({ principal: { tokenId: 't', tokenName: 'tk', role }, remote: null, conn: { id: 'c', addSubscription: () => undefined, removeSubscription: () => false, subscriptionCount: 0, sendEvent: () => undefined } });
  const header = (params: unknown, method = 'model.infer') => ({ jsonrpc: '2.0', id: 9, method, params });

  it('keeps the error data of a handler in call()', async () => {
    const e = await d.call('model.get', { name: 'm' }, ctx('read')).catch((x) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect(e.data).toEqual({ code: 'CONFLICT', retry_after_ms: 5 });
  });
  it('validates the binary params, hands the payload beside them and counts the call', async () => {
    const payload = Buffer.from([1, 2, 3]);
    const r = await d.handleBinary(header({ name: 'm', inputs: [{ name: 'x', datatype: 'UINT8', shape: [3], binary_data_size: 3 }] }), payload, ctx('read'));
    expect(r.response).toMatchObject({ id: 9, result: { model_name: 'm' } });
    expect(r.parts[0]).toBe(payload);
    const bad = await d.handleBinary(header({ name: 'M!', inputs: [] }), payload, ctx('read'));
    expect(bad.response).toMatchObject({ id: 9, error: { data: { code: 'INVALID_PARAMS' } } });
    const other = await d.handleBinary(header({ name: 'm' }, 'model.get'), payload, ctx('read'));
    expect(other.response).toMatchObject({ error: { data: { code: 'INVALID_REQUEST' }, message: expect.stringMatching(/only model\.infer/) } });
    const forbidden = await d.handleBinary(header({}, 'model.load'), payload, ctx('read'));
    expect(forbidden.response).toMatchObject({ error: { data: { code: 'FORBIDDEN' } } });
    expect(calls).toEqual(expect.arrayContaining(['model.infer ok', 'model.infer INVALID_PARAMS', 'model.get INVALID_REQUEST', 'model.load FORBIDDEN']));
  });
});
