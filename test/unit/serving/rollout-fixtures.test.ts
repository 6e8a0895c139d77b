// The rollout candidates of test/fixtures/models (issue 6; scripts/gen-onnx-models.ts): logreg-drifted.onnx returns
// different answers than logreg.onnx, logreg-slow.onnx returns the same answers but runs a heavy branch. No timing
// assertions here (tests never fail on timing): the slowness is checked through the graph's structure.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelInfo } from '../../../agent/serving/onnx-pb.js';
import { ModelRuntime, type LoadedModel } from '../../../agent/serving/runtime.js';
import { gaussian } from '../../../shared/util/prng.js';
import { forward, loadWeights, MODELS_DIR, modelPath, mulberry32 } from './helpers.js';

const runtime = new ModelRuntime();
afterAll(() => runtime.closeAll());

/** Standard-normal float32 rows × 4. */
function normalInput(rows: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  return Float32Array.from({ length: rows * 4 }, g);
}

async function run(m: LoadedModel, x: Float32Array): Promise<Float32Array> {
  const { outputs } = await m.infer({ input: { dtype: 'float32', dims: [x.length / 4, 4], data: x } });
  expect(outputs.output.dims).toEqual([x.length / 4, 1]);
  return outputs.output.data as Float32Array;
}

// Minimal protobuf walk: ModelProto.graph (7) → GraphProto.node (1) → NodeProto.op_type (4); initializer (5) → dims (1).
function fields(buf: Uint8Array): { field: number; wire: number; value: bigint | Uint8Array }[] {
  const out: { field: number; wire: number; value: bigint | Uint8Array }[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let r = 0n, shift = 0n;
    for (;;) { const b = buf[pos++]; r |= BigInt(b & 0x7f) << shift; if ((b & 0x80) === 0) return r; shift += 7n; }
  };
  while (pos < buf.length) {
    const k = varint(), field = Number(k >> 3n), wire = Number(k & 7n);
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) { const n = Number(varint()); out.push({ field, wire, value: buf.subarray(pos, pos + n) }); pos += n; }
    else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const sub = (buf: Uint8Array, field: number): Uint8Array[] => fields(buf).filter((f) => f.field === field && f.wire === 2).map((f) => f.value as Uint8Array);
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

function graphOf(name: string): { ops: string[]; initializers: { name: string; dims: number[] }[] } {
  const graph = sub(fs.readFileSync(modelPath(name)), 7)[0];
  const ops = sub(graph, 1).map((n) => text(sub(n, 4)[0]));
  const initializers = sub(graph, 5).map((t) => ({ name: text(sub(t, 8)[0]), dims: fields(t).filter((f) => f.field === 1 && f.wire === 0).map((f) => Number(f.value)) }));
  return { ops, initializers };
}

describe('rollout fixtures: logreg-drifted and logreg-slow against logreg', () => {
  it('have logreg\'s signature and load on cpu', async () => {
    for (const name of ['logreg', 'logreg-drifted', 'logreg-slow']) {
      const m = await runtime.load(modelPath(name), { providers: ['cpu'], intraOpThreads: 1, workers: 1 });
      expect(m.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: ['batch', 4] }]);
      expect(m.outputs).toEqual([{ name: 'output', dtype: 'float32', shape: ['batch', 1] }]);
      expect(readModelInfo(fs.readFileSync(modelPath(name))).metadata.fixture).toBe(name);
      await m.close();
    }
  });

  it('logreg-slow returns logreg\'s outputs (within 1e-6) and logreg-drifted clearly different ones', async () => {
    const opts = { providers: ['cpu' as const], intraOpThreads: 1, workers: 1 };
    const [base, slow, drifted] = await Promise.all(['logreg', 'logreg-slow', 'logreg-drifted'].map((n) => runtime.load(modelPath(n), opts)));
    const rows = 256;
    const x = normalInput(rows, 42);
    const [yb, ys, yd] = await Promise.all([run(base, x), run(slow, x), run(drifted, x)]);
    let maxSlow = 0, madDrift = 0, sameLabel = 0;
    for (let r = 0; r < rows; r++) {
      maxSlow = Math.max(maxSlow, Math.abs(ys[r] - yb[r]));
      madDrift += Math.abs(yd[r] - yb[r]);
      if ((yd[r] > 0.5) === (yb[r] > 0.5)) sameLabel++;
    }
    expect(maxSlow).toBeLessThan(1e-6);
    expect(madDrift / rows).toBeGreaterThan(0.2);
    expect(sameLabel / rows).toBeLessThan(0.3); // accuracy on rows labelled by logreg is far below logreg's own 100%
    // Batch 1 too (the request size where the heavy branch matters most), a few rows.
    for (let r = 0; r < 5; r++) {
      const x1 = x.slice(r * 4, r * 4 + 4);
      const [b1, s1] = await Promise.all([run(base, x1), run(slow, x1)]);
      expect(Math.abs(s1[0] - b1[0])).toBeLessThan(1e-6);
    }
    // weights.json: logreg-drifted's layers give its outputs; logreg-slow's layers are logreg's.
    const dl = loadWeights('logreg-drifted');
    for (let r = 0; r < 5; r++) expect(Math.abs(yd[r] - forward(dl, x.subarray(r * 4, r * 4 + 4))[0])).toBeLessThan(1e-5);
    expect(loadWeights('logreg-slow')).toEqual(loadWeights('logreg'));
    await Promise.all([base.close(), slow.close(), drifted.close()]);
  });

  it('logreg-slow is heavy by construction: hundreds of chained 512×512 MatMuls on one shared initializer', () => {
    const base = graphOf('logreg'), slow = graphOf('logreg-slow');
    expect(base.ops.filter((o) => o === 'MatMul')).toHaveLength(1);
    const matmuls = slow.ops.filter((o) => o === 'MatMul').length;
    expect(matmuls).toBeGreaterThanOrEqual(200);
    // One 512×512 initializer shared by the chain keeps the file small.
    const square = slow.initializers.filter((t) => t.dims.length === 2 && t.dims[0] === 512 && t.dims[1] === 512);
    expect(square).toHaveLength(1);
    expect(fs.statSync(modelPath('logreg-slow')).size).toBeLessThan(2 * 1024 * 1024);
    // The branch reaches the output through Mul (by zero) and Add; nothing lets ORT drop it as dead code.
    expect(slow.ops).toEqual(expect.arrayContaining(['Mul', 'Add', 'Sigmoid']));
    const w = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, 'weights.json'), 'utf8')) as Record<string, { heavy_branch?: { matmul_nodes: number } }>;
    expect(w['logreg-slow'].heavy_branch?.matmul_nodes).toBe(matmuls);
  });
});
