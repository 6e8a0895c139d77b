import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../../shared/client/agent-client.js';
import { inProcessAgent, rawSocket } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// Attack: model poisoning by a chunk that races the final chunk's commit. The attacker (an operate token) sends the
// final chunk and, on the same socket right behind it, one more chunk at the acknowledged offset. Before the fix the
// extra chunk was appended while the commit awaited the model check, so the stored artifact no longer matched its
// recorded sha256 — and a later honest push of the same file reused the poisoned artifact.

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let a: Awaited<ReturnType<typeof inProcessAgent>>;
beforeAll(async () => { a = await inProcessAgent({ jobDriver: ['fake'], gpuSource: 'none', gpuFixture: [] }); });
afterAll(async () => { await a?.close(); });

describe('model.push against a racing chunk', () => {
  it('refuses a chunk sent behind the final one, and the artifact holds exactly the verified bytes', async () => {
    const bytes = modelBytes('mlp.onnx');
    const poison = Buffer.from('#'.repeat(4096));
    const s = await rawSocket(`ws://127.0.0.1:${a.agent.port}/rpc`, a.token);
    await s.next((f) => f.method === 'hello');
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'model.push', params: { name: 'race', offset: 0, data_b64: bytes.toString('base64'), final: false } }));
    const first = await s.next((f) => f.id === 1);
    const upload = first.result.upload_id as string;
    // the final chunk (no bytes, just the digest) and the racing chunk, back to back
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'model.push', params: { name: 'race', upload_id: upload, offset: bytes.length, data_b64: '', final: true, sha256: sha(bytes) } }));
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'model.push', params: { name: 'race', upload_id: upload, offset: bytes.length, data_b64: poison.toString('base64'), final: false } }));
    const [fin, racer] = await Promise.all([s.next((f) => f.id === 2, 20_000), s.next((f) => f.id === 3, 20_000)]);
    s.ws.close();
    expect(fin.result.model.sha256).toBe(sha(bytes));
    expect(racer.error?.data?.code).toMatch(/CONFLICT|NOT_FOUND/);
    const art = readFileSync(join(a.dir, 'models', 'artifacts', `${sha(bytes)}.onnx`));
    expect(art.length).toBe(bytes.length);
    expect(sha(art)).toBe(sha(bytes));
  });

  it('never reuses a stored artifact whose bytes no longer match its digest', async () => {
    const bytes = modelBytes('linear.onnx');
    const c = new AgentClient({ url: `ws://127.0.0.1:${a.agent.port}/rpc`, token: a.token, reconnect: false });
    await c.connect();
    try {
      await pushModel(c, 'reuse', bytes);
      const file = join(a.dir, 'models', 'artifacts', `${sha(bytes)}.onnx`);
      // a poisoned artifact under the honest digest's name (what the race above used to leave)
      writeFileSync(file, Buffer.concat([bytes, Buffer.from('poison')]));
      const again = await pushModel(c, 'reuse-again', bytes);
      expect(again.model!.sha256).toBe(sha(bytes));
      expect(sha(readFileSync(file))).toBe(sha(bytes));
      // the version serves the honest model (linear 3 -> 2)
      const out = await c.call('model.infer', { name: 'reuse-again', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
      expect(out.outputs[0].shape).toEqual([1, 2]);
    } finally { await c.close(); }
  });
});
