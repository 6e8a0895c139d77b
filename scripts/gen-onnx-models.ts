// Writes the ONNX test fixtures (deterministic: seeded mulberry32, byte-identical on every run):
//   test/fixtures/models/{linear,logreg,softmax,mlp}.onnx, the rollout candidates logreg-{drifted,slow}.onnx,
//   weights.json, README.md
// Run: `npx vite-node scripts/gen-onnx-models.ts` (from source) or `npm run build && node dist/scripts/gen-onnx-models.js`.
// Optional argument: the output folder (default <repo>/test/fixtures/models).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDenseModel, node, OnnxDataType, tensorF32, valueInfo, type Activation, type DenseLayer } from '../agent/serving/onnx-pb.js';
import { mulberry32 } from '../shared/util/prng.js';


/** Dense layer with uniform ±sqrt(6/fan_in) weights, rounded to float32 so the JSON copy is exact. */
export function dense(rand: () => number, inF: number, outF: number, activation: Activation): DenseLayer {
  const lim = Math.sqrt(6 / inF);
  const weights = Float32Array.from({ length: inF * outF }, () => (rand() * 2 - 1) * lim);
  const bias = Float32Array.from({ length: outF }, () => (rand() * 2 - 1) * 0.5);
  return { inFeatures: inF, outFeatures: outF, weights, bias, activation };
}

interface ModelDef { file: string; seed: number; doc: string; shape: [number, Activation][] }

export const MODELS: ModelDef[] = [
  { file: 'linear.onnx', seed: 1, doc: 'linear y = xW + b, 3 -> 2, no activation', shape: [[3, 'none'], [2, 'none']] },
  { file: 'logreg.onnx', seed: 2, doc: 'logistic regression 4 -> 1 (sigmoid)', shape: [[4, 'none'], [1, 'sigmoid']] },
  { file: 'softmax.onnx', seed: 3, doc: 'softmax regression 8 -> 3', shape: [[8, 'none'], [3, 'softmax']] },
  { file: 'mlp.onnx', seed: 4, doc: 'MLP 64 -> 256 (relu) -> 256 (relu) -> 10 (softmax)', shape: [[64, 'none'], [256, 'relu'], [256, 'relu'], [10, 'softmax']] },
];

/** Rollout candidates for logreg.onnx (issue 6): a model that returns different answers, and one that is slower. */
export const DRIFTED = { file: 'logreg-drifted.onnx', seed: 5, doc: 'rollout candidate that answers differently: logistic regression 4 -> 1 (sigmoid), same signature as logreg.onnx, weights of seed 5 with the opposite signs of logreg\'s' } as const;
/** Heavy branch of logreg-slow.onnx: x·A (4 -> SLOW_DIM), then SLOW_CHAIN MatMuls by one shared SLOW_DIM×SLOW_DIM matrix. */
export const SLOW_DIM = 512;
export const SLOW_CHAIN = 384;
export const SLOW = { file: 'logreg-slow.onnx', seed: 6, doc: `rollout candidate that is slower: the same function as logreg.onnx (same weights, same outputs) plus an input-dependent heavy branch (x·A 4 -> ${SLOW_DIM}, ${SLOW_CHAIN} chained ${SLOW_DIM}x${SLOW_DIM} MatMuls sharing one initializer, MatMul to 1) multiplied by zero and added to the logit` } as const;

// Protobuf fields for the hand-built graph of logreg-slow (field numbers from onnx.proto, as in agent/serving/onnx-pb.ts).
const pbCat = (parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
function pbVarint(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
  out.push(v);
  return Uint8Array.from(out);
}
const pbKey = (field: number, wire: number): Uint8Array => pbVarint((field << 3) | wire);
const pbInt = (f: number, v: number): Uint8Array => pbCat([pbKey(f, 0), pbVarint(v)]);
const pbBytes = (f: number, b: Uint8Array): Uint8Array => pbCat([pbKey(f, 2), pbVarint(b.length), b]);
const pbStr = (f: number, s: string): Uint8Array => pbBytes(f, Buffer.from(s, 'utf8'));

/** A seeded signed permutation matrix (n×n, row-major): x·P keeps every magnitude, so the chain never overflows or goes denormal. */
function signedPermutation(rand: () => number, n: number): Float32Array {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [perm[i], perm[j]] = [perm[j], perm[i]]; }
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + perm[i]] = rand() < 0.5 ? -1 : 1;
  return m;
}

