// Dependency-free protobuf writer for small dense ONNX models (test fixtures) and a reader of the top-level
// ModelProto fields (used to reject uploads that are not ONNX). Field numbers come from onnx.proto.
// No side effects on import.

// ---------------------------------------------------------------------------------------------------------------
// Writer

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Varint; negative int64 values become 10-byte two's complement. */
function varint(v: number | bigint): Uint8Array {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return Uint8Array.from(out);
}
const key = (field: number, wire: number): Uint8Array => varint((field << 3) | wire);
const fVarint = (f: number, v: number | bigint): Uint8Array => concat([key(f, 0), varint(v)]);
const fBytes = (f: number, b: Uint8Array): Uint8Array => concat([key(f, 2), varint(b.length), b]);
const fString = (f: number, s: string): Uint8Array => fBytes(f, enc.encode(s));

/** ONNX TensorProto.DataType values. */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13 } as const;

/** A float32 initializer (TensorProto: dims=1, data_type=2, name=8, raw_data=9 little-endian). */
export function tensorF32(name: string, dims: number[], values: ArrayLike<number>): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`tensor ${name}: ${values.length} values for dims [${dims.join(', ')}]`);
  const raw = new Uint8Array(count * 4);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < count; i++) dv.setFloat32(i * 4, values[i], true);
  return concat([...dims.map((d) => fVarint(1, d)), fVarint(2, OnnxDataType.FLOAT), fString(8, name), fBytes(9, raw)]);
}

/** ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2: {dim=1: {dim_value=1 | dim_param=2}}}}}. */
export function valueInfo(name: string, elemType: number, shape: (number | string)[]): Uint8Array {
  const dims = shape.map((d) => fBytes(1, typeof d === 'number' ? fVarint(1, d) : fString(2, d)));
  const tensorType = concat([fVarint(1, elemType), fBytes(2, concat(dims))]);
  return concat([fString(1, name), fBytes(2, fBytes(1, tensorType))]);
}

/** AttributeProto with an INT value (name=1, i=3, type=20; AttributeType.INT = 2). */
function attrInt(name: string, v: number): Uint8Array {
  return concat([fString(1, name), fVarint(3, v), fVarint(20, 2)]);
}

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5. */
export function node(opType: string, inputs: string[], outputs: string[], name: string, attrs: Uint8Array[] = []): Uint8Array {
  return concat([...inputs.map((i) => fString(1, i)), ...outputs.map((o) => fString(2, o)), fString(3, name), fString(4, opType), ...attrs.map((a) => fBytes(5, a))]);
}

export type Activation = 'none' | 'relu' | 'sigmoid' | 'softmax';

/** One dense layer: y = act(x·W + b), W is [inFeatures, outFeatures] row-major, b is [outFeatures]. */
export interface DenseLayer {
  inFeatures: number;
  outFeatures: number;
  weights: ArrayLike<number>;
  bias: ArrayLike<number>;
  activation: Activation;
}

export interface DenseModelSpec {
  graphName: string;
  layers: DenseLayer[];
  inputName?: string;
  outputName?: string;
  /** Symbolic batch dimension name (default "batch"). */
  batchDim?: string;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
  irVersion?: number;
  opset?: number;
}

