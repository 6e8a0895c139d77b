import { z } from 'zod';
import { ModelName, VersionName } from './names.js';
import { JobSpec } from './jobs.js';
import { AnalysisSpec, GateMetric, RolloutStrategy } from './rollout.js';

// Automations: the closed loop of a model. A trigger (drift alert, a ground-truth metric below a bound, a cron
// schedule, or a hand `auto.run`) starts a run; a run retrains (a job), registers the job's model as a new version
// with lineage, gates it on a held-out labelled set and rolls it out (canary, …) with automatic rollback.
//
// Run state machine (each step persisted before its effect; see agent/automation/runner.ts):
//   queued → training → registering → gating → rolling_out → succeeded
//                  ↘ failed       ↘ failed   ↘ failed    ↘ rolled_back | failed
//   suppressed      (a trigger a storm guard refused: never ran; the reason says which guard)

/** An automation's name: 1-63 of a-z 0-9 . _ - (starting with a letter or digit). */
export const AutomationName = z.string().max(63).regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'automation names are 1-63 of a-z 0-9 . _ - (starting with a letter or digit)');
/** An absolute path on the agent's node. */
const AgentPath = z.string().min(1).max(4096).regex(/^\//, 'an absolute path on the agent\'s node');

/** Comparison of a performance trigger: fires when `metric op bound` holds. */
export const CompareOp = z.enum(['<', '<=', '>', '>=']);
export type CompareOp = z.infer<typeof CompareOp>;

/** What starts a run. */
export const AutoTrigger = z.discriminatedUnion('kind', [
  /** A drift alert raised on the model (any version). */
  z.object({ kind: z.literal('drift') }).strict(),
  /** The ground-truth metric of the serving version over the last window_s, once min_labelled rows are joined. */
  z.object({ kind: z.literal('performance'), metric: GateMetric, op: CompareOp.default('<'), bound: z.number(),
    window_s: z.number().int().min(60).max(30 * 86_400).default(3600), min_labelled: z.number().int().min(1).max(1_000_000).default(50) }).strict(),
  /** A 5-field cron expression (minute hour day-of-month month day-of-week), in UTC. */
  z.object({ kind: z.literal('schedule'), cron: z.string().min(9).max(128) }).strict(),
  /** Only `auto.run`. */
  z.object({ kind: z.literal('manual') }).strict(),
]);
export type AutoTrigger = z.infer<typeof AutoTrigger>;

/** The test gate of a run: the candidate must pass `metric ≥/≤ bound` and not be worse than the parent by more than max_regression. */
export const AutoGate = z.object({
  metric: GateMetric,
  bound: z.number(),
  max_regression: z.number().min(0).default(0.01),
  /** feedback: the newest joined ground truth (held out from training); file: a CSV (header, a `label` column or the last one). */
  test_set: z.union([z.literal('feedback'), z.object({ file: AgentPath }).strict()]).default('feedback'),
}).strict();
export type AutoGate = z.infer<typeof AutoGate>;

/** The rollout of a run's candidate (rollout.start's fields). */
export const AutoRollout = z.object({
  strategy: RolloutStrategy.default('canary'),
  steps: z.array(z.number().int().min(1).max(100)).min(1).max(20).default([10, 50, 100]),
  step_duration_s: z.number().min(1).max(7 * 86_400).default(300),
  max_unavailable: z.number().int().min(1).max(256).default(1),
  analysis: AnalysisSpec.prefault({}),
}).strict();
export type AutoRollout = z.infer<typeof AutoRollout>;

/** auto.create — what an automation is. */
export const AutomationSpec = z.object({
  name: AutomationName,
  model: ModelName,
  trigger: AutoTrigger,
  /** The retraining job (a process or container job spec); the agent adds the FLEETML_* environment (docs/automations.md). */
  job: JobSpec,
  /** Training data when no labelled feedback is available: a CSV on the agent's node, copied into each run. */
  data: z.object({ file: AgentPath }).strict().optional(),
  /** No gate: the candidate goes straight to its rollout (whose analysis still rolls a bad one back). */
  gate: AutoGate.optional(),
  rollout: AutoRollout.prefault({}),
  /** After a run ends, triggers are suppressed for this long (default 6 h). */
  cooldown_s: z.number().int().min(0).max(30 * 86_400).default(21_600),
  /** At most `count` runs per `window_s` (default 3 per 24 h). */
  max_runs: z.object({ count: z.number().int().min(1).max(1000), window_s: z.number().int().min(60).max(365 * 86_400) }).strict().default({ count: 3, window_s: 86_400 }),
  /** Nodes the rollout targets (names of this agent's peers config, or its own); default: this node. */
  nodes: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
}).strict().superRefine((s, ctx) => {
  const st = s.rollout.steps;
  for (let i = 1; i < st.length; i++) if (st[i] <= st[i - 1]) ctx.addIssue({ code: 'custom', path: ['rollout', 'steps'], message: 'steps must increase' });
  if (s.rollout.strategy === 'canary' && st[st.length - 1] !== 100) ctx.addIssue({ code: 'custom', path: ['rollout', 'steps'], message: 'the last canary step must be 100' });
  if (s.rollout.strategy === 'shadow') ctx.addIssue({ code: 'custom', path: ['rollout', 'strategy'], message: 'a shadow rollout never promotes: an automation needs canary, rolling or all-at-once' });
  if (s.job.restart.policy !== 'never') ctx.addIssue({ code: 'custom', path: ['job', 'restart'], message: 'a retraining job must not restart itself (a run retries nothing on its own: the next trigger does)' });
});
export type AutomationSpec = z.infer<typeof AutomationSpec>;
export type AutomationSpecInput = z.input<typeof AutomationSpec>;

/** active: triggers start runs; paused: triggers are recorded as suppressed. */
export const AutomationState = z.enum(['active', 'paused']);

/** An automation as stored on its agent. */
export const Automation = z.object({
  name: z.string().max(63),
  model: z.string().max(63),
  state: AutomationState,
  spec: AutomationSpec,
  created_at: z.number(),
  created_by: z.string().max(256),
  updated_at: z.number(),
});
export type Automation = z.infer<typeof Automation>;

/** States of a run; see the diagram at the top of this file. */
export const AutoRunState = z.enum(['suppressed', 'queued', 'training', 'registering', 'gating', 'rolling_out', 'succeeded', 'failed', 'rolled_back']);
export type AutoRunState = z.infer<typeof AutoRunState>;
/** States after which a run never changes again. */
export const AUTO_RUN_TERMINAL_STATES: readonly AutoRunState[] = ['suppressed', 'succeeded', 'failed', 'rolled_back'];
/** True when a run (or state) is over. */
export const isTerminalRun = (s: AutoRunState | { state: AutoRunState }): boolean => AUTO_RUN_TERMINAL_STATES.includes(typeof s === 'string' ? s : s.state);

/** What fired a run: its kind, what it saw (one line), and the key identical triggers share (de-duplication). */
export const RunTrigger = z.object({
  kind: z.enum(['drift', 'performance', 'schedule', 'manual']),
  detail: z.string().max(1024),
  key: z.string().max(256),
});
export type RunTrigger = z.infer<typeof RunTrigger>;

/** One step of a run's history. */
export const RunStep = z.object({ ts: z.number(), state: AutoRunState, reason: z.string().max(4096).nullable() });

/** One run of an automation. */
export const AutomationRun = z.object({
  id: z.string().max(64),
  automation: z.string().max(63),
  model: z.string().max(63),
  trigger: RunTrigger,
  state: AutoRunState,
  /** Why it is in its state: the guard that suppressed it, the failed job, the gate's verdict, the rollback. */
  reason: z.string().max(4096).nullable(),
  /** The version serving when the run started (the gate's comparison and the candidate's lineage parent). */
  parent_version: z.string().max(63).nullable(),
  job_id: z.string().max(64).nullable(),
  /** The candidate version (registered from the job's output). */
  version: z.string().max(63).nullable(),
  rollout_id: z.string().max(64).nullable(),
  /** sha256 of the training data the job was given. */
  data_digest: z.string().max(64).nullable(),
  /** Where the training data came from: feedback (n rows), file PATH. */
  data_source: z.string().max(4200).nullable(),
  /** The job's metrics file (FLEETML_METRICS), numbers only. */
  metrics: z.record(z.string().max(64), z.number()).nullable(),
  /** Identical suppressed triggers folded into this row (a storm leaves one row per guard, not one per trigger). */
  repeats: z.number().int(),
  created_at: z.number(),
  updated_at: z.number(),
  finished_at: z.number().nullable(),
  history: z.array(RunStep).max(256),
});
export type AutomationRun = z.infer<typeof AutomationRun>;

/** auto.create */
export const AutoCreateParams = z.object({ spec: AutomationSpec }).strict();
export const AutoResult = z.object({ automation: Automation });
/** auto.list */
export const AutoListParams = z.object({ model: ModelName.optional() }).strict();
export const AutoListResult = z.object({ automations: z.array(Automation) });
/** auto.get, auto.pause, auto.resume, auto.remove */
export const AutoNameParams = z.object({ name: AutomationName, reason: z.string().max(500).optional() }).strict();
export const AutoGetResult = z.object({ automation: Automation, runs: z.array(AutomationRun) });
export const AutoRemoveResult = z.object({ removed: z.boolean() });
/** auto.run — a manual trigger (goes through the storm guards except the cooldown and de-duplication). */
export const AutoRunParams = z.object({ name: AutomationName, reason: z.string().max(500).optional() }).strict();
export const AutoRunResult = z.object({ run: AutomationRun });
/** auto.history — runs, newest first (suppressed ones included). */
export const AutoHistoryParams = z.object({ name: AutomationName.optional(), run: z.string().min(1).max(64).optional(), limit: z.number().int().min(1).max(1000).default(50) }).strict();
export const AutoHistoryResult = z.object({ runs: z.array(AutomationRun) });

/** Event data of the auto.events topic. */
export const AutoEvent = z.union([z.object({ automation: Automation }), z.object({ removed: z.string().max(63) }), z.object({ run: AutomationRun })]);

/** A version name a run registers its candidate under (deterministic: a resumed run finds it). */
export const runVersion = (runId: string): string => VersionName.parse(`auto-${runId}`);
