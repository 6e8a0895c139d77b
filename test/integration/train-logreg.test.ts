import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../shared/util/package-root.js';
import { mulberry32 } from '../../shared/util/prng.js';
import { CREDIT, creditRows, csvOf } from '../../scripts/lib/credit-data.js';
import { readModelInfo } from '../../agent/serving/onnx-pb.js';
import { splitHoldout } from '../../scripts/lib/logreg.js';

// The retraining job (scripts/train-logreg.ts) run as the automation runner runs it: the compiled script as a child
// process with the FLEETML_* environment; its model is loaded by onnxruntime-node and scored on the held-out rows.

const script = join(packageRoot(), 'dist', 'scripts', 'train-logreg.js');
let dir: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A separable credit rule: approve when income outweighs debt (plus a little tenure). */
const rule = (r: readonly number[]): number => ((r[0] - 0.5) - 0.8 * (r[2] - 0.1) + 0.3 * (r[3] - 0.3) > 0 ? 1 : 0);
const rows = creditRows(mulberry32(11), 1000);
const labelled = rows.map((r) => [...r, rule(r)]);
const header = [...CREDIT.names, 'label'];

async function score(file: string, x: number[][]): Promise<number[]> {
  const s = await ort.InferenceSession.create(file);
  expect(s.inputNames).toEqual(['input']);
  expect(s.outputNames).toEqual(['output']);
  const out = await s.run({ input: new ort.Tensor('float32', Float32Array.from(x.flat()), [x.length, x[0].length]) });
  const t = out.output;
  expect(t.dims).toEqual([x.length, 1]);
  return Array.from(t.data as Float32Array);
}
const accuracy = (p: number[], y: number[]): number => p.filter((v, i) => (v > 0.5 ? 1 : 0) === y[i]).length / y.length;

