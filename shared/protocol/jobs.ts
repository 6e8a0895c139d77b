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

/** Driver names. `fake` is the documented test/demo driver (no real work: sleeps and prints). `slurm` hands the job to
 * a Slurm cluster (sbatch on the login node the agent runs on): Slurm queues and places it (docs/slurm.md). */
export const DriverName = z.enum(['docker', 'process', 'fake', 'slurm']);
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

const SlurmName = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.,:+-]+$/, 'letters, digits and _ . , : + -');
/** Per-job Slurm options (slurm driver only); unset ones take jobs.slurm's defaults. */
export const SlurmJobOptions = z.object({
  partition: SlurmName.optional(),
  account: SlurmName.optional(),
  qos: SlurmName.optional(),
  /** Node features (sbatch --constraint), e.g. "a100". */
  constraint: z.string().min(1).max(256).regex(/^[A-Za-z0-9_.,:|&*()\[\]!-]+$/, 'a Slurm constraint expression').optional(),
}).strict();

/** What the agent knows of a job's Slurm side (slurm driver): its Slurm id, where and why. */
export const SlurmJobInfo = z.object({
  job_id: z.string(),
  partition: z.string().nullable(),
  /** Slurm's job state (PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, OUT_OF_MEMORY, …) as last seen. */
  state: z.string().nullable(),
  /** Slurm's reason (Resources, Priority, …) as last seen; null when None. */
  reason: z.string().nullable(),
  /** Allocated nodes (a Slurm host list), once running. */
  nodes: z.string().nullable(),
});
export type SlurmJobInfo = z.infer<typeof SlurmJobInfo>;

/** The fields of a job spec (what the agent reports back: unknown keys from a newer agent are dropped, not refused). */
const JobSpecFields = z.object({
  name: z.string().max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, '1-63 letters, digits, . _ - (starting with a letter or digit)').optional(),
  driver: DriverName,
  /** Container image (docker driver: must already be present on the node, no registry pull; slurm driver: handed to
   * the cluster's container runtime, jobs.slurm.container). */
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
  /** Slurm options (slurm driver only). */
  slurm: SlurmJobOptions.optional(),
});

/** What a user submits: strict, with the cross-field rules. Resources are requests the admission checks against free capacity. */
export const JobSpec = JobSpecFields.strict().superRefine((s, ctx) => {
  if (s.driver === 'docker' && !s.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'the docker driver needs an image' });
  if (s.driver !== 'docker' && s.driver !== 'slurm' && s.image) ctx.addIssue({ code: 'custom', path: ['image'], message: `image is only for the docker and slurm drivers (driver is ${s.driver})` });
  if (s.driver !== 'slurm' && s.slurm) ctx.addIssue({ code: 'custom', path: ['slurm'], message: `slurm options are only for the slurm driver (driver is ${s.driver})` });
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
  /** The Slurm side of a slurm-driver job, once submitted (null otherwise; absent from older agents). */
  slurm: SlurmJobInfo.nullable().optional(),
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

/** One Slurm partition as `scontrol show node` reports its nodes (sums over the nodes in it). */
export const SlurmPartition = z.object({
  name: z.string(),
  default: z.boolean(),
  /** UP, DOWN, DRAIN, INACTIVE. */
  state: z.string(),
  nodes: z.number().int(),
  /** Nodes that can take work (not down, drained or failing). */
  nodes_up: z.number().int(),
  cpus_total: z.number().int(),
  cpus_free: z.number().int(),
  gpus_total: z.number().int(),
  gpus_free: z.number().int(),
  /** Most GPUs on one node of the partition (the largest single-node request it can ever run). */
  gpus_per_node_max: z.number().int(),
  /** Most GPUs free on one node now. */
  gpus_free_per_node_max: z.number().int(),
  memory_total_bytes: z.number(),
});
export type SlurmPartition = z.infer<typeof SlurmPartition>;
/** The Slurm cluster behind a slurm-driver agent, as last read (every few seconds). */
export const SlurmCluster = z.object({
  cluster: z.string().nullable(),
  /** The partition jobs go to when they name none (jobs.slurm.partition, else the cluster's default). */
  default_partition: z.string().nullable(),
  partitions: z.array(SlurmPartition),
  /** Jobs of this agent in Slurm: pending and running. */
  pending: z.number().int(),
  running: z.number().int(),
  /** Why the cluster could not be read (the last good view is kept), else null. */
  error: z.string().nullable(),
  updated_at: z.number().nullable(),
});
export type SlurmCluster = z.infer<typeof SlurmCluster>;

/** A task driver's health as the agent last checked it (its fingerprint): node.resources and node.stats. */
export const DriverHealth = z.object({
  name: DriverName,
  /** Whether the driver can run tasks now (the container engine answers, Slurm answers, …). */
  available: z.boolean(),
  /** Why not, else null. */
  reason: z.string().nullable(),
  /** Agent clock (ms) since which the driver has been available or unavailable, null before the first check; absent from older agents. */
  since: z.number().nullable().optional(),
});
export type DriverHealth = z.infer<typeof DriverHealth>;

/** A task (container) of a driver that no job claims, as the start-up sweep found it. */
export const UnclaimedTask = z.object({
  /** Engine id (container id). */
  id: z.string(),
  name: z.string(),
  job_id: z.string(),
  attempt: z.number().int().nullable(),
  /** The node its labels name. */
  node: z.string(),
  /** Engine state: created, running, exited, … */
  state: z.string(),
  /** Why it could not be removed, else null. */
  error: z.string().nullable(),
});
export type UnclaimedTask = z.infer<typeof UnclaimedTask>;

/** Most tasks listed per group of a DriverSweep (the counts are complete). */
export const SWEEP_LIST_MAX = 50;

/** What a driver's sweep for unclaimed tasks found and did (docker: at start-up, docs/jobs-docker.md#start-up-sweep). */
export const DriverSweep = z.object({
  at: z.number(),
  /** remove: this node's unclaimed tasks are removed; report: only listed (jobs.docker_sweep). */
  mode: z.enum(['remove', 'report']),
  /** This node's unclaimed tasks that were removed. */
  removed: z.array(UnclaimedTask),
  /** This node's unclaimed tasks that are still there: report mode, or the removal failed (`error`). */
  kept: z.array(UnclaimedTask),
  /** Unclaimed tasks labelled for another node: left alone (that node's agent sweeps them). */
  foreign: z.array(UnclaimedTask),
  counts: z.object({ removed: z.number().int(), kept: z.number().int(), foreign: z.number().int() }),
  /** Why the sweep could not run (engine unreachable: it runs again once the driver is available), else null. */
  error: z.string().nullable(),
});
export type DriverSweep = z.infer<typeof DriverSweep>;

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
  drivers: z.array(DriverHealth.extend({
    /** The last sweep for tasks no job claims (docker driver), null before it ran; absent from older agents. */
    sweep: DriverSweep.nullable().optional(),
  })),
  /** The driver a job without one gets on this node when it has no image (jobs.default_driver; absent from older agents). */
  default_driver: DriverName.optional(),
  simulated: z.boolean(),
  /** The Slurm cluster this node submits to (slurm driver enabled), else null; absent from older agents. */
  slurm: SlurmCluster.nullable().optional(),
});
export type NodeResources = z.infer<typeof NodeResourcesResult>;
