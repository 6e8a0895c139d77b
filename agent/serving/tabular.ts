/**
 * Tabular view of a model (used by drift monitoring and by model.evaluate). Features of a model, derived from its signature, and the pure conversions around them:
 * - an input tensor [batch, F] gives F features `name[i]`; [batch] or [batch, 1] gives one feature `name`;
 *   string and bool tensors are categorical, numbers numeric (an override can make an integer feature categorical);
 *   other shapes (images, sequences) are not profiled.
 * - an output [batch, C] with C > 1 gives one categorical prediction `name:class` (the argmax: the predicted class);
 *   [batch] or [batch, 1] gives one numeric prediction `name`.
 * - a reference dataset's columns are matched to input features by name, else by position (its header then names
 *   the features); rows become tensors to compute the reference predictions.
 * No I/O.
 */
import type { TensorSpec, FeatureType } from '../../shared/protocol/index.js';
import type { RawTensor, TensorData } from './tensors.js';
import { allocData } from './tensors.js';

/** A value of one table cell: number (numeric), string (categorical) or missing. */
export type Cell = number | string | null;

/** One profiled feature. */
export interface FeatureDef {
  name: string;
  role: 'input' | 'prediction';
  type: FeatureType;
  tensor: string;
  /** Column in a [batch, F] tensor; null for [batch] / [batch, 1]. */
  col: number | null;
  /** Width of the tensor's row (F, or C for argmax predictions). */
  width: number;
  argmax: boolean;
}

const categoricalDtype = (d: string) => d === 'string' || d === 'bool';

/** Row width of a spec with a batch first dimension: F for [b, F], 1 for [b] / [b, 1]; null when not profilable. */
function rowWidth(s: TensorSpec): number | null {
  if (s.shape.length === 1) return 1;
  if (s.shape.length === 2 && typeof s.shape[1] === 'number' && s.shape[1] > 0) return s.shape[1];
  return null;
}

/** Features of a signature (inputs, then predictions), at most `max`; `types` overrides the type by feature name. */
export function featuresOf(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], max: number, types: Record<string, FeatureType | undefined> = {}): { features: FeatureDef[]; unprofiled: string[] } {
  const features: FeatureDef[] = [];
  const unprofiled: string[] = [];
  for (const s of inputs) {
    const w = rowWidth(s);
    if (w === null) { unprofiled.push(s.name); continue; }
    for (let i = 0; i < w; i++) {
      const name = w === 1 && (s.shape.length === 1 || s.shape[1] === 1) ? s.name : `${s.name}[${i}]`;
      features.push({ name, role: 'input', type: types[name] ?? (categoricalDtype(s.dtype) ? 'categorical' : 'numeric'), tensor: s.name, col: w === 1 && s.shape.length === 1 ? null : i, width: w, argmax: false });
    }
  }
  for (const s of outputs) {
    const w = rowWidth(s);
    if (w === null) { unprofiled.push(s.name); continue; }
    if (w > 1 && !categoricalDtype(s.dtype)) features.push({ name: `${s.name}:class`, role: 'prediction', type: 'categorical', tensor: s.name, col: null, width: w, argmax: true });
    else if (w === 1) features.push({ name: s.name, role: 'prediction', type: types[s.name] ?? (categoricalDtype(s.dtype) ? 'categorical' : 'numeric'), tensor: s.name, col: s.shape.length === 1 ? null : 0, width: 1, argmax: false });
    else unprofiled.push(s.name);
  }
  if (features.length > max) unprofiled.push(...features.splice(max).map((f) => f.name));
  return { features, unprofiled };
}

function cellOf(data: TensorData, i: number, dtype: string): Cell {
  const v = (data as ArrayLike<unknown>)[i];
  if (typeof v === 'bigint') return Number(v);
  if (dtype === 'bool') return v ? 'true' : 'false';
  if (dtype === 'float16') return halfBitsToNumber(v as number);
  return v as number | string;
}

function halfBitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1; const e = (h >> 10) & 0x1f; const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Rows of one inference (inputs and outputs) as cells per feature: out[f] gets one cell per row. Skips features whose tensor is absent. */
export function extractRows(features: readonly FeatureDef[], inputs: Record<string, RawTensor>, outputs: Record<string, RawTensor>, visit: (f: number, cell: Cell) => void): number {
  let rows = 0;
  for (let f = 0; f < features.length; f++) {
    const d = features[f];
    const t = (d.role === 'input' ? inputs : outputs)[d.tensor];
    if (!t) continue;
    const n = t.dims.length === 0 ? 1 : t.dims[0];
    rows = Math.max(rows, n);
    if (d.argmax) {
      for (let r = 0; r < n; r++) {
        let best = 0; let bv = -Infinity; let anyNaN = false;
        for (let c = 0; c < d.width; c++) { const v = Number(cellOf(t.data, r * d.width + c, t.dtype)); if (Number.isNaN(v)) anyNaN = true; if (v > bv) { bv = v; best = c; } }
        visit(f, anyNaN ? null : String(best));
      }
    } else {
      for (let r = 0; r < n; r++) visit(f, cellOf(t.data, r * d.width + (d.col ?? 0), t.dtype));
    }
  }
  return rows;
}

