// Pure tensor helpers: KServe v2 JSON tensors <-> raw typed-array tensors (as onnxruntime-node takes them), and
// validation of feeds against a model's input signature. No onnxruntime import here.

import type { JsonTensor, TensorDtype, TensorSpec } from '../../shared/protocol/models.js';

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | string[];

/** A tensor ready for onnxruntime: float16 data is raw IEEE half bits in a Uint16Array, bool is a Uint8Array of 0/1. */
export interface RawTensor {
  dtype: TensorDtype;
  dims: number[];
  data: TensorData;
}

/** KServe v2 datatype → ORT dtype. */
export const KSERVE_TO_ORT: Readonly<Record<string, TensorDtype>> = {
  FP32: 'float32', FP64: 'float64', INT8: 'int8', UINT8: 'uint8', INT16: 'int16', UINT16: 'uint16', INT32: 'int32',
  UINT32: 'uint32', INT64: 'int64', UINT64: 'uint64', BOOL: 'bool', BYTES: 'string', FP16: 'float16',
};
/** ORT dtype → KServe v2 datatype. */
export const ORT_TO_KSERVE: Readonly<Record<TensorDtype, string>> = {
  float32: 'FP32', float64: 'FP64', int8: 'INT8', uint8: 'UINT8', int16: 'INT16', uint16: 'UINT16', int32: 'INT32',
  uint32: 'UINT32', int64: 'INT64', uint64: 'UINT64', bool: 'BOOL', string: 'BYTES', float16: 'FP16',
};

/** Number of elements for dims (1 for a scalar []). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Allocates a zero-filled array for dtype. */
export function allocData(dtype: TensorDtype, n: number): TensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
    case 'int16': return new Int16Array(n);
    case 'uint16': case 'float16': return new Uint16Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint32': return new Uint32Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'uint64': return new BigUint64Array(n);
    case 'string': return new Array<string>(n).fill('');
  }
}

const INT_RANGES: Partial<Record<TensorDtype, [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535], int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};

// float32 <-> float16 bits (round to nearest even), for FP16 JSON tensors.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) { // subnormal half
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function toBigInt(v: unknown, where: string, unsigned: boolean): bigint {
  let b: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`${where}: ${v} is not an integer`);
    if (!Number.isSafeInteger(v)) throw new Error(`${where}: ${v} is beyond ±2^53 and lost precision as a JSON number; send it as a decimal string`);
    b = BigInt(v);
  } else if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    b = BigInt(v);
  } else if (typeof v === 'bigint') {
    b = v;
  } else {
    throw new Error(`${where}: expected an integer (number or decimal string), got ${JSON.stringify(v)}`);
  }
  const ok = unsigned ? b >= 0n && b <= 0xffffffffffffffffn : b >= -(2n ** 63n) && b < 2n ** 63n;
  if (!ok) throw new Error(`${where}: ${b} is out of range for ${unsigned ? 'uint64' : 'int64'}`);
  return b;
}

