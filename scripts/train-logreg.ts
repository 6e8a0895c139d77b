// The retraining job of the closed loop (issue 11): fits a logistic regression on a labelled CSV and writes an ONNX
// model that is a drop-in new version of test/fixtures/models/logreg.onnx (input `input` float32 [batch, F], output
// `output` float32 [batch, 1], probabilities of label 1), plus a metrics JSON that the automation's gate reads.
//
//   node dist/scripts/train-logreg.js --data train.csv --output model.onnx --metrics metrics.json [--worse] [--l2 1]
//
// Contract (docs/automations.md, "Retraining job contract"); the automation runner sets the environment, flags win over it:
//   FLEETML_DATA     CSV: a header of feature names (input order) and a `label` column of 0/1      (--data)
//   FLEETML_OUTPUT   where to write the .onnx                                                       (--output)
//   FLEETML_METRICS  where to write the metrics JSON                                                (--metrics)
//   FLEETML_MODEL, FLEETML_PARENT_VERSION, FLEETML_RUN_ID   echoed in the log, the metrics and the ONNX metadata
//   FLEETML_TRAIN_WORSE=1                                   negate the fit: a deliberately bad model  (--worse)
//   FLEETML_TRAIN_L2                                        L2 penalty on standardised weights, default 1 (--l2)
//   FLEETML_FEATURES                                        comma list: the feature columns in input order;
//                                                           other columns are ignored (default: all but label)  (--features)
// Every 5th row (rows 5, 10, …) is held out for the metrics. Deterministic: the same input and options give
// byte-identical files. Logs: one line per step on stdout. Exit codes: 0 done, 2 bad input or usage, 1 anything else.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDenseModel } from '../agent/serving/onnx-pb.js';
import { classMetrics, DatasetError, fitLogreg, parseCsv, predict, splitHoldout } from './lib/logreg.js';

/** The resolved options of one run. */
export interface TrainOptions {
  data: string; output: string; metrics: string; worse: boolean; l2: number;
  /** Feature columns and their order (the model's input order); null: every column but label, in header order. */
  features: string[] | null;
  model: string | null; parentVersion: string | null; runId: string | null;
}

/** A usage or input error: printed as one line, exit code 2. */
class UsageError extends Error {}

const FLAGS: Record<string, keyof TrainOptions> = { '--data': 'data', '--output': 'output', '--metrics': 'metrics', '--l2': 'l2', '--features': 'features', '--model': 'model', '--parent-version': 'parentVersion', '--run-id': 'runId' };

/** Options from argv (flags) over env (the runner's contract); throws UsageError naming what is missing. */
export function resolveOptions(argv: readonly string[], env: NodeJS.ProcessEnv): TrainOptions {
  const flags: Partial<Record<keyof TrainOptions, string>> = {};
  let worse = env.FLEETML_TRAIN_WORSE === '1' || env.FLEETML_TRAIN_WORSE === 'true';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--worse') { worse = true; continue; }
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const key = FLAGS[k];
    if (!key) throw new UsageError(`unknown argument "${a}" (flags: ${Object.keys(FLAGS).join(' ')} --worse)`);
    const v = inline ?? argv[++i];
    if (v === undefined || v === '') throw new UsageError(`${k} needs a value`);
    flags[key] = v;
  }
  const pick = (k: keyof TrainOptions, envName: string): string | null => flags[k] ?? (env[envName] ? env[envName]! : null);
  const need = (k: keyof TrainOptions, envName: string, flag: string): string => {
    const v = pick(k, envName);
    if (!v) throw new UsageError(`no ${k} path: set ${envName} or pass ${flag}`);
    return v;
  };
  const l2Text = pick('l2', 'FLEETML_TRAIN_L2') ?? '1';
  const l2 = Number(l2Text);
  if (!Number.isFinite(l2) || l2 <= 0) throw new UsageError(`--l2 / FLEETML_TRAIN_L2 must be a positive number, not "${l2Text}"`);
  const featureText = pick('features', 'FLEETML_FEATURES');
  const features = featureText ? featureText.split(',').map((f) => f.trim()).filter((f) => f !== '') : null;
  if (featureText && !features!.length) throw new UsageError('--features / FLEETML_FEATURES names no column');
  return {
    features,
    data: need('data', 'FLEETML_DATA', '--data'), output: need('output', 'FLEETML_OUTPUT', '--output'), metrics: need('metrics', 'FLEETML_METRICS', '--metrics'),
    worse, l2, model: pick('model', 'FLEETML_MODEL'), parentVersion: pick('parentVersion', 'FLEETML_PARENT_VERSION'), runId: pick('runId', 'FLEETML_RUN_ID'),
  };
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

const r4 = (v: number): string => v.toFixed(4);

