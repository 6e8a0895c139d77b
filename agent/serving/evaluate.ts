import { RpcError } from '../../shared/protocol/index.js';
import type { TestSet } from '../../shared/protocol/index.js';
import type { ModelRegistry } from './registry.js';
import type { ServingManager } from './serving.js';
import { isDynamicDim } from './tensors.js';
import { featuresOf, rowsToFeeds } from './tabular.js';
import { scoreOutputs } from './scoring.js';

/** model.evaluate: runs a version on a labelled test set outside traffic and scores its first output. */
export async function evaluateVersion(registry: ModelRegistry, serving: ServingManager, p: { name: string; version?: string; test_set: TestSet }) {
  const v = registry.resolve(p.name, p.version);
  const inputs = featuresOf(v.inputs, [], 4096).features;
  const out = v.outputs[0];
  const width = out && out.shape.length === 2 && typeof out.shape[1] === 'number' ? out.shape[1] : out && out.shape.length === 1 ? 1 : null;
  if (inputs.length === 0 || width === null) throw new RpcError('INVALID_PARAMS', `${v.name} ${v.version}: only models with [batch] / [batch, F] inputs and a [batch] / [batch, C] first output can be evaluated on a table`);
  const bad = p.test_set.rows.findIndex((r) => r.length !== inputs.length);
  if (bad >= 0) throw new RpcError('INVALID_PARAMS', `test set row ${bad + 1} has ${p.test_set.rows[bad].length} values; ${v.name} ${v.version} has ${inputs.length} input features`);
  const dynamic = v.inputs.every((s) => s.shape.length > 0 && isDynamicDim(s.shape[0]));
  const batch = dynamic ? 512 : 1;
  const preds = new Float64Array(p.test_set.rows.length * width);
  // A version loaded only for this is unloaded afterwards (unless it started serving meanwhile).
  await serving.withEvaluation(v.name, v.version, async () => {
    for (let i = 0; i < p.test_set.rows.length; i += batch) {
      const rows = p.test_set.rows.slice(i, i + batch);
      const outputs = await serving.evaluate(v.name, v.version, rowsToFeeds(rows, inputs, v.inputs));
      const t = outputs[out.name];
      const data = t.data as ArrayLike<number | bigint>;
      for (let j = 0; j < rows.length * width; j++) preds[i * width + j] = Number(data[j]);
    }
  });
  return { name: v.name, version: v.version, rows: p.test_set.rows.length, ...scoreOutputs(preds, width, p.test_set.labels) };
}
