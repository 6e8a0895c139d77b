import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRuntime, type LoadedModel } from '../../../agent/serving/runtime.js';
import { forward, loadWeights, modelPath, mulberry32 } from './helpers.js';

const runtime = new ModelRuntime();
afterAll(() => runtime.closeAll());

function randomInput(rows: number, cols: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: rows * cols }, () => r() * 4 - 2);
}

describe('ModelRuntime on the generated fixtures', () => {
  for (const [name, inF, outF] of [['linear', 3, 2], ['logreg', 4, 1], ['softmax', 8, 3], ['mlp', 64, 10]] as const) {
    it(`${name} matches the hand computation`, async () => {
      const m = await runtime.load(modelPath(name), { providers: ['cpu'], intraOpThreads: 1, workers: 1 });
      expect(m.provider).toBe('cpu');
      expect(m.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: ['batch', inF] }]);
      expect(m.outputs).toEqual([{ name: 'output', dtype: 'float32', shape: ['batch', outF] }]);
      await m.warmup();
      const rows = 5;
      const x = randomInput(rows, inF, 99);
      const { outputs, computeUs } = await m.infer({ input: { dtype: 'float32', dims: [rows, inF], data: x } });
      expect(computeUs).toBeGreaterThanOrEqual(0);
      expect(outputs.output.dims).toEqual([rows, outF]);
      const layers = loadWeights(name);
      const y = outputs.output.data as Float32Array;
      for (let r = 0; r < rows; r++) {
        const ref = forward(layers, x.subarray(r * inF, (r + 1) * inF));
        for (let j = 0; j < outF; j++) expect(Math.abs(y[r * outF + j] - ref[j])).toBeLessThan(1e-5);
      }
      await m.close();
    });
  }

  it('rejects bad feeds with the validation message', async () => {
    const m = await runtime.load(modelPath('logreg'));
    await expect(m.infer({ input: { dtype: 'float32', dims: [1, 3], data: new Float32Array(3) } })).rejects.toThrow('input "input": expected shape [batch, 4], got [1, 3]');
    await m.close();
    await expect(m.infer({ input: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } })).rejects.toThrow(/closed/);
  });

  it('rejects a file that is not ONNX, and one ORT cannot load, leaving no worker', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetml-onnx-'));
    const png = path.join(dir, 'x.onnx');
    fs.writeFileSync(png, Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await expect(runtime.load(png)).rejects.toThrow(/cannot load model .*x\.onnx: not an ONNX model: .*PNG/);
    await expect(runtime.load(path.join(dir, 'missing.onnx'))).rejects.toThrow(/cannot load model .*missing\.onnx: ENOENT/);
    // Well-formed header, but a graph ORT refuses (node refers to an unknown input).
    const bad = path.join(dir, 'bad.onnx');
    const b = fs.readFileSync(modelPath('linear'));
    fs.writeFileSync(bad, Buffer.from(b.toString('latin1').replace('matmul0', 'matmulX').replace('mm0', 'mmX'), 'latin1'));
    const before = process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker').length;
    await expect(runtime.load(bad)).rejects.toThrow(/cannot load model .*bad\.onnx: cpu: /);
    await new Promise((r) => setTimeout(r, 50));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker').length).toBe(before);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('CUDA requested without the CUDA EP → serves on cpu with a note', async () => {
    const m = await runtime.load(modelPath('logreg'), { providers: ['cuda', 'cpu'], intraOpThreads: 1, workers: 2 });
    expect(m.provider).toBe('cpu');
    expect(m.providerNote).toMatch(/^cuda: .+/);
    const { outputs } = await m.infer({ input: { dtype: 'float32', dims: [1, 4], data: Float32Array.from([1, 2, 3, 4]) } });
    const ref = forward(loadWeights('logreg'), [1, 2, 3, 4])[0];
    expect(Math.abs((outputs.output.data as Float32Array)[0] - ref)).toBeLessThan(1e-5);
    await m.close();
  });

  it('keeps the event loop responsive while the MLP runs a big batch', async () => {
    const m = await runtime.load(modelPath('mlp'), { workers: 1 });
    const rows = 60_000; // long runs, so scheduling noise on a busy CI machine stays small against them
    const inputs = Array.from({ length: 4 }, (_, i) => randomInput(rows, 64, 5 + i)); // made before timing: generating them blocks
    let last = performance.now(), maxGap = 0, ticks = 0;
    const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; ticks++; }, 5);
    const t0 = performance.now();
    const perRun: number[] = [];
    for (const x of inputs) perRun.push((await m.infer({ input: { dtype: 'float32', dims: [rows, 64], data: x } }, { transfer: true })).computeUs / 1000);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    await m.close();
    const longest = Math.max(...perRun);
    if (process.env.SERVING_DEBUG) console.log({ perRun, maxGap, ticks, elapsed });
    // The worker computed for a while; the main loop kept ticking throughout, never stalled for as long as one run
    // (which it would be if session.run ran on the main thread).
    expect(perRun.reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
    expect(ticks).toBeGreaterThan(elapsed / 5 / 10);
    expect(maxGap).toBeLessThan(longest * 0.9); // on the main thread the loop would stall for a whole run
  });

  it('a killed worker rejects its in-flight request and is replaced', async () => {
    const m = (await runtime.load(modelPath('mlp'), { workers: 1 })) as LoadedModel & { _terminateWorkerForTest(i?: number): Promise<void> };
    const rows = 60_000; // long runs, so scheduling noise on a busy CI machine stays small against them
    const pending = m.infer({ input: { dtype: 'float32', dims: [rows, 64], data: randomInput(rows, 64, 1) } });
    const failed = pending.then(() => null, (e: Error) => e);
    await m._terminateWorkerForTest(0);
    const err = await failed;
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/model worker 0 exited \(code \d+\) while running the request; it was not completed/);
    const { outputs } = await m.infer({ input: { dtype: 'float32', dims: [1, 64], data: randomInput(1, 64, 2) } });
    const ref = forward(loadWeights('mlp'), randomInput(1, 64, 2));
    const y = outputs.output.data as Float32Array;
    for (let j = 0; j < 10; j++) expect(Math.abs(y[j] - ref[j])).toBeLessThan(1e-5);
    await m.close();
  });

  it('spreads requests over several workers', async () => {
    const m = (await runtime.load(modelPath('softmax'), { workers: 3 })) as LoadedModel & { inflight: number[] };
    const x = randomInput(1, 8, 3);
    const all = Array.from({ length: 9 }, () => m.infer({ input: { dtype: 'float32', dims: [1, 8], data: x } }));
    expect(m.inflight).toEqual([3, 3, 3]);
    const res = await Promise.all(all);
    const first = Array.from(res[0].outputs.output.data as Float32Array);
    for (const r of res) expect(Array.from(r.outputs.output.data as Float32Array)).toEqual(first);
    await m.warmup();
    await m.close();
  });
});
