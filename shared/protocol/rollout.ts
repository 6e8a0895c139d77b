import { z } from 'zod';

// Rollouts: a model version tested, then exposed across nodes by canary, rolling, all-at-once or shadow, judged
// against the version it replaces, and rolled back by itself when worse. Coordinated by the agent the client asked.

const ModelName = z.string().max(63).regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'model names are 1-63 of a-z 0-9 . _ - (starting with a letter or digit)');
const Version = z.string().max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/, 'versions are 1-63 of A-Z a-z 0-9 . _ + -');

export const RolloutStrategy = z.enum(['canary', 'rolling', 'all-at-once', 'shadow']);
export type RolloutStrategy = z.infer<typeof RolloutStrategy>;

/** A gate on one metric of the test set: accuracy and f1 (classifiers, higher is better), mae and rmse (regressors, lower is better). */
export const GateMetric = z.enum(['accuracy', 'f1', 'mae', 'rmse']);
export type GateMetric = z.infer<typeof GateMetric>;

/** A labelled test set, inline: rows of input features (in feature order) and one label per row. */
export const TestSet = z.object({
  name: z.string().max(256).optional(),
  rows: z.array(z.array(z.number().nullable()).max(4096)).min(1).max(50_000),
  labels: z.array(z.number()).min(1).max(50_000),
}).strict().refine((t) => t.rows.length === t.labels.length, { message: 'rows and labels differ in length', path: ['labels'] });
export type TestSet = z.infer<typeof TestSet>;

/** Id of a test set staged by rollout.uploadTestSet. */
const TestSetId = z.string().max(64).regex(/^ts_[0-9a-f]{1,60}$/, 'a test set id from rollout.uploadTestSet (ts_…)');

/**
 * rollout.uploadTestSet — stage a test set too large for one frame: the JSON of a TestSet ({name?, rows, labels}) as
 * bytes, in chunks in order (the first without upload_id; base64, ≤ 384 KiB decoded each), the last with `final` and
 * the sha256 of all bytes. The final chunk checks the digest and the TestSet schema; the answer's `test_set.id` is
 * then given to rollout.start (gate.test_set_id) or model.evaluate (test_set_id). Staged sets are held in memory by
 * the uploading token until used, or 10 minutes idle.
 */
export const TestSetUploadParams = z.object({
  upload_id: TestSetId.optional(),
  offset: z.number().int().min(0),
  data_b64: z.string().max(512 * 1024),
  final: z.boolean().default(false),
  /** sha256 (hex) of every byte of the upload: required with final. */
  sha256: z.string().max(64).regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lowercase hex digits').optional(),
}).strict().superRefine((p, ctx) => {
  if (p.final && !p.sha256) ctx.addIssue({ code: 'custom', path: ['sha256'], message: 'the final chunk needs the sha256 of the whole upload' });
});
export const TestSetUploadResult = z.object({
  upload_id: z.string(),
  received_bytes: z.number().int(),
  /** Set once the final chunk was checked: the id to reference, its name and row count. */
  test_set: z.object({ id: z.string(), name: z.string().nullable(), rows: z.number().int() }).nullable(),
});

/** The test gate: the candidate must pass `metric op value` and not be worse than the current version by more than max_regression. */
export const GateSpec = z.object({
  /** The test set inline (it must fit in one frame with the rest of the params) … */
  test_set: TestSet.optional(),
  /** … or staged by rollout.uploadTestSet (since 1.7): one of the two. */
  test_set_id: TestSetId.optional(),
  metric: GateMetric,
  /** Absolute bound: metric >= min for accuracy/f1, metric <= max for mae/rmse. */
  bound: z.number(),
  max_regression: z.number().min(0).default(0.01),
}).strict().refine((g) => (g.test_set === undefined) !== (g.test_set_id === undefined), { message: 'give the test set inline (test_set) or staged (test_set_id), one of the two', path: ['test_set'] });
export type GateSpec = z.infer<typeof GateSpec>;

/** Thresholds of the analysis after each step (candidate vs the stable version serving at the same time). */
export const AnalysisSpec = z.object({
  max_error_rate: z.number().min(0).max(1).default(0.01),
  max_p95_ratio: z.number().min(1).default(1.5),
  /** Largest drift score (normalised distance or PSI-like, see docs/rollouts.md) of the candidate's inputs or outputs vs the stable version's. */
  max_drift: z.number().min(0).default(0.2),
  /** Requests the candidate must serve in a step before it is judged. */
  min_requests: z.number().int().min(1).default(100),
  /** Extra step durations to wait for min_requests before pausing for a human. */
  max_waits: z.number().int().min(0).max(100).default(3),
}).strict();
export type AnalysisSpec = z.infer<typeof AnalysisSpec>;