/** Converts a KServe v2 JSON tensor into a raw tensor. Throws an Error with a clear message for bad input. */
export function fromJson(t: JsonTensor): RawTensor {
  const dtype = KSERVE_TO_ORT[t.datatype];
  if (!dtype) throw new Error(`input "${t.name}": unknown datatype "${t.datatype}" (expected one of ${Object.keys(KSERVE_TO_ORT).join(', ')})`);
  for (const d of t.shape) if (!Number.isInteger(d) || d < 0) throw new Error(`input "${t.name}": invalid dimension ${d} in shape [${t.shape.join(', ')}]`);
  const n = elementCount(t.shape);
  if (t.data.length !== n) throw new Error(`input "${t.name}": shape [${t.shape.join(', ')}] needs ${n} values, got ${t.data.length}`);
  const data = allocData(dtype, n);
  const at = (i: number): string => `input "${t.name}" value [${i}]`;
  if (dtype === 'string') {
    const out = data as string[];
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (typeof v !== 'string') throw new Error(`${at(i)}: BYTES values must be strings, got ${JSON.stringify(v)}`);
      out[i] = v;
    }
  } else if (dtype === 'bool') {
    const out = data as Uint8Array;
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (v === true || v === 1) out[i] = 1;
      else if (v === false || v === 0) out[i] = 0;
      else throw new Error(`${at(i)}: BOOL values must be true/false (or 1/0), got ${JSON.stringify(v)}`);
    }
  } else if (dtype === 'int64' || dtype === 'uint64') {
    const out = data as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) out[i] = toBigInt(t.data[i], at(i), dtype === 'uint64');
  } else if (dtype === 'float32' || dtype === 'float64' || dtype === 'float16') {
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (typeof v !== 'number') throw new Error(`${at(i)}: ${t.datatype} values must be numbers, got ${JSON.stringify(v)}`);
      if (dtype === 'float16') (data as Uint16Array)[i] = floatToHalf(v);
      else (data as Float32Array | Float64Array)[i] = v;
    }
  } else {
    const [lo, hi] = INT_RANGES[dtype]!;
    const out = data as Int32Array;
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${at(i)}: ${t.datatype} values must be integers, got ${JSON.stringify(v)}`);
      if (v < lo || v > hi) throw new Error(`${at(i)}: ${v} is out of range for ${t.datatype} [${lo}, ${hi}]`);
      out[i] = v;
    }
  }
  return { dtype, dims: [...t.shape], data };
}

/** Converts a raw tensor to a KServe v2 JSON tensor. int64/uint64 values within ±2^53 become numbers, larger ones
 * decimal strings (JSON numbers would lose precision); float16 becomes numbers; bool becomes true/false. */
export function toJson(name: string, t: RawTensor): JsonTensor {
  const n = t.data.length;
  const data: (number | boolean | string)[] = new Array(n);
  switch (t.dtype) {
    case 'bool': for (let i = 0; i < n; i++) data[i] = (t.data as Uint8Array)[i] !== 0; break;
    case 'float16': for (let i = 0; i < n; i++) data[i] = halfToFloat((t.data as Uint16Array)[i]); break;
    case 'int64': case 'uint64': {
      const a = t.data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) {
        const b = a[i];
        data[i] = b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
      }
      break;
    }
    default: {
      const a = t.data as ArrayLike<number | string>;
      for (let i = 0; i < n; i++) data[i] = a[i];
    }
  }
  return { name, datatype: ORT_TO_KSERVE[t.dtype], shape: [...t.dims], data };
}

const fmtShape = (s: readonly (number | string)[]): string => `[${s.map((d) => (typeof d === 'string' ? d || '?' : d < 0 ? '?' : String(d))).join(', ')}]`;

/** A dimension is dynamic when it is symbolic (a string, "" = unnamed) or negative. */
export const isDynamicDim = (d: number | string): boolean => typeof d === 'string' || d < 0;

/**
 * Checks feeds against the model's inputs: every input present, no unknown names, dtypes, rank, fixed dims and data
 * length; a named symbolic dim (e.g. "batch") must have the same size in every input. Throws Error(message).
 */
export function validateFeeds(signature: readonly TensorSpec[], feeds: Readonly<Record<string, RawTensor>>): void {
  const names = signature.map((s) => s.name);
  for (const k of Object.keys(feeds)) {
    if (!names.includes(k)) throw new Error(`unknown input "${k}" (the model's inputs are: ${names.map((n) => `"${n}"`).join(', ')})`);
  }
  const symbols = new Map<string, { size: number; input: string }>();
  for (const spec of signature) {
    const t = feeds[spec.name];
    if (!t) throw new Error(`missing input "${spec.name}" (expected ${spec.dtype} ${fmtShape(spec.shape)})`);
    if (t.dtype !== spec.dtype) throw new Error(`input "${spec.name}": expected dtype ${spec.dtype} (${ORT_TO_KSERVE[spec.dtype]}), got ${t.dtype} (${ORT_TO_KSERVE[t.dtype] ?? '?'})`);
    const shapeErr = (): Error => new Error(`input "${spec.name}": expected shape ${fmtShape(spec.shape)}, got ${fmtShape(t.dims)}`);
    if (t.dims.length !== spec.shape.length) throw shapeErr();
    spec.shape.forEach((d, i) => {
      const got = t.dims[i];
      if (!Number.isInteger(got) || got < 0) throw shapeErr();
      if (!isDynamicDim(d)) {
        if (got !== d) throw shapeErr();
      } else if (typeof d === 'string' && d !== '') {
        const prev = symbols.get(d);
        if (prev && prev.size !== got) throw new Error(`input "${spec.name}": dimension "${d}" is ${got} here but ${prev.size} in input "${prev.input}"`);
        if (!prev) symbols.set(d, { size: got, input: spec.name });
      }
    });
    const n = elementCount(t.dims);
    if (t.data.length !== n) throw new Error(`input "${spec.name}": shape ${fmtShape(t.dims)} needs ${n} values, got ${t.data.length}`);
  }
}