/** One run: reads, fits, evaluates on the hold-out, writes the model and the metrics. Returns the metrics object. */
export function train(o: TrainOptions, log: (line: string) => void): Record<string, unknown> {
  let bytes: Buffer;
  try { bytes = readFileSync(o.data); } catch (e) { throw new UsageError(`cannot read the dataset ${o.data}: ${(e as Error).message}`); }
  const dataSha = createHash('sha256').update(bytes).digest('hex');
  log(`train-logreg: model=${o.model ?? '-'} parent_version=${o.parentVersion ?? '-'} run_id=${o.runId ?? '-'}`);
  log(`train-logreg: reading ${o.data} (${bytes.length} bytes, sha256 ${dataSha})`);
  const ds = parseCsv(bytes.toString('utf8'), o.features ? { features: o.features } : {});
  const { train: tr, holdout: ho } = splitHoldout(ds.x.length);
  const xt = tr.map((i) => ds.x[i]), yt = tr.map((i) => ds.y[i]);
  const xh = ho.map((i) => ds.x[i]), yh = ho.map((i) => ds.y[i]);
  log(`train-logreg: ${ds.x.length} rows, features ${ds.features.join(',')}; ${xt.length} train, ${xh.length} held out (every 5th row)`);
  if (new Set(yt).size < 2) throw new DatasetError('the training rows hold a single class: both labels 0 and 1 are needed');
  const fit = fitLogreg(xt, yt, { l2: o.l2 });
  log(`train-logreg: Newton fit, l2=${o.l2}: ${fit.iterations} iterations, ${fit.converged ? 'converged' : 'NOT converged (the weights are the last iterate)'}`);
  const sign = o.worse ? -1 : 1;
  if (o.worse) log('train-logreg: --worse: writing the negated fit (a deliberately bad model)');
  const W = Float32Array.from(fit.weights, (w) => sign * w);
  const B = Float32Array.from([sign * fit.bias]);
  const written = { weights: W, bias: B[0] };
  const mt = classMetrics(predict(written, xt), yt);
  const mh = classMetrics(predict(written, xh), yh);
  log(`train-logreg: train accuracy ${r4(mt.accuracy)}; holdout accuracy ${r4(mh.accuracy)} f1 ${r4(mh.f1)} logloss ${r4(mh.logloss)}`);
  const meta: Record<string, string> = { generator: 'scripts/train-logreg.ts', features: ds.features.join(','), data_sha256: dataSha, holdout_accuracy: r4(mh.accuracy) };
  if (o.model) meta.model = o.model;
  if (o.parentVersion) meta.parent_version = o.parentVersion;
  if (o.runId) meta.run_id = o.runId;
  if (o.worse) meta.worse = 'true';
  const onnx = buildDenseModel({
    graphName: o.model ?? 'logreg', docString: `logistic regression ${ds.features.length} -> 1 (sigmoid), trained by scripts/train-logreg.ts`,
    layers: [{ inFeatures: ds.features.length, outFeatures: 1, weights: W, bias: B, activation: 'sigmoid' }], metadata: meta,
  });
  writeAtomic(o.output, onnx);
  const modelSha = createHash('sha256').update(onnx).digest('hex');
  log(`train-logreg: wrote ${o.output} (${onnx.length} bytes, sha256 ${modelSha})`);
  const metrics = {
    task: 'classification', accuracy: mh.accuracy, f1: mh.f1, logloss: mh.logloss, precision: mh.precision, recall: mh.recall,
    rows_train: xt.length, rows_holdout: xh.length, features: ds.features, data_sha256: dataSha,
    model: o.model, parent_version: o.parentVersion, run_id: o.runId,
    train_accuracy: mt.accuracy, train_logloss: mt.logloss, threshold: 0.5, l2: o.l2, iterations: fit.iterations, converged: fit.converged,
    worse: o.worse, output_sha256: modelSha, output_bytes: onnx.length,
  };
  writeAtomic(o.metrics, JSON.stringify(metrics, null, 2) + '\n');
  log(`train-logreg: wrote ${o.metrics}`);
  return metrics;
}

// Run only as a script (argv[1] is this file, compiled or through vite-node).
const entry = process.argv[1] ?? '';
const isMain = resolve(entry).replace(/\.(ts|js)$/, '') === fileURLToPath(import.meta.url).replace(/\.(ts|js)$/, '') || /vite-node(\.m?js)?$/.test(entry);
if (isMain) {
  try {
    train(resolveOptions(process.argv.slice(2), process.env), (l) => process.stdout.write(`${l}\n`));
  } catch (e) {
    const bad = e instanceof UsageError || e instanceof DatasetError;
    process.stderr.write(`train-logreg: error: ${(e as Error).message}\n`);
    process.exitCode = bad ? 2 : 1;
  }
}
