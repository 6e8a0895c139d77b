import { describe, expect, it } from 'vitest';
import { MISSING_TEXT, extractRows, featuresOf, matchColumns, parseCsvLine, rowsToFeeds, textCell, type FeatureDef } from '../../../agent/serving/tabular.js';
import type { Cell } from '../../../agent/serving/tabular.js';
import type { TensorSpec } from '../../../shared/protocol/index.js';
import type { RawTensor } from '../../../agent/serving/tensors.js';

const spec = (name: string, dtype: TensorSpec['dtype'], shape: TensorSpec['shape']): TensorSpec => ({ name, dtype, shape });

describe('featuresOf', () => {
  it('[batch, F] → F features name[i]; [batch] and [batch, 1] → one feature; dtypes decide the type', () => {
    const { features, unprofiled } = featuresOf(
      [spec('x', 'float32', ['N', 3]), spec('age', 'int64', ['N']), spec('w', 'float64', [-1, 1]), spec('city', 'string', ['N']), spec('flag', 'bool', ['N', 1])],
      [],
      100,
    );
    expect(unprofiled).toEqual([]);
    expect(features.map((f) => [f.name, f.type, f.tensor, f.col, f.width])).toEqual([
      ['x[0]', 'numeric', 'x', 0, 3],
      ['x[1]', 'numeric', 'x', 1, 3],
      ['x[2]', 'numeric', 'x', 2, 3],
      ['age', 'numeric', 'age', null, 1],
      ['w', 'numeric', 'w', 0, 1],
      ['city', 'categorical', 'city', null, 1],
      ['flag', 'categorical', 'flag', 0, 1],
    ]);
    expect(features.every((f) => f.role === 'input' && !f.argmax)).toBe(true);
  });

  it('rank-3 and symbolic-width inputs are not profiled; type overrides by feature name', () => {
    const { features, unprofiled } = featuresOf([spec('img', 'float32', ['N', 3, 224]), spec('seq', 'float32', ['N', 'T']), spec('code', 'int32', ['N'])], [], 100, { code: 'categorical' });
    expect(unprofiled).toEqual(['img', 'seq']);
    expect(features.map((f) => [f.name, f.type])).toEqual([['code', 'categorical']]);
  });

  it('outputs: [batch, C>1] numeric → argmax categorical `name:class`; [batch] / [batch, 1] → numeric prediction', () => {
    const { features, unprofiled } = featuresOf([], [spec('probs', 'float32', ['N', 4]), spec('score', 'float32', ['N', 1]), spec('y', 'float64', ['N']), spec('labels', 'string', ['N', 2]), spec('emb', 'float32', ['N', 2, 8])], 100);
    expect(features.map((f) => [f.name, f.role, f.type, f.argmax, f.width])).toEqual([
      ['probs:class', 'prediction', 'categorical', true, 4],
      ['score', 'prediction', 'numeric', false, 1],
      ['y', 'prediction', 'numeric', false, 1],
    ]);
    expect(unprofiled).toEqual(['labels', 'emb']);
  });

  it('caps the number of features (inputs first), the rest reported as not profiled', () => {
    const { features, unprofiled } = featuresOf([spec('x', 'float32', ['N', 5])], [spec('p', 'float32', ['N', 3])], 4);
    expect(features.map((f) => f.name)).toEqual(['x[0]', 'x[1]', 'x[2]', 'x[3]']);
    expect(unprofiled).toEqual(['x[4]', 'p:class']);
  });
});