/** Zero-filled feeds for a signature, dynamic dims set to 1 (used for warm-up). */
export function zeroFeeds(signature: readonly TensorSpec[]): Record<string, RawTensor> {
  const feeds: Record<string, RawTensor> = {};
  for (const s of signature) {
    const dims = s.shape.map((d) => (isDynamicDim(d) ? 1 : (d as number)));
    feeds[s.name] = { dtype: s.dtype, dims, data: allocData(s.dtype, elementCount(dims)) };
  }
  return feeds;
}

/** Bytes per element in the binary encoding (BYTES is length-prefixed, variable). */
const ELEMENT_BYTES: Partial<Record<TensorDtype, number>> = {
  float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1, float16: 2,
};

/** A raw tensor from little-endian binary tensor data (copied: `b` may not be aligned). Throws an Error naming `where`. */
export function fromBinary(where: string, datatype: string, shape: readonly number[], b: Buffer): RawTensor {
  const dtype = KSERVE_TO_ORT[datatype];
  if (!dtype) throw new Error(`${where}: unknown datatype "${datatype.slice(0, 32)}" (expected one of ${Object.keys(KSERVE_TO_ORT).join(', ')})`);
  const n = elementCount(shape);
  if (dtype === 'string') {
    // BYTES: each element is a 4-byte little-endian length and that many bytes (UTF-8 here)
    const out: string[] = [];
    let o = 0;
    while (o < b.length) {
      if (o + 4 > b.length) throw new Error(`${where}: BYTES binary data ends inside a length prefix at byte ${o}`);
      const len = b.readUInt32LE(o);
      if (o + 4 + len > b.length) throw new Error(`${where}: BYTES element ${out.length} of ${len} bytes runs past binary_data_size ${b.length}`);
      out.push(b.toString('utf8', o + 4, o + 4 + len));
      o += 4 + len;
    }
    if (out.length !== n) throw new Error(`${where}: shape [${shape.join(', ')}] needs ${n} BYTES elements, the binary data holds ${out.length}`);
    return { dtype, dims: [...shape], data: out };
  }
  const size = ELEMENT_BYTES[dtype]!;
  if (b.length !== n * size) {
    throw new Error(`${where}: binary_data_size is ${b.length} bytes, but ${datatype} [${shape.join(', ')}] needs ${n} x ${size} = ${n * size} bytes`);
  }
  const data = allocData(dtype, n) as Exclude<RawTensor['data'], string[]>;
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(b); // copy: b may not be aligned
  if (dtype === 'bool') { const u = data as Uint8Array; for (let i = 0; i < n; i++) if (u[i] > 1) u[i] = 1; }
  return { dtype, dims: [...shape], data };
}

/** Little-endian binary tensor data of a raw tensor. */
export function toBinary(t: RawTensor): Buffer {
  if (Array.isArray(t.data)) {
    const parts: Buffer[] = [];
    for (const s of t.data) { const v = Buffer.from(s, 'utf8'); const l = Buffer.alloc(4); l.writeUInt32LE(v.length); parts.push(l, v); }
    return Buffer.concat(parts);
  }
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