/** rollout.start */
export const RolloutStartParams = z.object({
  name: ModelName,
  to: Version,
  /** The version being replaced; default: what each node serves now (its alias's main target, else its newest other version). */
  from: Version.optional(),
  /** Node names (as in the coordinator's peers config, or its own name); default: the coordinator alone. */
  nodes: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
  strategy: RolloutStrategy.default('canary'),
  /** Candidate traffic % per step (canary), ending at 100. */
  steps: z.array(z.number().int().min(1).max(100)).min(1).max(20).default([10, 50, 100]),
  step_duration_s: z.number().min(1).max(7 * 86_400).default(300),
  /** Nodes switched at once (rolling). */
  max_unavailable: z.number().int().min(1).default(1),
  gate: GateSpec.optional(),
  analysis: AnalysisSpec.prefault({}),
  /** Plan only: nothing changes. */
  dry_run: z.boolean().default(false),
  reason: z.string().max(500).optional(),
}).strict().superRefine((p, ctx) => {
  for (let i = 1; i < p.steps.length; i++) if (p.steps[i] <= p.steps[i - 1]) ctx.addIssue({ code: 'custom', path: ['steps'], message: 'steps must increase' });
  if (p.strategy === 'canary' && p.steps[p.steps.length - 1] !== 100) ctx.addIssue({ code: 'custom', path: ['steps'], message: 'the last canary step must be 100' });
  if (p.from && p.from === p.to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'from and to are the same version' });
});
export type RolloutStartParams = z.input<typeof RolloutStartParams>;

/** Figures of one analysis: candidate vs stable over one step's window on one node (null: not measurable). */
export const AnalysisFigures = z.object({
  node: z.string().max(128),
  candidate_requests: z.number().int(),
  stable_requests: z.number().int(),
  candidate_error_rate: z.number().nullable(),
  stable_error_rate: z.number().nullable(),
  candidate_p95_us: z.number().nullable(),
  stable_p95_us: z.number().nullable(),
  p95_ratio: z.number().nullable(),
  input_drift: z.number().nullable(),
  output_drift: z.number().nullable(),
  /** Shadow: share of requests where the candidate's answer differed from the stable one. */
  disagreement: z.number().nullable().optional(),
});
export type AnalysisFigures = z.infer<typeof AnalysisFigures>;

/** Planned steps: per step, the candidate weight on each node. */
export const RolloutPlanStep = z.object({ index: z.number().int(), weights: z.record(z.string().max(128), z.number()), note: z.string().max(1024) });
export type RolloutPlanStep = z.infer<typeof RolloutPlanStep>;

/** model.evaluate — run a version on a labelled test set (outside traffic) and score it. */
export const ModelEvaluateParams = z.object({
  name: ModelName, version: Version.optional(),
  /** The test set inline, or staged by rollout.uploadTestSet (test_set_id, since 1.7): one of the two. */
  test_set: TestSet.optional(),
  test_set_id: TestSetId.optional(),
  /** With test_set_id: drop the staged set after this evaluation (the last one that needs it). */
  release_test_set: z.boolean().default(false),
}).strict().refine((p) => (p.test_set === undefined) !== (p.test_set_id === undefined), { message: 'give test_set or test_set_id, one of the two', path: ['test_set'] });
export const ModelEvaluateResult = z.object({
  name: z.string().max(63), version: z.string().max(63), rows: z.number().int(),
  task: z.enum(['classification', 'regression']),
  accuracy: z.number().nullable(), f1: z.number().nullable(), mae: z.number().nullable(), rmse: z.number().nullable(),
});
export type ModelEvaluateResult = z.infer<typeof ModelEvaluateResult>;

/** Figures of a plan decision: the steps and the warnings found when planning. */
export const PlanFigures = z.object({ plan: z.array(RolloutPlanStep).max(256), warnings: z.array(z.string().max(4096)).max(1024) });
/** Figures of a step decision: the candidate weight on each node for the step that starts. */
export const StepFigures = z.object({ weights: z.record(z.string().max(128), z.number()) });
/**
 * Figures of a gate decision, on the node that scored the test set: the gate's metric for the candidate and the current
 * version (null: not a number, or no current version), the gate, and every metric of both evaluations.
 */
export const GateFigures = z.object({
  node: z.string().max(128),
  rows: z.number().int(),
  metric: GateMetric,
  candidate: z.number().nullable(),
  current: z.number().nullable(),
  bound: z.number(),
  max_regression: z.number(),
  candidate_all: ModelEvaluateResult,
  current_all: ModelEvaluateResult.nullable(),
});
export type GateFigures = z.infer<typeof GateFigures>;