// ---------------------------------------------------------------- reference datasets

/** Parses one CSV line (RFC 4180 quoting, no embedded newlines). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = ''; let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"') { if (line[i + 1] === '"') { cur += '"'; i++; } else q = false; } else cur += ch;
    } else if (ch === '"' && cur === '') q = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Text cells read as missing (lower-cased, trimmed): empty, NA, NaN, null, None, n/a. */
export const MISSING_TEXT: ReadonlySet<string> = new Set(['', 'na', 'nan', 'null', 'none', 'n/a']);
/** A text cell: missing markers (empty, NA, NaN, null, None) → null; numbers for numeric features. */
export function textCell(s: unknown, type: FeatureType): Cell {
  if (s === null || s === undefined) return null;
  if (typeof s === 'number') return Number.isNaN(s) ? null : type === 'categorical' ? String(s) : s;
  if (typeof s === 'boolean') return type === 'categorical' ? String(s) : s ? 1 : 0;
  const t = String(s).trim();
  if (MISSING_TEXT.has(t.toLowerCase())) return null;
  if (type === 'categorical') return t;
  const n = Number(t);
  return Number.isNaN(n) ? null : n;
}

/** How dataset columns map to the input features: index of the column for each input feature (-1: absent). */
export interface ColumnMatch { by: 'name' | 'position'; columns: number[]; names: string[] | null }

/**
 * Matches a header to the input features: by name when every feature name is a column, else by position when the
 * counts agree (the header then names the features). Throws an Error that says what was expected.
 */
export function matchColumns(header: readonly string[] | null, inputs: readonly FeatureDef[]): ColumnMatch {
  if (header) {
    const idx = new Map(header.map((h, i) => [h.trim(), i]));
    if (inputs.every((f) => idx.has(f.name))) return { by: 'name', columns: inputs.map((f) => idx.get(f.name)!), names: null };
    if (header.length === inputs.length) return { by: 'position', columns: inputs.map((_, i) => i), names: header.map((h) => h.trim()) };
    throw new Error(`the dataset has ${header.length} columns (${header.slice(0, 8).join(', ')}${header.length > 8 ? ', …' : ''}) but the model has ${inputs.length} input features (${inputs.slice(0, 8).map((f) => f.name).join(', ')}${inputs.length > 8 ? ', …' : ''}): name the columns after the features or give exactly one column per feature, in order`);
  }
  return { by: 'position', columns: inputs.map((_, i) => i), names: null };
}

/** Rows (cells of the input features, in feature order) → input tensors, for computing reference predictions. */
export function rowsToFeeds(rows: readonly Cell[][], features: readonly FeatureDef[], specs: readonly TensorSpec[]): Record<string, RawTensor> {
  const feeds: Record<string, RawTensor> = {};
  const n = rows.length;
  for (const s of specs) {
    const w = rowWidth(s);
    if (w === null) throw new Error(`input ${s.name} has shape [${s.shape.join(', ')}]: only [batch] and [batch, F] inputs can be fed from a dataset`);
    const data = allocData(s.dtype, n * w);
    const cols = features.map((f, i) => ({ f, i })).filter((x) => x.f.role === 'input' && x.f.tensor === s.name);
    for (let r = 0; r < n; r++) {
      for (const { f, i } of cols) {
        const v = rows[r][i];
        const at = r * w + (f.col ?? 0);
        if (s.dtype === 'string') (data as string[])[at] = v === null ? '' : String(v);
        else if (s.dtype === 'bool') (data as Uint8Array)[at] = v === 'true' || v === 1 || v === '1' ? 1 : 0;
        else if (data instanceof BigInt64Array || data instanceof BigUint64Array) (data as BigInt64Array)[at] = BigInt(Math.trunc(Number(v ?? 0)));
        else (data as Float32Array)[at] = v === null ? NaN : Number(v);
      }
    }
    feeds[s.name] = { dtype: s.dtype, dims: s.shape.length === 1 ? [n] : [n, w], data };
  }
  return feeds;
}