describe('extractRows', () => {
  const { features } = featuresOf(
    [spec('x', 'float32', ['N', 2]), spec('id', 'int64', ['N']), spec('ok', 'bool', ['N']), spec('s', 'string', ['N'])],
    [spec('probs', 'float32', ['N', 3]), spec('y', 'float32', ['N', 1])],
    100,
  );
  const inputs: Record<string, RawTensor> = {
    x: { dtype: 'float32', dims: [3, 2], data: Float32Array.from([1, 2, 3, NaN, 5, 6]) },
    id: { dtype: 'int64', dims: [3], data: BigInt64Array.from([7n, -8n, 9n]) },
    ok: { dtype: 'bool', dims: [3], data: Uint8Array.from([1, 0, 1]) },
    s: { dtype: 'string', dims: [3], data: ['a', 'b', ''] },
  };
  const outputs: Record<string, RawTensor> = {
    probs: { dtype: 'float32', dims: [3, 3], data: Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.2, 0.3, 0.1, NaN, 0.9]) },
    y: { dtype: 'float32', dims: [3, 1], data: Float32Array.from([0.5, 1.5, 2.5]) },
  };

  it('cells per feature per row: columns, bigint → number, bool → "true"/"false", argmax class with NaN → missing', () => {
    const got: Cell[][] = features.map(() => []);
    const rows = extractRows(features, inputs, outputs, (f, c) => got[f].push(c));
    expect(rows).toBe(3);
    const by = Object.fromEntries(features.map((f, i) => [f.name, got[i]]));
    expect(by['x[0]']).toEqual([1, 3, 5]);
    expect(by['x[1]']).toEqual([2, NaN, 6]);
    expect(by.id).toEqual([7, -8, 9]);
    expect(by.ok).toEqual(['true', 'false', 'true']);
    expect(by.s).toEqual(['a', 'b', '']);
    expect(by['probs:class']).toEqual(['1', '0', null]);
    expect(by.y).toEqual([0.5, 1.5, 2.5]);
  });

  it('float16 data (raw half bits) decode; absent tensors are skipped', () => {
    const f = featuresOf([spec('h', 'float16', ['N'])], [spec('missing_out', 'float32', ['N'])], 10).features;
    const got: Cell[] = [];
    // 0x3c00 = 1, 0xc000 = -2, 0x7e00 = NaN, 0x7c00 = +Inf, 0x0001 = 2^-24 (subnormal)
    const rows = extractRows(f, { h: { dtype: 'float16', dims: [5], data: Uint16Array.from([0x3c00, 0xc000, 0x7e00, 0x7c00, 0x0001]) } }, {}, (_i, c) => got.push(c));
    expect(rows).toBe(5);
    expect(got).toEqual([1, -2, NaN, Infinity, 2 ** -24]);
  });
});

