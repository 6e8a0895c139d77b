import { z } from 'zod';
import * as node from './node.js';
import * as auth from './auth.js';
import * as sub from './subscribe.js';
import * as jobs from './jobs.js';
import * as models from './models.js';
import * as drift from './drift.js';
import * as rollout from './rollout.js';
import * as binary from './binary-frame.js';
import * as feedback from './feedback.js';
import * as auto from './automation.js';
import type { Role } from './auth.js';

/** A method as declared once for both sides: schemas, role, and whether it mutates (then it is audited). */
export interface MethodSpec<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: P;
  result: R;
  role: Role;
  mutates: boolean;
  description: string;
  /** For a method that reads or writes depending on its params: when this returns true for the parsed params the call
   * needs `writeRole` and is audited as a mutation. */
  isWrite?: (params: z.infer<P>) => boolean;
  writeRole?: Role;
  /** The method's binary form (binary WebSocket frames, see binary-frame.ts; HTTP v2 uses it too): params and result
   * headers whose tensor bytes travel raw beside them. The dispatcher validates `binary.params` like `params`. */
  binary?: { params: z.ZodType; result: z.ZodType };
}
function m<P extends z.ZodType, R extends z.ZodType>(s: MethodSpec<P, R>): MethodSpec<P, R> { return s; }
/** A method with a binary form (its binary schemas stay in the type, so the dispatcher's binary handlers are typed). */
function mb<P extends z.ZodType, R extends z.ZodType, BP extends z.ZodType, BR extends z.ZodType>(s: MethodSpec<P, R> & { binary: { params: BP; result: BR } }): MethodSpec<P, R> & { binary: { params: BP; result: BR } } { return s; }

/** Every JSON-RPC method of the agent. The single source of truth: the agent validates with it,
 * the client is typed by it, docs/api.md is generated from it. */