const decisionBase = {
  ts: z.number(),
  /** Index of the step it was taken at (-1: before the first step). */
  step: z.number().int(),
  outcome: z.enum(['ok', 'pass', 'fail', 'wait', 'info']),
  reason: z.string().max(65_536),
  by: z.string().max(256),
};
/** Decision kinds that carry the per-node analysis figures (a rollback or a pause after an analysis repeats them). */
export const ANALYSIS_DECISION_KINDS = ['analysis', 'wait', 'pause', 'rollback'] as const;

/**
 * A decision of the coordinator, with why and the figures it used; the figures' shape follows the kind:
 * plan → PlanFigures (absent on a dry run), gate → GateFigures (absent when the test set is missing), step →
 * StepFigures, analysis and wait → AnalysisFigures per node, pause and rollback → AnalysisFigures per node when an
 * analysis caused them, every other kind → none.
 */
export const RolloutDecision = z.discriminatedUnion('kind', [
  z.object({ ...decisionBase, kind: z.literal('plan'), figures: PlanFigures.optional() }),
  z.object({ ...decisionBase, kind: z.literal('gate'), figures: GateFigures.optional() }),
  z.object({ ...decisionBase, kind: z.literal('step'), figures: StepFigures.optional() }),
  z.object({ ...decisionBase, kind: z.enum(['analysis', 'wait']), figures: z.array(AnalysisFigures).max(256) }),
  z.object({ ...decisionBase, kind: z.enum(['pause', 'rollback']), figures: z.array(AnalysisFigures).max(256).optional() }),
  z.object({ ...decisionBase, kind: z.enum(['resume', 'promote', 'abort', 'done', 'error']) }),
]);
export type RolloutDecision = z.infer<typeof RolloutDecision>;
/** Every decision kind. */
export type RolloutDecisionKind = RolloutDecision['kind'];

/**
 * One pre-flight check of a node, done when the rollout was planned: host memory and GPU memory for loading the
 * candidate next to the stable version, and the stable version loaded (the canary split needs it serving).
 * skipped: the check does not apply (e.g. no GPU, or the CPU provider), `detail` says why.
 */
export const PreflightCheck = z.object({
  node: z.string().max(128),
  check: z.enum(['host_memory', 'gpu_memory', 'stable_loaded']),
  outcome: z.enum(['pass', 'fail', 'skipped', 'loaded', 'would_load']),
  detail: z.string().max(4096),
  /** Memory figures (bytes) of a memory check: free and the estimated need. */
  free_bytes: z.number().nullable().optional(),
  need_bytes: z.number().nullable().optional(),
});
export type PreflightCheck = z.infer<typeof PreflightCheck>;

/** A node's part in a rollout. */
export const RolloutNode = z.object({
  name: z.string().max(128),
  url: z.string().max(2048),
  /** The version it served before (restored on rollback). */
  stable: z.string().max(63).nullable(),
  /** The alias targets before the rollout touched it (null: it had none). */
  previous_targets: z.array(z.object({ version: z.string().max(63), weight: z.number() })).max(64).nullable(),
  /** Candidate traffic % now. */
  weight: z.number(),
  state: z.enum(['pending', 'warming', 'serving', 'done', 'rolled_back', 'unreachable', 'skipped']),
  touched: z.boolean(),
  error: z.string().max(4096).nullable(),
});
export type RolloutNode = z.infer<typeof RolloutNode>;

/**
 * The start params as the coordinator stores them: every default applied (once, by RolloutStartParams), and the gate's
 * test set replaced by its name and row count (the rows are stored apart from the document, which is rewritten on
 * every change).
 */
export const StoredRolloutSpec = z.object({
  name: z.string().max(63),
  to: z.string().max(63),
  from: z.string().max(63).optional(),
  nodes: z.array(z.string().max(128)).max(256).optional(),
  strategy: RolloutStrategy,
  steps: z.array(z.number().int()).max(20),
  step_duration_s: z.number(),
  max_unavailable: z.number().int(),
  gate: z.object({
    test_set: z.object({ name: z.string().max(256).nullable(), rows: z.number().int() }),
    metric: GateMetric,
    bound: z.number(),
    max_regression: z.number(),
  }).optional(),
  analysis: z.object({
    max_error_rate: z.number(), max_p95_ratio: z.number(), max_drift: z.number(), min_requests: z.number().int(), max_waits: z.number().int(),
  }),
  dry_run: z.boolean(),
  reason: z.string().max(500).optional(),
});
export type StoredRolloutSpec = z.infer<typeof StoredRolloutSpec>;

/** States of a rollout (see the diagram in agent/rollout/coordinator.ts). */
export const RolloutState = z.enum(['planned', 'gating', 'running', 'paused', 'rolling_back', 'aborting', 'promoted', 'completed', 'rolled_back', 'aborted', 'failed']);
export type RolloutState = z.infer<typeof RolloutState>;

