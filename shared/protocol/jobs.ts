import { z } from 'zod';

// Jobs: containers (docker driver) or plain processes (process driver) run by an agent's node-local queue.
//
// State machine (persisted before it is reported):
//   queued → starting → running → succeeded | failed | cancelled | lost
//   queued → cancelled                (cancel before start)
//   starting → failed                 (driver refused: missing image, …)
//   running → queued                  (restart policy on-failure:N, attempt < N)
//   running → lost                    (the agent restarted and the job's handle could not be recovered)

/** Job states. Terminal: succeeded, failed, cancelled, lost. */
export const JobState = z.enum(['queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'lost']);
export type JobState = z.infer<typeof JobState>;
/** States after which a job never changes again. */
export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'lost'];

/** Driver names. `fake` is the documented test/demo driver (no real work: sleeps and prints). */
export const DriverName = z.enum(['docker', 'process', 'fake']);
export type DriverName = z.infer<typeof DriverName>;

const EnvKey = z.string().max(256).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _');
const Label = z.string().max(63).regex(/^[A-Za-z0-9._/-]{1,63}$/, 'label keys are 1-63 of A-Z a-z 0-9 . _ / -');

/** A bind mount from an allowed host directory. */
export const Mount = z.object({ source: z.string().min(1).max(4096), target: z.string().min(1).max(4096), readonly: z.boolean().default(false) }).strict();

/** Restart policy: never, or on-failure up to max_retries more attempts. */
export const RestartPolicy = z.union([
  z.object({ policy: z.literal('never') }).strict(),
  z.object({ policy: z.literal('on-failure'), max_retries: z.number().int().min(1).max(100) }).strict(),
]);

/** The fields of a job spec (what the agent reports back: unknown keys from a newer agent are dropped, not refused). */
const JobSpecFields = z.object({
  name: z.string().max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, '1-63 letters, digits, . _ - (starting with a letter or digit)').optional(),
  driver: DriverName,
  /** Container image (docker driver only); must already be present on the node (no registry pull). */
  image: z.string().min(1).max(512).optional(),
  command: z.array(z.string().max(65_536)).min(1).max(4096),
  env: z.record(EnvKey, z.string().max(65_536)).default({}),
  workdir: z.string().max(4096).optional(),
  mounts: z.array(Mount).max(64).default([]),
  gpus: z.number().int().min(0).max(64).default(0),
  /** CPU cores (fractions allowed). */
  cpus: z.number().min(0).max(1024).optional(),
  memory_bytes: z.number().int().min(4 * 1024 * 1024).optional(),
  /** Higher runs first. */
  priority: z.number().int().min(-1000).max(1000).default(0),
  timeout_s: z.number().int().min(1).max(30 * 86_400).optional(),
  restart: RestartPolicy.default({ policy: 'never' }),
  labels: z.record(Label, z.string().max(256)).default({}),
  /** Docker network mode; default "none" (no network) — see docs/jobs.md. */
  network: z.enum(['none', 'bridge', 'host']).optional(),
  /** Seconds between SIGTERM and SIGKILL on cancel/timeout. */
  stop_grace_s: z.number().int().min(0).max(3600).default(10),
});

/** What a user submits: strict, with the cross-field rules. Resources are requests the admission checks against free capacity. */
export const JobSpec = JobSpecFields.strict().superRefine((s, ctx) => {
  if (s.driver === 'docker' && !s.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'the docker driver needs an image' });
  if (s.driver !== 'docker' && s.image) ctx.addIssue({ code: 'custom', path: ['image'], message: `image is only for the docker driver (driver is ${s.driver})` });
  if (s.driver !== 'docker' && s.network) ctx.addIssue({ code: 'custom', path: ['network'], message: 'network is only for the docker driver' });
});
export type JobSpec = z.infer<typeof JobSpec>;
export type JobSpecInput = z.input<typeof JobSpec>;

/** One state change of a job. */
export const JobEvent = z.object({ ts: z.number(), state: JobState, reason: z.string().nullable() });

/** A job as the agent reports it. */
export const Job = z.object({
  id: z.string(),
  name: z.string().nullable(),
  node: z.string(),
  spec: JobSpecFields,
  state: JobState,
  /** Why the job is in its state: "needs 2 GPUs, 1 free", "exit code 3", "OOM killed", "cancelled by ops", … */
  reason: z.string().nullable(),
  exit_code: z.number().int().nullable(),
  oom_killed: z.boolean(),
  /** GPU UUIDs assigned while starting/running (exclusive). */
  gpus: z.array(z.string()),
  attempt: z.number().int(),
  submitted_by: z.string(),
  submitted_at: z.number(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  history: z.array(JobEvent),
});
export type Job = z.infer<typeof Job>;

/** job.submit */
export const JobSubmitParams = z.object({ spec: JobSpec }).strict();
export const JobSubmitResult = z.object({ job: Job });
/** job.list — newest first. */
export const JobListParams = z.object({
  state: z.array(JobState).max(7).optional(),
  label: z.record(Label, z.string().max(256)).optional(),
  limit: z.number().int().min(1).max(10_000).default(500),
}).strict();
export const JobListResult = z.object({ jobs: z.array(Job) });
/** job.get */
export const JobIdParams = z.object({ id: z.string().min(1).max(64) }).strict();
export const JobGetResult = z.object({ job: Job });
/** job.cancel — SIGTERM, then SIGKILL after the job's stop_grace_s. */
export const JobCancelParams = z.object({ id: z.string().min(1).max(64), reason: z.string().max(500).optional() }).strict();
export const JobCancelResult = z.object({ job: Job });
/** job.remove — a finished job and its logs. */
export const JobRemoveResult = z.object({ removed: z.boolean() });
/** job.logs — stored lines (stdout and stderr), oldest first. */
export const LogLine = z.object({ ts: z.number(), stream: z.enum(['stdout', 'stderr', 'system']), line: z.string() });
export type LogLine = z.infer<typeof LogLine>;
export const JobLogsParams = z.object({
  id: z.string().min(1).max(64),
  since: z.number().optional(),
  tail: z.number().int().min(1).max(100_000).optional(),
}).strict();
export const JobLogsResult = z.object({ lines: z.array(LogLine), truncated: z.boolean() });

/** node.resources — capacity and what is free, for placement. */
export const NodeResourcesParams = z.object({}).strict();
export const NodeResourcesResult = z.object({
  node: z.string(),
  labels: z.record(z.string(), z.string()),
  gpus: z.array(z.object({
    uuid: z.string(), index: z.number().int(), name: z.string().nullable(), fb_total_bytes: z.number().nullable(),
    /** Job that holds it, or null. */
    job_id: z.string().nullable(),
    /** Busy with processes fleetml did not start (above the memory threshold). */
    busy_external: z.boolean(),
  })),
  gpus_free: z.number().int(),
  cpus_total: z.number(),
  cpus_free: z.number(),
  memory_total_bytes: z.number(),
  memory_free_bytes: z.number(),
  queued: z.number().int(),
  running: z.number().int(),
  drivers: z.array(z.object({ name: DriverName, available: z.boolean(), reason: z.string().nullable() })),
  simulated: z.boolean(),
});
export type NodeResources = z.infer<typeof NodeResourcesResult>;
