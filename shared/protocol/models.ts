import { z } from 'zod';
import { DatatypeName, ModelName, TensorName, VersionName as Version } from './names.js';
import { InferRequestId } from './feedback.js';

// Model serving: a versioned, content-addressed ONNX registry per agent, and inference.

/** Element types of tensors (ONNX names as onnxruntime-node reports them). */
export const TensorDtype = z.enum(['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'string', 'float16']);
export type TensorDtype = z.infer<typeof TensorDtype>;

/** One input or output of a model: a dimension is a number or a symbolic name (dynamic). */
export const TensorSpec = z.object({ name: z.string(), dtype: TensorDtype, shape: z.array(z.union([z.number().int(), z.string()])) });
export type TensorSpec = z.infer<typeof TensorSpec>;

/** Lineage of a version: where it came from. */
export const Lineage = z.object({
  git_commit: z.string().max(64).nullable(),
  /** sha256 of the training/reference data file given at push time. */
  dataset_sha256: z.string().nullable(),
  dataset_name: z.string().max(256).nullable(),
  meta: z.record(z.string().max(64), z.string().max(1024)),
});

/** An immutable model version. */
export const ModelVersion = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
  size_bytes: z.number().int(),
  inputs: z.array(TensorSpec),
  outputs: z.array(TensorSpec),
  pushed_by: z.string(),
  pushed_at: z.number(),
  lineage: Lineage,
  /** Loaded in memory now, and by which execution provider. */
  loaded: z.boolean(),
  provider: z.string().nullable(),
});
export type ModelVersion = z.infer<typeof ModelVersion>;

/** model.push — chunked upload: the first chunk (offset 0) starts an upload; the final one commits it after the sha256
 * and the ONNX parse check. Chunks are base64 (at most 512 KiB decoded each, under the frame limit). */
export const ModelPushParams = z.object({
  name: ModelName,
  version: Version.optional(),
  /** Returned by the first chunk; pass it with every later chunk. */
  upload_id: z.string().max(64).optional(),
  offset: z.number().int().min(0),
  data_b64: z.string().max(Math.ceil((512 * 1024 * 4) / 3) + 4),
  final: z.boolean(),
  /** Expected sha256 of the whole file (required with final). */
  sha256: z.string().max(64).regex(/^[0-9a-f]{64}$/).optional(),
  total_bytes: z.number().int().min(1).optional(),
  lineage: z.object({ git_commit: z.string().max(64).optional(), dataset_sha256: z.string().max(64).regex(/^[0-9a-f]{64}$/).optional(), dataset_name: z.string().max(256).optional(), meta: z.record(z.string().max(64), z.string().max(1024)).optional() }).strict().optional(),
}).strict();
export const ModelPushResult = z.object({
  upload_id: z.string(),
  received_bytes: z.number().int(),
  /** Set once the final chunk committed the version. */
  model: ModelVersion.nullable(),
});

export const ModelListParams = z.object({ name: ModelName.optional() }).strict();
export const ModelListResult = z.object({ models: z.array(ModelVersion) });
export const ModelRefParams = z.object({ name: ModelName, version: Version.optional() }).strict();
export const ModelGetResult = z.object({ versions: z.array(ModelVersion) });
/** Dynamic batching of one loaded version (like Triton's): up to max_batch_size rows, waiting at most max_queue_delay_us. */
export const BatchingConfig = z.object({ max_batch_size: z.number().int().min(2).max(4096), max_queue_delay_us: z.number().int().min(0).max(1_000_000) }).strict();
/** model.load — optionally with batching (null turns it off; omitted: the node's default from models.batching). */
export const ModelLoadParams = z.object({ name: ModelName, version: Version.optional(), batching: BatchingConfig.nullable().optional() }).strict();
export const ModelLoadResult = z.object({ model: ModelVersion });
export const ModelRemoveResult = z.object({ removed: z.boolean() });

/** A tensor in JSON: flat data in row-major order (KServe v2 style). */
export const JsonTensor = z.object({
  name: TensorName,
  datatype: DatatypeName,
  shape: z.array(z.number().int().min(0)).max(16),
  data: z.array(z.union([z.number(), z.boolean(), z.string().max(1024 * 1024)])).max(16 * 1024 * 1024),
});
export type JsonTensor = z.infer<typeof JsonTensor>;

// The binary form of model.infer (header schemas and frame codec) is in binary-frame.ts.