describe('reference datasets: CSV, text cells, column matching, feeds', () => {
  it('parseCsvLine: quoted commas, escaped quotes, empty fields', () => {
    expect(parseCsvLine('a,b,c')).toEqual(['a', 'b', 'c']);
    expect(parseCsvLine('"a,b",c')).toEqual(['a,b', 'c']);
    expect(parseCsvLine('"say ""hi""",2')).toEqual(['say "hi"', '2']);
    expect(parseCsvLine(',,')).toEqual(['', '', '']);
    expect(parseCsvLine('1,"",3')).toEqual(['1', '', '3']);
    expect(parseCsvLine('"x"')).toEqual(['x']);
    expect(parseCsvLine('')).toEqual(['']);
  });

  it('textCell: missing markers (empty, NA, NaN, null, None, n/a; any case, spaces) → null; numbers; categorical text', () => {
    for (const m of ['', ' ', 'NA', 'na', 'NaN', 'nan', 'null', 'NULL', 'None', 'none', 'N/A', ' NA ']) {
      expect(textCell(m, 'numeric'), JSON.stringify(m)).toBeNull();
      expect(textCell(m, 'categorical'), JSON.stringify(m)).toBeNull();
    }
    expect(textCell(null, 'numeric')).toBeNull();
    expect(textCell(undefined, 'numeric')).toBeNull();
    expect(textCell(NaN, 'numeric')).toBeNull();
    expect(textCell(' 3.5 ', 'numeric')).toBe(3.5);
    expect(textCell('-1e3', 'numeric')).toBe(-1000);
    expect(textCell('abc', 'numeric')).toBeNull();
    expect(textCell(' red ', 'categorical')).toBe('red');
    expect(textCell(4, 'numeric')).toBe(4);
    expect(textCell(4, 'categorical')).toBe('4');
    expect(textCell(true, 'numeric')).toBe(1);
    expect(textCell(false, 'categorical')).toBe('false');
  });

  const inputs = featuresOf([spec('x', 'float32', ['N', 3])], [spec('p', 'float32', ['N', 2])], 100).features.filter((f) => f.role === 'input');

  it('matchColumns by name (order free, extra columns ignored)', () => {
    expect(matchColumns(['id', 'x[2]', 'x[0]', 'note', ' x[1] '], inputs)).toEqual({ by: 'name', columns: [2, 4, 1], names: null });
  });

  it('matchColumns by position when counts agree: the header names the features', () => {
    expect(matchColumns(['a', ' b', 'c'], inputs)).toEqual({ by: 'position', columns: [0, 1, 2], names: ['a', 'b', 'c'] });
    expect(matchColumns(null, inputs)).toEqual({ by: 'position', columns: [0, 1, 2], names: null });
  });

  it('matchColumns error names both counts and the features', () => {
    expect(() => matchColumns(['a', 'b'], inputs)).toThrow(/2 columns \(a, b\).*3 input features \(x\[0\], x\[1\], x\[2\]\)/);
    expect(() => matchColumns(['a', 'b', 'c', 'd'], inputs)).toThrow(/4 columns/);
  });

  it('rowsToFeeds: [n, F] and [n] tensors, NaN for missing floats, strings and bools, int64 as bigint', () => {
    const specs = [spec('x', 'float32', ['N', 2]), spec('k', 'int64', ['N']), spec('s', 'string', ['N']), spec('b', 'bool', ['N'])];
    const feats: FeatureDef[] = featuresOf(specs, [], 100).features;
    const rows: Cell[][] = [
      [1.5, null, 3, 'u', 'true'],
      [null, 2, null, null, 'false'],
    ];
    const feeds = rowsToFeeds(rows, feats, specs);
    expect(feeds.x.dims).toEqual([2, 2]);
    expect(Array.from(feeds.x.data as Float32Array)).toEqual([1.5, NaN, NaN, 2]);
    expect(feeds.k.dims).toEqual([2]);
    expect(Array.from(feeds.k.data as BigInt64Array)).toEqual([3n, 0n]);
    expect(feeds.s.data).toEqual(['u', '']);
    expect(Array.from(feeds.b.data as Uint8Array)).toEqual([1, 0]);
    expect(() => rowsToFeeds(rows, feats, [spec('img', 'float32', ['N', 2, 2])])).toThrow(/only \[batch\] and \[batch, F\]/);
  });

  it('rowsToFeeds then extractRows gives back the cells (round trip through tensors)', () => {
    const specs = [spec('x', 'float64', ['N', 3])];
    const feats = featuresOf(specs, [], 100).features;
    const rows: Cell[][] = [[1, 2, 3], [4, null, 6]];
    const feeds = rowsToFeeds(rows, feats, specs);
    const got: Cell[][] = feats.map(() => []);
    extractRows(feats, feeds, {}, (f, c) => got[f].push(c));
    expect(got).toEqual([[1, 4], [2, NaN], [3, 6]]);
  });
});

describe('MISSING_TEXT', () => {
  it('holds the lower-cased missing markers textCell reads as null', () => {
    for (const m of ['', 'NA', 'NaN', 'null', 'None', 'n/a']) { expect(MISSING_TEXT.has(m.toLowerCase())).toBe(true); expect(textCell(m, 'numeric')).toBeNull(); }
    expect(MISSING_TEXT.has('income')).toBe(false);
  });
});