/**
 * logreg-slow.onnx: output = Sigmoid(x·W + b + 0 · heavy(x)) with logreg's W, b. heavy(x) = ((x·A)·P·P·…·P)·V with
 * SLOW_CHAIN MatMuls by the one initializer P (so the file stays ~1 MB). The zero is an initializer and heavy(x)
 * depends on the input, so onnxruntime cannot fold the branch away; for finite inputs heavy(x) is finite and 0·heavy(x)
 * is exactly 0, so the outputs equal logreg's.
 */
export function buildSlowModel(logreg: DenseLayer, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const A = Float32Array.from({ length: 4 * SLOW_DIM }, () => rand() * 2 - 1);
  const P = signedPermutation(rand, SLOW_DIM);
  const V = Float32Array.from({ length: SLOW_DIM }, () => rand() * 2 - 1);
  const nodes: Uint8Array[] = [
    node('MatMul', ['input', 'W0'], ['mm0'], 'matmul0'),
    node('Add', ['mm0', 'B0'], ['z0'], 'add0'),
    node('MatMul', ['input', 'A'], ['heavy0'], 'heavy_in'),
  ];
  for (let i = 1; i <= SLOW_CHAIN; i++) nodes.push(node('MatMul', [`heavy${i - 1}`, 'P'], [`heavy${i}`], `heavy${i}`));
  nodes.push(
    node('MatMul', [`heavy${SLOW_CHAIN}`, 'V'], ['heavy_sum'], 'heavy_out'),
    node('Mul', ['heavy_sum', 'ZERO'], ['heavy_zero'], 'heavy_times_zero'),
    node('Add', ['z0', 'heavy_zero'], ['z'], 'add_heavy'),
    node('Sigmoid', ['z'], ['output'], 'sigmoid0'),
  );
  const inits = [
    tensorF32('W0', [4, 1], logreg.weights), tensorF32('B0', [1], logreg.bias),
    tensorF32('A', [4, SLOW_DIM], A), tensorF32('P', [SLOW_DIM, SLOW_DIM], P), tensorF32('V', [SLOW_DIM, 1], V),
    tensorF32('ZERO', [1], [0]),
  ];
  // GraphProto: node=1, name=2, initializer=5, input=11, output=12
  const graph = pbCat([
    ...nodes.map((n) => pbBytes(1, n)),
    pbStr(2, 'logreg-slow'),
    ...inits.map((t) => pbBytes(5, t)),
    pbBytes(11, valueInfo('input', OnnxDataType.FLOAT, ['batch', 4])),
    pbBytes(12, valueInfo('output', OnnxDataType.FLOAT, ['batch', 1])),
  ]);
  const meta: Record<string, string> = { fixture: 'logreg-slow', generator: 'scripts/gen-onnx-models.ts', seed: String(seed), same_function_as: 'logreg' };
  // ModelProto: ir_version=1, producer_name=2, producer_version=3, doc_string=6, graph=7, opset_import=8, metadata_props=14
  return new Uint8Array(pbCat([
    pbInt(1, 8), pbStr(2, 'fleetml-onnx-pb'), pbStr(3, '1'), pbStr(6, SLOW.doc), pbBytes(7, graph),
    pbBytes(8, pbCat([pbStr(1, ''), pbInt(2, 13)])),
    ...Object.entries(meta).map(([k, v]) => pbBytes(14, pbCat([pbStr(1, k), pbStr(2, v)]))),
  ]));
}

const b64 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function layerJson(l: DenseLayer): Record<string, unknown> {
  const W = l.weights as Float32Array, b = l.bias as Float32Array;
  return {
    in: l.inFeatures, out: l.outFeatures, activation: l.activation,
    W_f32le_b64: b64(W), b_f32le_b64: b64(b),
    ...(W.length <= 64 ? { W: Array.from(W), b: Array.from(b) } : {}),
  };
}

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'agent'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
}