/** model.infer — JSON tensors in, JSON tensors out; says which version answered. `id`: the caller's request id (labels
 * sent later with model.feedback join on it); the answer carries it, or one the agent generated. */
export const ModelInferParams = z.object({ name: ModelName, version: Version.optional(), id: InferRequestId.optional(), inputs: z.array(JsonTensor).min(1).max(64) }).strict();
/** `id` is always sent since protocol 1.5 (optional here for answers of older agents). */
export const ModelInferResult = z.object({ model_name: z.string(), model_version: z.string(), id: z.string().optional(), outputs: z.array(JsonTensor), timing_us: z.object({ queue: z.number(), compute: z.number() }) });

/** A traffic split: versions with weights (summing to 100). */
export const AliasTarget = z.object({ version: Version, weight: z.number().int().min(0).max(100) }).strict();
export type AliasTarget = z.infer<typeof AliasTarget>;
/** model.alias — route a name to one version or weighted versions; every target is loaded and warmed before the switch. */
export const ModelAliasParams = z.object({
  name: ModelName,
  targets: z.array(AliasTarget).min(1).max(8),
  reason: z.string().max(500).optional(),
  /** Also send a copy of every request routed by the alias to this version: its answers are compared with the served
   * ones and never returned (shadow rollouts). null or omitted: no shadow. Kept in memory (a restart clears it). */
  shadow: Version.nullable().optional(),
}).strict().superRefine((p, ctx) => {
  if (p.shadow && p.targets.some((t) => t.version === p.shadow && t.weight > 0)) ctx.addIssue({ code: 'custom', path: ['shadow'], message: 'the shadow version already serves traffic' });
  const sum = p.targets.reduce((a, t) => a + t.weight, 0);
  if (sum !== 100) ctx.addIssue({ code: 'custom', path: ['targets'], message: `weights must sum to 100 (got ${sum})` });
  if (new Set(p.targets.map((t) => t.version)).size !== p.targets.length) ctx.addIssue({ code: 'custom', path: ['targets'], message: 'a version appears twice' });
});
export const ModelAliasResult = z.object({ name: z.string(), targets: z.array(AliasTarget), updated_at: z.number(), shadow: z.string().nullable().optional() });
/** model.history — which version(s) served a name on this node, and when. */
export const ModelHistoryParams = z.object({ name: ModelName, limit: z.number().int().min(1).max(10_000).default(100) }).strict();
export const ModelHistoryResult = z.object({ events: z.array(z.object({ ts: z.number(), targets: z.array(AliasTarget), by: z.string(), reason: z.string().nullable() })) });
/** model.stats — per version: requests, errors, latency (queue and compute). */
export const ModelStatsParams = z.object({
  name: ModelName.optional(),
  /** Latency percentiles over the requests recorded at or after this time (ms since the epoch) only; counters stay cumulative. */
  since: z.number().int().nonnegative().optional(),
}).strict();
export const ModelStatsResult = z.object({ models: z.array(z.object({
  name: z.string(), version: z.string(), requests: z.number().int(), errors: z.number().int(), in_flight: z.number().int(),
  latency_us: z.object({ p50: z.number().nullable(), p95: z.number().nullable(), queue_p50: z.number().nullable(), compute_p50: z.number().nullable() }),
  /** Mean rows per session run (1 without batching). */
  avg_batch: z.number().nullable(),
  batching: BatchingConfig.nullable(),
  /** For a version receiving shadow copies: the version whose answers it is compared with, how many copies were
   * compared, and how many answers differed (beyond 1e-3, or another class for classifiers). */
  shadow: z.object({ of: z.string(), compared: z.number().int(), disagreements: z.number().int(), skipped: z.number().int() }).nullable().optional(),
})) });

/** The routing of one model name (topic `models`). */
export const ModelAlias = z.object({ name: z.string(), targets: z.array(AliasTarget), updated_at: z.number() });
export type ModelAlias = z.infer<typeof ModelAlias>;
/** Snapshot of the `models` topic: every version (as model.list) and the routing of every aliased name. */
export const ModelsSnapshot = z.object({ models: z.array(ModelVersion), aliases: z.array(ModelAlias) });
/** An event of the `models` topic: a version added or changed (pushed, loaded, unloaded), removed, or a name's new routing. */
export const ModelsEvent = z.union([
  z.object({ model: ModelVersion }),
  z.object({ removed: z.object({ name: z.string(), version: z.string() }) }),
  z.object({ alias: ModelAlias }),
]);
export type ModelsEvent = z.infer<typeof ModelsEvent>;