export const methods = {
  'auth.whoami': m({ params: auth.WhoamiParams, result: auth.WhoamiResult, role: 'read', mutates: false,
    description: 'The token name and role behind this connection.' }),
  'token.create': m({ params: auth.TokenCreateParams, result: auth.TokenCreateResult, role: 'admin', mutates: true,
    description: 'Create a token with a role; the secret is returned once (only its hash is stored).' }),
  'token.list': m({ params: auth.TokenListParams, result: auth.TokenListResult, role: 'admin', mutates: false,
    description: 'List tokens (names, roles, times; never secrets).' }),
  'token.revoke': m({ params: auth.TokenRevokeParams, result: auth.TokenRevokeResult, role: 'admin', mutates: true,
    description: 'Revoke a token by name or id; new connections with it are refused.' }),
  'node.info': m({ params: node.NodeInfoParams, result: node.NodeInfoResult, role: 'read', mutates: false,
    description: 'Identity, labels, static host facts, GPU source and telemetry settings of the agent.' }),
  'node.stats': m({ params: node.NodeStatsParams, result: node.NodeStatsResult, role: 'read', mutates: false,
    description: 'The latest telemetry sample (host and GPUs).' }),
  'node.history': m({ params: node.NodeHistoryParams, result: node.NodeHistoryResult, role: 'read', mutates: false,
    description: 'Ring-buffered history per metric (default 15 min at 1 Hz), for sparklines.' }),
  'job.submit': m({ params: jobs.JobSubmitParams, result: jobs.JobSubmitResult, role: 'operate', mutates: true,
    description: 'Queue a job on this node. Refused at once (INVALID_PARAMS / CONFLICT) when it can never run here: more GPUs than the node has, unknown image, mount outside the allowed paths, driver unavailable.' }),
  'job.list': m({ params: jobs.JobListParams, result: jobs.JobListResult, role: 'read', mutates: false,
    description: 'Jobs of this node, newest first, filtered by state and labels.' }),
  'job.get': m({ params: jobs.JobIdParams, result: jobs.JobGetResult, role: 'read', mutates: false,
    description: 'One job with its spec, state history, assigned GPUs and exit reason.' }),
  'job.cancel': m({ params: jobs.JobCancelParams, result: jobs.JobCancelResult, role: 'operate', mutates: true,
    description: 'Cancel a queued or running job (SIGTERM, then SIGKILL after stop_grace_s). Cancelling a finished job is a no-op that returns it.' }),
  'job.remove': m({ params: jobs.JobIdParams, result: jobs.JobRemoveResult, role: 'operate', mutates: true,
    description: 'Remove a finished job and its logs (CONFLICT while it is queued or running).' }),
  'job.logs': m({ params: jobs.JobLogsParams, result: jobs.JobLogsResult, role: 'read', mutates: false,
    description: 'Stored output of a job (stdout, stderr and system lines), oldest first; kept until the job is removed. For live output subscribe to job.logs.' }),
  'node.resources': m({ params: jobs.NodeResourcesParams, result: jobs.NodeResourcesResult, role: 'read', mutates: false,
    description: 'GPUs (free, held by a job, busy with foreign processes), CPU and memory capacity and what is free, queue length and drivers: what placement needs.' }),
  'model.push': m({ params: models.ModelPushParams, result: models.ModelPushResult, role: 'operate', mutates: true,
    description: 'Upload a model version in chunks (base64, ≤ 512 KiB each). The final chunk checks the sha256 and that the file is a loadable ONNX model, then commits an immutable, content-addressed version with its signature and lineage. A refused or interrupted upload leaves nothing behind.' }),
  'model.list': m({ params: models.ModelListParams, result: models.ModelListResult, role: 'read', mutates: false,
    description: 'Model versions on this node (optionally of one name), newest first, with signature, lineage and whether loaded.' }),
  'model.get': m({ params: models.ModelRefParams, result: models.ModelGetResult, role: 'read', mutates: false,
    description: 'The versions of one model (or one version).' }),
  'model.load': m({ params: models.ModelLoadParams, result: models.ModelLoadResult, role: 'operate', mutates: true,
    description: 'Load a version (latest when omitted) into worker-thread sessions and warm it up; optionally set its dynamic batching.' }),
  'model.unload': m({ params: models.ModelRefParams, result: models.ModelLoadResult, role: 'operate', mutates: true,
    description: 'Unload a version; other models are not disturbed.' }),
  'model.remove': m({ params: models.ModelRefParams, result: models.ModelRemoveResult, role: 'operate', mutates: true,
    description: 'Remove a version (unloading it first); the artifact is deleted when no version uses it.' }),
  'model.infer': mb({ params: models.ModelInferParams, result: models.ModelInferResult, role: 'read', mutates: false,
    binary: { params: binary.BinaryInferParams, result: binary.BinaryInferResult },
    description: 'Run inference with JSON tensors (KServe v2 style); loads the version on first use; the answer says which version served it. Binary form: tensors as raw bytes in a binary frame (shared/protocol/binary-frame.ts).' }),
  'model.alias': m({ params: models.ModelAliasParams, result: models.ModelAliasResult, role: 'operate', mutates: true,
    description: 'Route a model name to one version or a weighted split (e.g. 90/10); targets are loaded and warmed before traffic switches. Each change is an audit row and a history event.' }),
  'model.history': m({ params: models.ModelHistoryParams, result: models.ModelHistoryResult, role: 'read', mutates: false,
    description: 'Timeline of the routing of a name on this node: which versions served, from when, who changed it and why.' }),
  'model.stats': m({ params: models.ModelStatsParams, result: models.ModelStatsResult, role: 'read', mutates: false,
    description: 'Requests, errors and in-flight per model version since the agent started, and latency percentiles (total, queue, compute) over its last 2048 requests; with `since` (ms epoch) the percentiles cover only the requests recorded at or after it (null when none), the counters stay cumulative.' }),
  'model.feedback': m({ params: feedback.ModelFeedbackParams, result: feedback.ModelFeedbackResult, role: 'operate', mutates: true,
    description: 'Attach true labels to past requests by request id (≤ 10 000 per call), even hours later: each is joined with the prediction kept for that id (docs/feedback.md: what is kept, bounds, expiry). An id the agent does not keep (never sampled, evicted, expired) is counted as unknown, never an error; an id already labelled keeps its first label.' }),
  'model.performance': m({ params: feedback.ModelPerformanceParams, result: feedback.ModelPerformanceResult, role: 'read', mutates: false,
    description: 'Live performance per version over the labelled requests made in a window (default 1h): accuracy and macro F1 for classifiers, MAE and RMSE for regressors (as model.evaluate scores), with the labelled and kept request counts.' }),
  'drift.report': m({ params: drift.DriftReportParams, result: drift.DriftReportResult, role: 'read', mutates: false,
    description: 'Drift of one model version (newest when omitted) over a window (default 1h) vs its reference: per feature the method, score, threshold, status, PSI, missing values and data-quality flags; the drift share, dataset and prediction drift, and the active alert. `histograms` adds reference vs current shares per bin.' }),
  'drift.history': m({ params: drift.DriftHistoryParams, result: drift.DriftHistoryResult, role: 'read', mutates: false,
    description: 'Scores of every closed window (oldest first, as judged when it closed) and the alerts of a model version.' }),
  'drift.setReference': m({ params: drift.DriftSetReferenceParams, result: drift.DriftSetReferenceResult, role: 'operate', mutates: true,
    description: 'Set the reference of a version: a CSV (header) or JSON-lines dataset sent in chunks (columns matched to features by name, else by position), or `from_traffic: N` to build it from the next N requests. Replaces the previous reference; windows are judged against the new one from then on.' }),
  'drift.config': m({ params: drift.DriftConfigParams, result: drift.DriftConfigResult, role: 'read', mutates: false, isWrite: (p) => p.set !== undefined, writeRole: 'operate',
    description: 'The drift settings of a model: its overrides and the effective values. With `set` (operate role, audited) replaces the overrides (methods, thresholds, drift share, alert_after, per-feature method/threshold/type/ignore); `set: null` restores the node defaults.' }),
  'drift.compare': m({ params: rollout.DriftCompareParams, result: rollout.DriftCompareResult, role: 'read', mutates: false,
    description: 'Drift between the traffic two versions of a model served on this node since a time (rollout analysis): per feature the normalised Wasserstein distance (numeric) or Jensen–Shannon distance (categorical) of `a` against `b`, and the largest over inputs and over predictions.' }),
  'model.evaluate': m({ params: rollout.ModelEvaluateParams, result: rollout.ModelEvaluateResult, role: 'operate', mutates: false,
    description: 'Run a version on a labelled test set outside traffic (no statistics, no capture) and score it: accuracy and macro F1 for classifiers (an output [batch, C>1] is argmax), MAE and RMSE for regressors.' }),
  'rollout.uploadTestSet': m({ params: rollout.TestSetUploadParams, result: rollout.TestSetUploadResult, role: 'operate', mutates: true,
    description: 'Stage a test set too large for one frame, in chunks (base64 of its JSON, ≤ 384 KiB each, the last with final and the sha256 of all bytes): the answer\'s test_set.id goes into rollout.start (gate.test_set_id) or model.evaluate (test_set_id). Held in memory by the uploading token until used or 10 minutes idle; unfinished and staged sets count against uploads.max_per_token and uploads.max_total.' }),
  'rollout.start': m({ params: rollout.RolloutStartParams, result: rollout.RolloutStartResult, role: 'operate', mutates: true,
    description: 'Start a rollout coordinated by this agent: test gate, then canary steps (alias weights), rolling waves, all at once, or shadow traffic, each step analysed against the stable version, with automatic rollback. `dry_run` returns the plan and changes nothing. Other nodes are driven through their API with the cluster token of this agent\'s peers config.' }),
  'rollout.get': m({ params: rollout.RolloutIdParams, result: rollout.RolloutGetResult, role: 'read', mutates: false,
    description: 'One rollout: plan, current step, each node\'s state, every decision with its figures and reason.' }),
  'rollout.list': m({ params: rollout.RolloutListParams, result: rollout.RolloutListResult, role: 'read', mutates: false,
    description: 'Rollouts coordinated by this agent, newest first.' }),
  'rollout.pause': m({ params: rollout.RolloutIdParams, result: rollout.RolloutGetResult, role: 'operate', mutates: true,
    description: 'Hold a running rollout at its current step (traffic stays as it is).' }),
  'rollout.resume': m({ params: rollout.RolloutIdParams, result: rollout.RolloutGetResult, role: 'operate', mutates: true,
    description: 'Continue a paused rollout: the current step is analysed again from now.' }),
  'rollout.promote': m({ params: rollout.RolloutIdParams, result: rollout.RolloutGetResult, role: 'operate', mutates: true,
    description: 'Skip the remaining steps: every target node serves the candidate at 100 %.' }),
  'rollout.abort': m({ params: rollout.RolloutIdParams, result: rollout.RolloutGetResult, role: 'operate', mutates: true,
    description: 'Stop a rollout and restore the previous routing on every node it changed.' }),
  'auto.create': m({ params: auto.AutoCreateParams, result: auto.AutoResult, role: 'operate', mutates: true,
    description: 'Create an automation of a model: a trigger (drift, performance, schedule, manual), a retraining job, a test gate, a rollout, a cooldown and a cap on runs per window (docs/automations.md). CONFLICT when the name exists.' }),
  'auto.list': m({ params: auto.AutoListParams, result: auto.AutoListResult, role: 'read', mutates: false,
    description: 'Automations of this node (optionally of one model).' }),
  'auto.get': m({ params: auto.AutoNameParams, result: auto.AutoGetResult, role: 'read', mutates: false,
    description: 'One automation and its newest 20 runs.' }),
  'auto.pause': m({ params: auto.AutoNameParams, result: auto.AutoResult, role: 'operate', mutates: true,
    description: 'Pause an automation: triggers are recorded as suppressed; a run in flight goes on.' }),
  'auto.resume': m({ params: auto.AutoNameParams, result: auto.AutoResult, role: 'operate', mutates: true,
    description: 'Resume a paused automation.' }),
  'auto.run': m({ params: auto.AutoRunParams, result: auto.AutoRunResult, role: 'operate', mutates: true,
    description: 'Trigger a run by hand. It goes through the storm guards except the cooldown and de-duplication: the answer is the run, queued or suppressed with the reason.' }),
  'auto.remove': m({ params: auto.AutoNameParams, result: auto.AutoRemoveResult, role: 'operate', mutates: true,
    description: 'Remove an automation and its run history (CONFLICT while one of its runs is in flight).' }),
  'auto.history': m({ params: auto.AutoHistoryParams, result: auto.AutoHistoryResult, role: 'read', mutates: false,
    description: 'Runs (of one automation, or one run by id), newest first, suppressed triggers included, each with its step history and reason.' }),
  'subscribe': m({ params: sub.SubscribeParams, result: sub.SubscribeResult, role: 'read', mutates: false,
    description: 'Subscribe to a topic: answers {subscriptionId, snapshot}; events follow as `subscription` notifications {subscriptionId, seq, data}. The topic may need a higher role.' }),
  'unsubscribe': m({ params: sub.UnsubscribeParams, result: sub.UnsubscribeResult, role: 'read', mutates: false,
    description: 'End a subscription. Closing the socket ends all of its subscriptions.' }),
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = z.input<Methods[M]['params']>;
export type ResultOf<M extends MethodName> = z.infer<Methods[M]['result']>;
/** Methods with a binary form. */
export type BinaryMethodName = { [M in MethodName]: Methods[M] extends { binary: { params: z.ZodType } } ? M : never }[MethodName];
/** Validated params of a method's binary form. */
export type BinaryParamsOf<M extends BinaryMethodName> = Methods[M] extends { binary: { params: infer P extends z.ZodType } } ? z.infer<P> : never;
/** Result header of a method's binary form. */
export type BinaryResultOf<M extends BinaryMethodName> = Methods[M] extends { binary: { result: infer R extends z.ZodType } } ? z.infer<R> : never;
