import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/models');
export const modelPath = (name: string): string => path.join(MODELS_DIR, `${name}.onnx`);

interface Layer { in: number; out: number; activation: 'none' | 'relu' | 'sigmoid' | 'softmax'; W: Float64Array; b: Float64Array }
const f32 = (b64: string): Float64Array => { const buf = Buffer.from(b64, 'base64'); return Float64Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4)); };

export function loadWeights(name: string): Layer[] {
  const all = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, 'weights.json'), 'utf8')) as Record<string, { layers: { in: number; out: number; activation: Layer['activation']; W_f32le_b64: string; b_f32le_b64: string }[] }>;
  return all[name].layers.map((l) => ({ in: l.in, out: l.out, activation: l.activation, W: f32(l.W_f32le_b64), b: f32(l.b_f32le_b64) }));
}

/** float64 reference forward pass for one row. */
export function forward(layers: Layer[], x: ArrayLike<number>): number[] {
  let cur = Array.from(x);
  for (const l of layers) {
    const y = new Array<number>(l.out).fill(0);
    for (let j = 0; j < l.out; j++) { let s = l.b[j]; for (let i = 0; i < l.in; i++) s += cur[i] * l.W[i * l.out + j]; y[j] = s; }
    if (l.activation === 'relu') for (let j = 0; j < y.length; j++) y[j] = Math.max(0, y[j]);
    if (l.activation === 'sigmoid') for (let j = 0; j < y.length; j++) y[j] = 1 / (1 + Math.exp(-y[j]));
    if (l.activation === 'softmax') { const m = Math.max(...y); const e = y.map((v) => Math.exp(v - m)); const z = e.reduce((a, b) => a + b, 0); for (let j = 0; j < y.length; j++) y[j] = e[j] / z; }
    cur = y;
  }
  return cur;
}

export { mulberry32 } from '../../../shared/util/prng.js';