export function generate(outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const weights: Record<string, unknown> = {};
  const readme = [
    '# ONNX test fixtures',
    '',
    'Generated by `scripts/gen-onnx-models.ts` (deterministic; do not edit by hand). All models: IR 8, opset 13, input `input` float32 [batch, F], output `output` float32 [batch, O].',
    '`weights.json` holds every layer: W is [in, out] row-major float32 (little-endian, base64 in `W_f32le_b64`; also plain `W` for small models), b likewise; y = act(x·W + b).',
    '',
  ];
  const written: string[] = [];
  const trained = new Map<string, DenseLayer[]>();
  for (const def of MODELS) {
    const rand = mulberry32(def.seed);
    const layers: DenseLayer[] = [];
    for (let i = 1; i < def.shape.length; i++) layers.push(dense(rand, def.shape[i - 1][0], def.shape[i][0], def.shape[i][1]));
    const name = def.file.replace(/\.onnx$/, '');
    const bytes = buildDenseModel({ graphName: name, layers, docString: def.doc, metadata: { fixture: name, generator: 'scripts/gen-onnx-models.ts', seed: String(def.seed) } });
    const file = path.join(outDir, def.file);
    fs.writeFileSync(file, bytes);
    written.push(file);
    weights[name] = { doc: def.doc, seed: def.seed, layers: layers.map(layerJson) };
    readme.push(`- \`${def.file}\` (${bytes.length} B, seed ${def.seed}): ${def.doc}.`);
    trained.set(name, layers);
  }

  // Rollout candidates for logreg (issue 6), appended after the base models so those bytes never change.
  const logreg = trained.get('logreg')![0];
  const d = dense(mulberry32(DRIFTED.seed), 4, 1, 'sigmoid');
  const lw = logreg.weights as Float32Array;
  const drifted: DenseLayer = { ...d, weights: Float32Array.from(d.weights as Float32Array, (v, i) => (lw[i] < 0 ? 1 : -1) * Math.abs(v)) };
  const driftedBytes = buildDenseModel({ graphName: 'logreg-drifted', layers: [drifted], docString: DRIFTED.doc, metadata: { fixture: 'logreg-drifted', generator: 'scripts/gen-onnx-models.ts', seed: String(DRIFTED.seed) } });
  fs.writeFileSync(path.join(outDir, DRIFTED.file), driftedBytes);
  written.push(path.join(outDir, DRIFTED.file));
  weights['logreg-drifted'] = { doc: DRIFTED.doc, seed: DRIFTED.seed, layers: [layerJson(drifted)] };
  readme.push(`- \`${DRIFTED.file}\` (${driftedBytes.length} B, seed ${DRIFTED.seed}): ${DRIFTED.doc}. On N(0,1) inputs its outputs differ from logreg's by ~0.37 on average and it agrees with logreg's label (p > 0.5) on ~9% of rows: the "returns different answers" candidate of rollout tests.`);

  const slowBytes = buildSlowModel(logreg, SLOW.seed);
  fs.writeFileSync(path.join(outDir, SLOW.file), slowBytes);
  written.push(path.join(outDir, SLOW.file));
  weights['logreg-slow'] = {
    doc: SLOW.doc, seed: SLOW.seed, same_function_as: 'logreg', layers: [layerJson(logreg)],
    heavy_branch: { dim: SLOW_DIM, chained_matmuls: SLOW_CHAIN, matmul_nodes: SLOW_CHAIN + 3, note: 'A [4, dim] uniform ±1, P a signed permutation [dim, dim], V [dim, 1] uniform ±1, all from the seed; multiplied by 0, so layers above give the outputs' },
  };
  readme.push(`- \`${SLOW.file}\` (${slowBytes.length} B, seed ${SLOW.seed} for the heavy branch; logit weights are logreg's, seed 2): ${SLOW.doc}. Same outputs as logreg.onnx for finite inputs (an infinite input makes the branch NaN), ${SLOW_CHAIN + 3} MatMul nodes: ~4 ms per batch-1 request on one CPU thread of a 2-core dev VM where logreg takes ~0.013 ms (onnxruntime-node 1.30). The "slower" candidate of rollout tests.`);
  readme.push('- `weights.json`: the weights of every model above, for hand-computed reference outputs in tests.', '');
  fs.writeFileSync(path.join(outDir, 'weights.json'), JSON.stringify(weights, null, 1) + '\n');
  fs.writeFileSync(path.join(outDir, 'README.md'), readme.join('\n'));
  written.push(path.join(outDir, 'weights.json'), path.join(outDir, 'README.md'));
  return written;
}

// Run only as a script: `node dist/scripts/gen-onnx-models.js` (argv[1] is this file) or `vite-node` (argv[1] is vite-node).
const entry = process.argv[1] ?? '';
const isMain = path.resolve(entry).replace(/\.(ts|js)$/, '') === fileURLToPath(import.meta.url).replace(/\.(ts|js)$/, '') || /vite-node(\.m?js)?$/.test(entry);
if (isMain) {
  const out = process.argv[2] ? path.resolve(process.argv[2]) : path.join(findRepoRoot(), 'test', 'fixtures', 'models');
  for (const f of generate(out)) console.log(`wrote ${f}`);
}