/** States after which a rollout never changes again (completed: a shadow test passed). */
export const ROLLOUT_TERMINAL_STATES: readonly RolloutState[] = ['promoted', 'completed', 'rolled_back', 'aborted', 'failed'];

/** True when the rollout (or state) is over: promoted, completed, rolled back, aborted or failed. */
export const isTerminalRollout = (r: Pick<Rollout, 'state'> | RolloutState): boolean =>
  ROLLOUT_TERMINAL_STATES.includes(typeof r === 'string' ? r : r.state);

/** Hand actions on a rollout (the CLI's and TUI's pause, resume, promote, abort). */
export type RolloutOp = 'pause' | 'resume' | 'promote' | 'abort';

/** True when the rollout's test gate passed, or it has none (a candidate is promoted only then). */
export const rolloutGatePassed = (r: Pick<Rollout, 'spec' | 'decisions'>): boolean =>
  !r.spec.gate || r.decisions.some((d) => d.kind === 'gate' && d.outcome === 'pass');

/**
 * Whether the coordinator takes a hand action in the rollout's state: pause while running or gating, resume while
 * paused, promote while running or paused once the gate passed, abort until it is restoring or over. The coordinator
 * refuses the rest (CONFLICT); the TUI offers only these.
 */
export function rolloutAllows(r: Pick<Rollout, 'state' | 'spec' | 'decisions'>, op: RolloutOp): boolean {
  switch (op) {
    case 'pause': return r.state === 'running' || r.state === 'gating';
    case 'resume': return r.state === 'paused';
    case 'promote': return (r.state === 'running' || r.state === 'paused') && rolloutGatePassed(r);
    case 'abort': return !isTerminalRollout(r) && r.state !== 'aborting' && r.state !== 'rolling_back';
  }
}

/** A rollout as stored by its coordinator. */
export const Rollout = z.object({
  id: z.string().max(64),
  name: z.string().max(63),
  to: z.string().max(63),
  from: z.string().max(63).nullable(),
  strategy: RolloutStrategy,
  /** completed: a shadow test passed (traffic never moved). rolling_back / aborting: restoring the previous routing
   * (retried until every node the rollout changed is restored). planned: a dry run's answer (never stored). */
  state: RolloutState,
  /** Index into plan of the current step. */
  step: z.number().int(),
  plan: z.array(RolloutPlanStep).max(256),
  /** When the current step's traffic started (ms). */
  step_started_at: z.number().nullable(),
  waits: z.number().int(),
  nodes: z.array(RolloutNode).max(256),
  spec: StoredRolloutSpec,
  decisions: z.array(RolloutDecision).max(100_000),
  reason: z.string().max(500).nullable(),
  created_at: z.number(),
  updated_at: z.number(),
  created_by: z.string().max(256),
  /** Role of the token that started it (audit rows of its decisions say so). */
  created_by_role: z.string().max(32).optional(),
  /** Warnings found when planning (e.g. memory). */
  warnings: z.array(z.string().max(4096)).max(1024),
  /** The pre-flight checks of every node (since 1.7; absent in older documents). */
  preflight: z.array(PreflightCheck).max(4096).optional(),
});
export type Rollout = z.infer<typeof Rollout>;

export const RolloutStartResult = z.object({ rollout: Rollout });
export const RolloutIdParams = z.object({ id: z.string().min(1).max(64), reason: z.string().max(500).optional() }).strict();
export const RolloutGetResult = z.object({ rollout: Rollout });
export const RolloutListParams = z.object({ name: ModelName.optional(), limit: z.number().int().min(1).max(1000).default(50) }).strict();
export const RolloutListResult = z.object({ rollouts: z.array(Rollout) });

/** Event data of the rollout.events topic: the rollout after each change. */
export const RolloutEvent = z.object({ rollout: Rollout });

// ---------------------------------------------------------------- node-side primitives the coordinator uses

/** drift.compare — drift of one version's traffic vs another's over the same recent window on this node. */
export const DriftCompareParams = z.object({ name: ModelName, a: Version, b: Version, since: z.number(),
  /** Window start for b when it differs (e.g. b's traffic before the node switched). */
  b_since: z.number().optional(), b_until: z.number().optional() }).strict();
export const DriftCompareResult = z.object({
  rows_a: z.number().int(), rows_b: z.number().int(),
  /** Largest normalised score over the input features / the predictions (null: too few rows). */
  input_drift: z.number().nullable(), output_drift: z.number().nullable(),
  features: z.array(z.object({ name: z.string().max(256), role: z.enum(['input', 'prediction']), method: z.string().max(64), score: z.number().nullable() })),
});