beforeAll(() => {
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build`);
  dir = mkdtempSync(join(tmpdir(), 'fleetml-train-'));
  writeFileSync(join(dir, 'train.csv'), csvOf(header, labelled));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('train-logreg (the retraining job)', () => {
  const envFor = (name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    FLEETML_DATA: join(dir, 'train.csv'), FLEETML_OUTPUT: join(dir, `${name}.onnx`), FLEETML_METRICS: join(dir, `${name}.json`),
    FLEETML_MODEL: 'credit', FLEETML_PARENT_VERSION: '3', FLEETML_RUN_ID: `run-${name}`, ...extra,
  });
  const holdout = splitHoldout(labelled.length).holdout;
  const xh = holdout.map((i) => rows[i]), yh = holdout.map((i) => rule(rows[i]));

  it('writes a drop-in logreg model whose held-out accuracy onnxruntime reproduces, and the metrics of the contract', async () => {
    const r = await run([], envFor('good'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/run_id=run-good/);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(5);
    const m = JSON.parse(readFileSync(join(dir, 'good.json'), 'utf8'));
    expect(m).toMatchObject({ task: 'classification', rows_train: 800, rows_holdout: 200, features: CREDIT.names, model: 'credit', parent_version: '3', run_id: 'run-good', worse: false });
    expect(m.data_sha256).toMatch(/^[0-9a-f]{64}$/);
    const p = await score(join(dir, 'good.onnx'), xh);
    const acc = accuracy(p, yh);
    expect(acc).toBeGreaterThan(0.95);
    expect(Math.abs(acc - m.accuracy)).toBeLessThanOrEqual(1 / yh.length); // float32 ties at 0.5 aside, the same figure
    expect(m.f1).toBeGreaterThan(0.9);
    expect(m.logloss).toBeGreaterThan(0);
    expect(m.logloss).toBeLessThan(0.3);
    // same signature as the fixture it replaces
    const fixture = await ort.InferenceSession.create(join(packageRoot(), 'test', 'fixtures', 'models', 'logreg.onnx'));
    expect(fixture.inputNames).toEqual(['input']);
    expect(fixture.outputNames).toEqual(['output']);
    const info = readModelInfo(readFileSync(join(dir, 'good.onnx')));
    expect(info.metadata).toMatchObject({ model: 'credit', parent_version: '3', run_id: 'run-good', features: CREDIT.names.join(',') });
  });

  it('--worse (and FLEETML_TRAIN_WORSE=1) writes a model below chance, and says so in the metrics', async () => {
    const byFlag = await run(['--worse'], envFor('worse'));
    expect(byFlag.code).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'worse.json'), 'utf8'));
    expect(m.worse).toBe(true);
    expect(m.accuracy).toBeLessThan(0.5);
    expect(accuracy(await score(join(dir, 'worse.onnx'), xh), yh)).toBeLessThan(0.5);
    const byEnv = await run([], envFor('worse-env', { FLEETML_TRAIN_WORSE: '1' }));
    expect(byEnv.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'worse-env.json'), 'utf8')).accuracy).toBe(m.accuracy);
  });

  it('is deterministic: the same input gives a byte-identical model and metrics', async () => {
    const env = { FLEETML_RUN_ID: 'same' };
    await run([], envFor('det-a', env));
    await run([], envFor('det-b', env));
    expect(readFileSync(join(dir, 'det-a.onnx')).equals(readFileSync(join(dir, 'det-b.onnx')))).toBe(true);
    const a = JSON.parse(readFileSync(join(dir, 'det-a.json'), 'utf8')), b = JSON.parse(readFileSync(join(dir, 'det-b.json'), 'utf8'));
    expect(a).toEqual(b);
  });

  it('takes --data --output --metrics flags for humans', async () => {
    const r = await run(['--data', join(dir, 'train.csv'), '--output', join(dir, 'flags.onnx'), `--metrics=${join(dir, 'flags.json')}`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'flags.json'), 'utf8')).accuracy).toBeGreaterThan(0.95);
  });

  it('FLEETML_FEATURES picks the input columns and their order from a wider CSV (ids, timestamps ignored)', async () => {
    const wide = join(dir, 'wide.csv');
    writeFileSync(wide, ['request_id,ts,' + header.join(','), ...labelled.map((r, i) => `req-${i},2026-12-03T12:00:${String(i % 60).padStart(2, '0')}Z,${r.join(',')}`)].join('\n') + '\n');
    const r = await run([], { ...envFor('wide'), FLEETML_DATA: wide, FLEETML_FEATURES: CREDIT.names.join(',') });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'wide.json'), 'utf8'));
    expect(m.features).toEqual(CREDIT.names);
    expect(accuracy(await score(join(dir, 'wide.onnx'), xh), yh)).toBe(m.accuracy);
  });

  const bad: [string, string, RegExp][] = [
    ['no label column', csvOf(CREDIT.names, rows.slice(0, 50)), /no "label" column/],
    ['a non-numeric cell', csvOf(header, labelled.slice(0, 50)).replace(/\n([^,\n]+),/, '\nabc,'), /line 2, column "income": "abc" is not a finite number/],
    ['fewer than 10 rows', csvOf(header, labelled.slice(0, 9)), /only 9 data rows; at least 10/],
    ['a label that is not 0/1', csvOf(header, labelled.slice(0, 50).map((r, i) => (i === 3 ? [...r.slice(0, 4), 2] : r))), /line 5: label 2 is not 0 or 1/],
    ['a short row', csvOf(header, labelled.slice(0, 50)) + '1,2\n', /line 52: 2 cells, the header has 5/],
  ];
  it.each(bad)('exits 2 with a clear message on %s, writing nothing', async (name, text, msg) => {
    const file = join(dir, `bad-${name.replace(/\W+/g, '-')}.csv`);
    writeFileSync(file, text);
    const out = join(dir, `bad-${name.replace(/\W+/g, '-')}.onnx`);
    const r = await run([], { FLEETML_DATA: file, FLEETML_OUTPUT: out, FLEETML_METRICS: `${out}.json` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^train-logreg: error: /);
    expect(r.stderr).toMatch(msg);
    expect(existsSync(out)).toBe(false);
  });

  it('exits 2 naming the variable when a path is missing', async () => {
    const r = await run([], { FLEETML_DATA: join(dir, 'train.csv'), FLEETML_OUTPUT: join(dir, 'x.onnx') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/set FLEETML_METRICS or pass --metrics/);
  });
});