/** Encodes a ModelProto for a chain of dense layers: MatMul → Add → Relu|Sigmoid|Softmax(axis=-1). */
export function buildDenseModel(spec: DenseModelSpec): Uint8Array {
  const inputName = spec.inputName ?? 'input';
  const outputName = spec.outputName ?? 'output';
  const batch = spec.batchDim ?? 'batch';
  if (spec.layers.length === 0) throw new Error('a dense model needs at least one layer');
  const nodes: Uint8Array[] = [];
  const inits: Uint8Array[] = [];
  let cur = inputName;
  spec.layers.forEach((l, i) => {
    if (i > 0 && spec.layers[i - 1].outFeatures !== l.inFeatures) throw new Error(`layer ${i}: inFeatures ${l.inFeatures} ≠ previous outFeatures`);
    const last = i === spec.layers.length - 1;
    const W = `W${i}`, B = `B${i}`, mm = `mm${i}`, z = last && l.activation === 'none' ? outputName : `z${i}`;
    inits.push(tensorF32(W, [l.inFeatures, l.outFeatures], l.weights), tensorF32(B, [l.outFeatures], l.bias));
    nodes.push(node('MatMul', [cur, W], [mm], `matmul${i}`), node('Add', [mm, B], [z], `add${i}`));
    cur = z;
    if (l.activation !== 'none') {
      const y = last ? outputName : `h${i}`;
      const op = l.activation === 'relu' ? 'Relu' : l.activation === 'sigmoid' ? 'Sigmoid' : 'Softmax';
      nodes.push(node(op, [z], [y], `${l.activation}${i}`, op === 'Softmax' ? [attrInt('axis', -1)] : []));
      cur = y;
    }
  });
  const first = spec.layers[0], lastL = spec.layers[spec.layers.length - 1];
  // GraphProto: node=1, name=2, initializer=5, input=11, output=12
  const graph = concat([
    ...nodes.map((n) => fBytes(1, n)),
    fString(2, spec.graphName),
    ...inits.map((t) => fBytes(5, t)),
    fBytes(11, valueInfo(inputName, OnnxDataType.FLOAT, [batch, first.inFeatures])),
    fBytes(12, valueInfo(outputName, OnnxDataType.FLOAT, [batch, lastL.outFeatures])),
  ]);
  // ModelProto: ir_version=1, producer_name=2, producer_version=3, doc_string=6, graph=7, opset_import=8, metadata_props=14
  const meta = Object.entries(spec.metadata ?? {}).map(([k, v]) => fBytes(14, concat([fString(1, k), fString(2, v)])));
  return concat([
    fVarint(1, spec.irVersion ?? 8),
    fString(2, spec.producerName ?? 'fleetml-onnx-pb'),
    fString(3, spec.producerVersion ?? '1'),
    ...(spec.docString ? [fString(6, spec.docString)] : []),
    fBytes(7, graph),
    fBytes(8, concat([fString(1, ''), fVarint(2, spec.opset ?? 13)])),
    ...meta,
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

export interface OnnxModelInfo {
  irVersion: number;
  producer: string;
  producerVersion: string;
  /** Version of the default ("" or "ai.onnx") operator set. */
  opset: number;
  graphName: string;
  metadata: Record<string, string>;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly what: string) {}
  get done(): boolean { return this.pos >= this.buf.length; }
  varint(): bigint {
    let result = 0n, shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error(`truncated varint in ${this.what}`);
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new Error(`malformed varint in ${this.what}`);
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (len > BigInt(this.buf.length - this.pos)) throw new Error(`truncated: a field of ${this.what} claims ${len} bytes but only ${this.buf.length - this.pos} remain`);
    const out = this.buf.subarray(this.pos, this.pos + Number(len));
    this.pos += Number(len);
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.fixed(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.fixed(4);
    else throw new Error(`unsupported protobuf wire type ${wire} in ${this.what}`);
  }
  private fixed(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`truncated fixed field in ${this.what}`);
    this.pos += n;
  }
  /** Iterates fields; returns [field, wire] or null at the end. */
  next(): [number, number] | null {
    if (this.done) return null;
    const k = this.varint();
    const field = Number(k >> 3n), wire = Number(k & 7n);
    if (field === 0 || field > 536870911) throw new Error(`invalid protobuf field number ${field} in ${this.what}`);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw new Error(`unsupported protobuf wire type ${wire} in ${this.what}`);
    return [field, wire];
  }
}

const dec = new TextDecoder('utf-8', { fatal: true });
function str(r: Reader, field: string): string {
  const b = r.bytes();
  try { return dec.decode(b); } catch { throw new Error(`${field} is not valid UTF-8`); }
}
function expectWire(wire: number, want: number, field: string): void {
  if (wire !== want) throw new Error(`${field} has wire type ${wire}, expected ${want}`);
}

const MAGIC: [string, number[]][] = [
  ['PNG image', [0x89, 0x50, 0x4e, 0x47]], ['JPEG image', [0xff, 0xd8, 0xff]], ['GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['ZIP archive (PyTorch .pt / .npz / .zip?)', [0x50, 0x4b, 0x03, 0x04]], ['gzip file', [0x1f, 0x8b]], ['ELF binary', [0x7f, 0x45, 0x4c, 0x46]],
  ['PDF document', [0x25, 0x50, 0x44, 0x46]], ['HDF5 file (Keras .h5?)', [0x89, 0x48, 0x44, 0x46]], ['pickle (PyTorch legacy?)', [0x80, 0x02]],
  ['safetensors/JSON text', [0x7b]],
];

/**
 * Reads the top-level ModelProto fields (ir_version=1, producer_name=2, producer_version=3, graph=7 → name=2,
 * opset_import=8, metadata_props=14). Throws an Error whose message starts with "not an ONNX model: " when the bytes
 * are not a well-formed ModelProto (empty, truncated, another file type, random bytes).
 */
export function readModelInfo(bytes: Uint8Array): OnnxModelInfo {
  try {
    return readModelInfoInner(bytes);
  } catch (e) {
    throw new Error(`not an ONNX model: ${(e as Error).message}`);
  }
}

function readModelInfoInner(bytes: Uint8Array): OnnxModelInfo {
  if (bytes.length === 0) throw new Error('the file is empty');
  for (const [what, magic] of MAGIC) {
    if (bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b)) throw new Error(`the file looks like a ${what}`);
  }
  const r = new Reader(bytes, 'ModelProto');
  let irVersion: number | null = null, producer = '', producerVersion = '', graphName: string | null = null;
  let opset: number | null = null, sawOpset = false;
  const metadata: Record<string, string> = {};
  for (let f = r.next(); f; f = r.next()) {
    const [field, wire] = f;
    switch (field) {
      case 1: expectWire(wire, 0, 'ir_version'); irVersion = Number(r.varint()); break;
      case 2: expectWire(wire, 2, 'producer_name'); producer = str(r, 'producer_name'); break;
      case 3: expectWire(wire, 2, 'producer_version'); producerVersion = str(r, 'producer_version'); break;
      case 7: {
        expectWire(wire, 2, 'graph');
        const g = new Reader(r.bytes(), 'GraphProto');
        graphName = '';
        for (let gf = g.next(); gf; gf = g.next()) {
          if (gf[0] === 2) { expectWire(gf[1], 2, 'graph.name'); graphName = str(g, 'graph.name'); } else g.skip(gf[1]);
        }
        break;
      }
      case 8: {
        expectWire(wire, 2, 'opset_import');
        sawOpset = true;
        const o = new Reader(r.bytes(), 'OperatorSetIdProto');
        let domain = '', version = 0;
        for (let of = o.next(); of; of = o.next()) {
          if (of[0] === 1) { expectWire(of[1], 2, 'opset_import.domain'); domain = str(o, 'opset_import.domain'); } else if (of[0] === 2) { expectWire(of[1], 0, 'opset_import.version'); version = Number(o.varint()); } else o.skip(of[1]);
        }
        if (domain === '' || domain === 'ai.onnx') opset = version;
        break;
      }
      case 14: {
        expectWire(wire, 2, 'metadata_props');
        const m = new Reader(r.bytes(), 'StringStringEntryProto');
        let k = '', v = '';
        for (let mf = m.next(); mf; mf = m.next()) {
          if (mf[0] === 1) { expectWire(mf[1], 2, 'metadata key'); k = str(m, 'metadata key'); } else if (mf[0] === 2) { expectWire(mf[1], 2, 'metadata value'); v = str(m, 'metadata value'); } else m.skip(mf[1]);
        }
        metadata[k] = v;
        break;
      }
      default: r.skip(wire);
    }
  }
  if (irVersion === null) throw new Error('no ir_version field');
  if (irVersion < 1 || irVersion > 100) throw new Error(`implausible ir_version ${irVersion}`);
  if (graphName === null) throw new Error('no graph (the file may be truncated)');
  if (!sawOpset) throw new Error('no opset_import (the file may be truncated)');
  return { irVersion, producer, producerVersion, opset: opset ?? 0, graphName, metadata };
}
