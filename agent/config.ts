import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { defaultDataDir } from '../shared/util/paths.js';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';

export { defaultDataDir };

// Agent configuration: ONE place for every option and its default (docs/config.md is written from here).
// Precedence, lowest to highest: defaults < config file (YAML) < FLEETML_* environment < command-line flags.

const HostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:7070')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');
const Peer = z.object({
  name: z.string().min(1).max(128),
  url: z.string().max(2048).url(),
  token: z.string().optional(),
  token_file: z.string().optional(),
  /** PEM file of the CA (or the self-signed certificate) that signs this peer's wss:// certificate. */
  ca_file: z.string().min(1).optional(),
}).strict();

/** The agent config schema with every default. */
export const AgentConfig = z.object({
  listen: HostPort.default('127.0.0.1:7070').describe('Address of the WebSocket API and HTTP endpoints. Loopback unless configured.'),
  data_dir: z.string().min(1).default(() => defaultDataDir()).describe('State directory: SQLite database, first admin token, later artifacts and logs.'),
  name: z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only').default(() => hostname().split('.')[0] || 'node').describe('Node name shown in the cluster (default: the host name).'),
  labels: z.record(z.string().regex(/^[A-Za-z0-9._/-]+$/), z.string().max(200)).default({}).describe('Free-form node labels used by placement selectors (later issues).'),
  tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().nullable().default(null).describe('TLS: both cert and key (PEM files) turn ws/http into wss/https.'),
  telemetry: z.object({
    interval_ms: z.number().int().min(100).max(60_000).default(1000).describe('Sampling interval of host and GPU telemetry, ms.'),
    history_s: z.number().int().min(10).max(86_400).default(900).describe('History kept per metric, seconds (ring buffer of history_s*1000/interval_ms points).'),
    static_refresh_s: z.number().int().min(1).max(3600).default(30).describe('How often static GPU attributes (name, UUID, PCI bus id, power limit, PCIe link, ECC/MIG/persistence mode, driver version) are re-read, seconds; dynamic ones are read every tick, and a change in the GPU set re-reads them at once.'),
  }).strict().prefault({}),
  gpu: z.object({
    source: z.enum(['auto', 'nvml', 'smi', 'sim', 'none']).default('auto').describe('auto: NVML, then nvidia-smi streams; sim: replay fixtures (marked simulated); none: no GPU telemetry.'),
    fixtures: z.array(z.string()).default([]).describe('Fixture files for the sim source (nvidia-smi -q -x XML or --query-gpu CSV).'),
    reprobe_s: z.number().int().min(1).default(60).describe('Re-probe interval when no GPU is found, seconds.'),
  }).strict().prefault({}),
  api: z.object({
    max_frame_bytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024).describe('Largest WebSocket frame accepted, bytes; a larger frame closes that connection with 1009.'),
    ping_interval_ms: z.number().int().min(100).default(15_000).describe('Ping interval; a peer that misses one pong is dropped.'),
    conflate_above_bytes: z.number().int().min(1024).default(256 * 1024).describe('Per-connection send buffer above which telemetry is conflated (latest wins).'),
    max_buffer_bytes: z.number().int().min(4096).default(16 * 1024 * 1024).describe('Per-connection send buffer above which the connection is closed (a peer that does not read).'),
    auth_fail_free: z.number().int().min(0).default(5).describe('Failed auth attempts from one address before responses are slowed down.'),
    auth_fail_max_delay_ms: z.number().int().min(0).default(5000).describe('Longest delay before a 401, ms.'),
    metrics_public: z.boolean().default(false).describe('Serve /metrics without a token (e.g. Prometheus on a trusted network). Default: needs a read token.'),
  }).strict().prefault({}),
  jobs: z.object({
    drivers: z.array(z.enum(['docker', 'process', 'fake', 'slurm'])).default(['process', 'docker']).describe('Task drivers enabled on this node. fake (no real work) is for tests and demos; slurm hands jobs to a Slurm cluster (jobs.slurm, docs/slurm.md).'),
    default_driver: z.enum(['docker', 'process', 'fake', 'slurm']).nullable().default(null).describe('Driver of a job submitted without one (the CLI and TUI ask the node): null is docker for a job with an image, else process; slurm sends every such job to Slurm.'),
    docker_socket: z.string().nullable().default(null).describe('Docker Engine socket (default: DOCKER_HOST, else /var/run/docker.sock).'),
    docker_call_timeout_ms: z.number().int().min(100).max(600_000).default(30_000).describe('Longest wait for the container engine to answer one call (create, start, inspect, list, remove; a stop gets its grace period on top). A job whose create or start is not answered in time fails with "engine did not answer in N ms"; waits and log streams, which last as long as the container, have no limit.'),
    docker_sweep: z.enum(['remove', 'report']).default('remove').describe('At start-up (after recovery), containers labelled by fleetml that no job claims are logged and shown in node.resources (drivers[].sweep); remove: those labelled with this node\'s name are also removed (other nodes\' are never touched); report: only listed.'),
    driver_check_s: z.number().int().min(1).max(3600).default(10).describe('How often the agent checks that each task driver can run tasks (the container engine answers); while one cannot, every second. node.stats and node.resources report the result (drivers).'),
    allowed_mount_roots: z.array(z.string()).default([]).describe('Host directories under which container jobs may bind-mount (none by default).'),
    allowed_networks: z.array(z.enum(['none', 'bridge', 'host'])).default(['none', 'bridge']).describe('Docker network modes a job may ask for (host shares the node\'s network stack, the agent\'s port included: off by default).'),
    gpu_busy_threshold_bytes: z.number().int().min(0).default(1024 ** 3).describe('A GPU whose memory used by processes fleetml did not start exceeds this counts as busy.'),
    starvation_s: z.number().int().min(1).default(600).describe('After this long in the queue a job stops smaller jobs from backfilling ahead of it.'),
    log_max_bytes: z.number().int().min(4096).default(10 * 1024 * 1024).describe('Stored output per job before rotation (one older file is kept); also the most a process job\'s raw output file may grow to before the agent truncates it (after reading it).'),
    container_user: z.string().regex(/^\d+:\d+$/, 'a numeric "uid:gid" (names, and a missing gid, would be looked up inside each image)').default('65534:65534')
      .describe('User container jobs run as (numeric uid:gid). Default nobody: files a job writes into a read-write mount belong to an unprivileged uid. 0:0 runs jobs as root (then they can plant root-owned setuid files in read-write mounts, and sub-directories of mount roots can no longer be mounted: docs/security.md).'),
    process_user: z.string().min(1).nullable().default('nobody')
      .describe('Host user process jobs run as (name, uid or uid:gid), so that they cannot read the agent\'s data (tokens, database). The agent must be root or hold CAP_SETUID, CAP_SETGID and CAP_KILL, else the process driver is unavailable. null: the agent\'s own user (an operate token can then act as admin: docs/security.md).'),
    slurm: z.object({
      bin_dir: z.string().nullable().default(null).describe('Folder of sbatch, squeue, scontrol, scancel and sacct (null: found on PATH).'),
      conf: z.string().nullable().default(null).describe('slurm.conf the commands use (SLURM_CONF; null: Slurm\'s own default, /etc/slurm/slurm.conf).'),
      work_dir: z.string().nullable().default(null).describe('Folder of each Slurm job\'s batch script and stdout/stderr files: on a file system the compute nodes share with this login node (null: the data dir\'s path with "-slurm" appended, which only works for a one-node cluster).'),
      partition: z.string().nullable().default(null).describe('Partition of jobs that name none (null: the cluster\'s default partition).'),
      account: z.string().nullable().default(null).describe('Account of jobs that name none (null: the user\'s default account).'),
      qos: z.string().nullable().default(null).describe('QOS of jobs that name none (null: the default QOS).'),
      gres: z.string().regex(/^[A-Za-z0-9_]+(:[A-Za-z0-9_.-]+)?$/, 'a GRES name, optionally with a type: gpu, gpu:a100').default('gpu').describe('GRES a job\'s GPUs are asked for as (--gres=<gres>:N), e.g. gpu:a100 for one GPU type.'),
      container: z.enum(['pyxis', 'apptainer']).nullable().default(null).describe('Container runtime of the cluster for jobs with an image: pyxis (enroot, sbatch --container-image) or apptainer (apptainer exec IMAGE); null: jobs with an image are refused.'),
      poll_ms: z.number().int().min(100).max(60_000).default(1000).describe('How often the agent asks Slurm (one squeue call) about the jobs it tracks.'),
      command_timeout_ms: z.number().int().min(100).max(600_000).default(15_000).describe('Longest wait for one Slurm command; a slow controller makes the call fail (retried) instead of stalling the agent.'),
    }).strict().prefault({}),
  }).strict().prefault({}),
  models: z.object({
    max_bytes: z.number().int().min(1024).default(2 * 1024 ** 3).describe('Largest model file accepted by model.push.'),
    providers: z.array(z.enum(['cuda', 'cpu'])).default(['cuda', 'cpu']).describe('Execution providers in order of preference; CUDA is tried only when the node has a GPU, and a failed CUDA load falls back to CPU (the provider that serves is reported).'),
    gpu_preflight_simulated: z.boolean().default(false).describe('Enforce the rollout pre-flight GPU memory check on simulated GPUs (--gpu-source sim) too, to rehearse the limits of the node they stand for; by default a shortfall there is only reported (their loads run on CPU).'),
    gpu_load_min_bytes: z.number().int().min(0).default(512 * 1024 ** 2).describe('Least GPU memory a model load on the CUDA provider is estimated to need whatever its file size (CUDA context, cuDNN/cuBLAS workspaces): a rollout this agent coordinates refuses a node whose GPU 0 has less free (fb_total − fb_used) than max(this, 3 × the file size) per version to load (docs/rollouts.md).'),
    intra_op_threads: z.number().int().min(1).max(256).default(1).describe('onnxruntime intra-op threads per session.'),
    workers: z.number().int().min(1).max(64).default(1).describe('Worker threads (each with its own session) per loaded model version.'),
    max_queue: z.number().int().min(1).default(256).describe('Requests in flight per model version before new ones are answered OVERLOADED.'),
    request_timeout_ms: z.number().int().min(1).default(30_000).describe('Per-request inference deadline (error TIMEOUT).'),
    batching: z.object({ max_batch_size: z.number().int().min(2).max(4096), max_queue_delay_us: z.number().int().min(0).max(1_000_000) }).strict().nullable().default(null)
      .describe('Default dynamic batching for models whose inputs and outputs have a dynamic first dimension (null: off; model.load can set it per version).'),
  }).strict().prefault({}),
  drift: z.object({
    enabled: z.boolean().default(true).describe('Capture sampled inference inputs and outputs and judge their drift against each version\'s reference.'),
    bucket_s: z.number().int().min(1).max(3600).default(300).describe('Length of one live window (bucket), seconds; alerts are judged on each closed bucket, longer windows (1h, 24h) merge buckets.'),
    retention_h: z.number().min(1).max(24 * 90).default(25).describe('Closed buckets kept (hours); the longest window a report can cover.'),
    min_rows: z.number().int().min(1).default(100).describe('A window with fewer rows than this is not judged (status insufficient). Distances are noisy on small windows: the normalised Wasserstein distance of an unshifted window of n rows is about 1/sqrt(n).'),
    small_reference_rows: z.number().int().min(1).default(1000).describe('References with at most this many rows use the tests (KS for numeric, chi-square for categorical); larger ones the distances (normalised Wasserstein, Jensen-Shannon), as Evidently does.'),
    thresholds: z.object({
      ks: z.number().min(0).max(1).default(0.05), chisquare: z.number().min(0).max(1).default(0.05),
      wasserstein: z.number().min(0).default(0.1), jensenshannon: z.number().min(0).max(1).default(0.1), psi: z.number().min(0).default(0.2),
    }).strict().prefault({}).describe('Drift thresholds: p-value below (ks, chisquare) or distance at or above (wasserstein, jensenshannon, psi).'),
    drift_share: z.number().gt(0).max(1).default(0.5).describe('Dataset drift when at least this share of (non-ignored) input features drifts.'),
    alert_after: z.number().int().min(1).max(1000).default(3).describe('Consecutive drifting windows (buckets) before an alert is raised.'),
    auto_reference_rows: z.number().int().min(0).default(1000).describe('A version without a reference dataset gets one from its first N captured rows (0: never).'),
    max_reference_rows: z.number().int().min(100).default(100_000).describe('Reference datasets larger than this are sampled down uniformly (reservoir) to bound memory; traffic references (auto or from_traffic) collect at most this many rows.'),
    max_samples_per_s: z.number().int().min(1).default(2000).describe('Captured rows per second per model above which capture samples that model uniformly (keeps the cost bounded under heavy traffic; a busy model does not starve the others).'),
    max_features: z.number().int().min(1).max(4096).default(256).describe('Features profiled per model (inputs then outputs); the rest are reported as not profiled.'),
  }).strict().prefault({}),
  alerts: z.object({
    webhook_url: z.string().max(2048).url().refine((u) => /^https?:\/\//.test(u), 'http:// or https:// only').nullable().default(null)
      .describe('Receiver of Alertmanager-shaped webhooks (payload version 4) for drift alerts, performance drops and automation run outcomes: an Alertmanager, or any tool that reads its webhook (null: off). Credentials go in webhook_headers, not the URL.'),
    webhook_headers: z.record(z.string().max(128), z.string().max(4096)).default({}).describe('Extra request headers of each webhook POST (e.g. Authorization).'),
    webhook_timeout_ms: z.number().int().min(100).max(60_000).default(5000).describe('Per-try timeout of a webhook POST; a message is tried 3 times with backoff, then dropped (logged).'),
  }).strict().prefault({}),
  feedback: z.object({
    enabled: z.boolean().default(true).describe('Keep, per served version, what a label sent later by request id needs to join (id, time, the first output row\'s prediction, and the input row of tabular models with at most 256 input values): live accuracy / F1 / MAE / RMSE (docs/feedback.md).'),
    max_requests_per_s: z.number().int().min(1).default(1000).describe('Requests kept per second per model version: every request while under it; above it a uniform sample of about this many per second (the rest are answered as usual and their ids are unknown to model.feedback).'),
    max_requests_per_version: z.number().int().min(1).max(10_000_000).default(100_000).describe('Kept requests per model version; beyond it the oldest are evicted (labelled or not).'),
    retention_s: z.number().int().min(60).default(7 * 86_400).describe('Kept requests older than this (by request time) are removed, swept every minute; a label for one is counted as unknown.'),
  }).strict().prefault({}),
  audit: z.object({
    retention_days: z.number().min(1).max(36_500).default(90).describe('Audit rows older than this are removed, whatever the row count. Swept at start-up and every 10 minutes; a sweep that removes rows writes one audit row of its own (token agent, method audit.retention: how many, the cut-offs).'),
    max_rows: z.number().int().min(100).default(1_000_000).describe('Audit rows kept at most: beyond it a sweep removes the oldest rows, but never one younger than audit.min_age_h (a burst of young rows may hold the table above max_rows until they age).'),
    min_age_h: z.number().min(0).default(24).describe('Rows younger than this are never removed by the audit.max_rows cap (only audit.retention_days removes rows, and only older ones).'),
  }).strict().prefault({}),
  uploads: z.object({
    max_per_token: z.number().int().min(1).default(4).describe('Unfinished chunked uploads one token may hold (model.push without its final chunk yet; drift.setReference datasets and rollout.uploadTestSet test sets — unfinished or staged and not used yet — are each counted apart, against the same number); one more is refused OVERLOADED until one finishes or expires.'),
    max_total: z.number().int().min(1).default(32).describe('Unfinished chunked uploads on the node, all tokens together (model, reference and test set uploads each); one more is refused OVERLOADED.'),
    expiry_s: z.number().int().min(1).max(7 * 86_400).default(3600).describe('An unfinished model upload that received no chunk for this long is removed with its temporary file (checked every min(60 s, expiry_s / 2), before a new upload is counted, and when a chunk arrives); its upload_id is then unknown (NOT_FOUND). Reference uploads, held in memory, expire after 10 minutes idle.'),
  }).strict().prefault({}),
  automation: z.object({
    work_dir: z.string().nullable().default(null).describe('Folder of the automation runs (each run\'s training data, held-out set, and the retraining job\'s model and metrics). Outside the data dir, which jobs cannot enter; null: the data dir\'s path with "-automation" appended. A container job gets its run folder mounted, so list it (or a parent) in jobs.allowed_mount_roots.'),
  }).strict().prefault({}),
  peers: z.array(Peer).default([]).describe('Other agents of the cluster, driven by this one\'s rollouts: name, url, token or token_file, and ca_file (PEM) for a wss:// peer whose certificate a private CA or the peer itself signed.'),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level of the JSON lines on stderr.'),
}).strict();
export type AgentConfig = z.infer<typeof AgentConfig>;

/** Most points kept per metric (memory bound: ~16 bytes a point, tens of metrics per node). */
export const MAX_HISTORY_POINTS = 20_000;

/** A config error that names the offending key and the source it came from. */
export class ConfigError extends Error {}

function parseKv(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0) throw new ConfigError(`${what}: expected k=v, got "${item}"`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}
function parsePeers(list: string[]): Array<{ name: string; url: string }> {
  return list.map((p) => {
    const i = p.indexOf('=');
    if (i <= 0) throw new ConfigError(`peer: expected NAME=URL, got "${p}"`);
    return { name: p.slice(0, i), url: p.slice(i + 1) };
  });
}
function num(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`${what}: expected a number, got "${v}"`);
  return n;
}
/** Value of --process-user / FLEETML_PROCESS_USER: a user, or `@agent` for the agent's own user (null in YAML). */
export const PROCESS_USER_AGENT = '@agent';
const processUser = (v: string): string | null => (v === PROCESS_USER_AGENT ? null : v);
const split = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

/**
 * One config key that a FLEETML_* variable and (mostly) a flag of `fleetml agent` override. A `list` row reads its
 * variable comma-separated and its flag repeated; `merge` layers the parsed record over the key's value instead of
 * replacing it (labels). Rows with a `field` set one field each of the object at `key`, and a layer that gives any of
 * them replaces that object whole (tls: --tls-cert alone is an error, not a mix with the file's key).
 */
export type Override = {
  /** Config key, dotted (telemetry.interval_ms). */
  key: string;
  env: `FLEETML_${string}`;
  /** How the variable's value reads, for docs/config.md; list rows default to "comma-separated". */
  envNote?: string;
  /** Commander flag with its argument, e.g. `--listen <host:port>`; none: the variable only. */
  flag?: `--${string} <${string}>`;
  /** Flag help without the default: that one comes from the schema (or `defaultHelp` when computed at start). */
  help: string;
  defaultHelp?: string;
  field?: string;
} & (
  | { list?: false; parse?: (v: string, what: string) => unknown }
  | { list: true; merge?: boolean; parse?: (items: string[], what: string) => unknown }
);

/**
 * Every env variable and flag that overrides a config key: applyEnv, applyFlags, AgentFlags, the options of
 * `fleetml agent` and the env/flag columns of docs/config.md all come from this table (and only from it).
 */
export const OVERRIDES = [
  { key: 'listen', env: 'FLEETML_LISTEN', flag: '--listen <host:port>', help: 'API address' },
  { key: 'data_dir', env: 'FLEETML_DATA_DIR', flag: '--data-dir <dir>', help: 'state directory', defaultHelp: '~/.local/share/fleetml, or $STATE_DIRECTORY' },
  { key: 'name', env: 'FLEETML_NAME', flag: '--name <name>', help: 'node name', defaultHelp: 'host name' },
  { key: 'labels', env: 'FLEETML_LABELS', envNote: 'k=v,k=v', flag: '--label <k=v>', help: 'node label', list: true, merge: true, parse: parseKv },
  { key: 'tls', field: 'cert', env: 'FLEETML_TLS_CERT', flag: '--tls-cert <file>', help: 'PEM certificate: serve wss/https' },
  { key: 'tls', field: 'key', env: 'FLEETML_TLS_KEY', flag: '--tls-key <file>', help: 'PEM private key for --tls-cert' },
  { key: 'telemetry.interval_ms', env: 'FLEETML_TELEMETRY_INTERVAL_MS', flag: '--telemetry-interval <ms>', help: 'sampling interval in ms', parse: num },
  { key: 'telemetry.history_s', env: 'FLEETML_HISTORY_S', flag: '--history <seconds>', help: 'history kept per metric', parse: num },
  { key: 'gpu.source', env: 'FLEETML_GPU_SOURCE', flag: '--gpu-source <src>', help: 'GPU telemetry source' },
  { key: 'gpu.fixtures', env: 'FLEETML_GPU_FIXTURE', flag: '--gpu-fixture <file>', help: 'fixture to replay with --gpu-source sim', list: true },
  { key: 'api.max_frame_bytes', env: 'FLEETML_MAX_FRAME_BYTES', help: 'largest WebSocket frame accepted, bytes', parse: num },
  { key: 'alerts.webhook_url', env: 'FLEETML_ALERT_WEBHOOK', flag: '--alert-webhook <url>', help: 'Alertmanager-shaped webhook receiver for alerts' },
  { key: 'peers', env: 'FLEETML_PEERS', envNote: 'name=url,…', flag: '--peer <name=url>', help: 'another agent of the cluster', list: true, parse: parsePeers },
  { key: 'log_level', env: 'FLEETML_LOG_LEVEL', flag: '--log-level <level>', help: 'log level' },
  { key: 'jobs.drivers', env: 'FLEETML_JOB_DRIVERS', flag: '--job-driver <name>', help: 'enable a task driver', list: true },
  { key: 'jobs.allowed_mount_roots', env: 'FLEETML_ALLOWED_MOUNT_ROOTS', flag: '--allow-mount <dir>', help: 'host directory container jobs may bind-mount from', list: true },
  { key: 'jobs.process_user', env: 'FLEETML_PROCESS_USER', envNote: `${PROCESS_USER_AGENT}: null`, flag: '--process-user <user>', help: `host user process jobs run as; ${PROCESS_USER_AGENT}: the agent's own user`, parse: processUser },
] as const satisfies readonly Override[];

/** `--tls-cert <file>` → `tlsCert`: the property commander gives the flag's value under. */
export function flagAttribute(flag: string): string {
  const long = /^--([a-z0-9-]+)/.exec(flag)?.[1] ?? '';
  return long.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type FlagAttribute<F> = F extends `--${infer N} <${string}>` ? Camel<N> : never;
type Row = (typeof OVERRIDES)[number];

/** Flags of `fleetml agent` that override the config, as commander parses them (one property per OVERRIDES flag). */
export type AgentFlags = { config?: string } & {
  [R in Row as R extends { flag: infer F } ? FlagAttribute<F> : never]?: R extends { list: true } ? string[] : string;
};

type Raw = Record<string, any>;
function set(obj: Raw, path: string[], v: unknown) {
  let o = obj;
  for (const k of path.slice(0, -1)) o = o[k] = typeof o[k] === 'object' && o[k] !== null ? { ...o[k] } : {};
  o[path[path.length - 1]] = v;
}

/**
 * Layer one source over a raw config object. `value` is a row's value in that source: a string (env, a flag), or the
 * strings of a repeated flag; an empty string or an empty list counts as not given. `what` names the source in errors.
 */
function applyOverrides(raw: Raw, value: (o: Override) => string | string[] | undefined, what: (o: Override) => string): Raw {
  const out: Raw = { ...raw };
  const given = (v: string | string[] | undefined) => (Array.isArray(v) ? v.length > 0 : Boolean(v));
  const rows: readonly Override[] = OVERRIDES;
  for (const o of rows) {
    const path = o.key.split('.');
    if (o.field !== undefined) {
      // a whole object from its field rows, once, at the first of them
      const group = rows.filter((x) => x.key === o.key);
      if (group[0] !== o || !group.some((x) => given(value(x)))) continue;
      set(out, path, Object.fromEntries(group.map((x) => [x.field, value(x)])));
      continue;
    }
    const v = value(o);
    if (!given(v)) continue;
    if (o.list) {
      const items = Array.isArray(v) ? v : split(v as string);
      const parsed = o.parse ? o.parse(items, what(o)) : items;
      set(out, path, o.merge ? { ...(path.reduce<Raw | undefined>((x, k) => x?.[k], out) ?? {}), ...(parsed as Raw) } : parsed);
    } else {
      set(out, path, o.parse ? o.parse(v as string, what(o)) : v);
    }
  }
  return out;
}

/** Layer env variables (FLEETML_*) over a raw config object. */
export function applyEnv(raw: Raw, env: NodeJS.ProcessEnv): Raw {
  return applyOverrides(raw, (o) => env[o.env], (o) => o.env);
}

/** Layer command-line flags over a raw config object. */
export function applyFlags(raw: Raw, f: AgentFlags): Raw {
  const flags = f as Record<string, string | string[] | undefined>;
  return applyOverrides(raw, (o) => (o.flag ? flags[flagAttribute(o.flag)] : undefined), (o) => o.flag?.split(' ')[0] ?? o.env);
}

let keySchemas: Raw | undefined;
/** The JSON schema (input side) of one config key, e.g. telemetry.interval_ms: its default, enum, items, description. */
export function configKeySchema(key: string): { default?: unknown; enum?: unknown[]; items?: { enum?: unknown[] }; description?: string } {
  keySchemas ??= z.toJSONSchema(AgentConfig, { unrepresentable: 'any', io: 'input' }) as Raw;
  const s = key.split('.').reduce<Raw | undefined>((x, k) => x?.properties?.[k], keySchemas);
  if (!s) throw new Error(`configKeySchema: no config key ${key}`);
  return s;
}

/** Load and validate the agent config; throws ConfigError with every problem listed by key. */
export function loadConfig(flags: AgentFlags = {}, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let raw: Raw = {};
  const file = flags.config ?? env.FLEETML_CONFIG;
  if (file) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`); }
    try { raw = (parseYaml(text) as Raw) ?? {}; } catch (e) { throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`); }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${file}: expected a mapping at the top level`);
  }
  raw = applyFlags(applyEnv(raw, env), flags);
  if (raw.data_dir === undefined) raw.data_dir = defaultDataDir(env);
  const r = AgentConfig.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid agent config${file ? ` (${file})` : ''}:\n${lines.join('\n')}`);
  }
  const c = r.data;
  // Impossible combinations fail at once with a precise message.
  if (c.gpu.fixtures.length > 0 && c.gpu.source !== 'sim') throw new ConfigError(`gpu.fixtures is set but gpu.source is "${c.gpu.source}": fixtures are only replayed by --gpu-source sim`);
  if (c.api.max_buffer_bytes <= c.api.conflate_above_bytes) throw new ConfigError(`api.max_buffer_bytes (${c.api.max_buffer_bytes}) must be above api.conflate_above_bytes (${c.api.conflate_above_bytes})`);
  if (c.audit.min_age_h >= c.audit.retention_days * 24) throw new ConfigError(`audit.min_age_h (${c.audit.min_age_h} h) must be below audit.retention_days (${c.audit.retention_days} d = ${c.audit.retention_days * 24} h): else audit.max_rows could never remove a row`);
  if (c.uploads.max_per_token > c.uploads.max_total) throw new ConfigError(`uploads.max_per_token (${c.uploads.max_per_token}) is above uploads.max_total (${c.uploads.max_total}): lower it or raise the total`);
  const points = Math.ceil((c.telemetry.history_s * 1000) / c.telemetry.interval_ms);
  if (points > MAX_HISTORY_POINTS) throw new ConfigError(`telemetry.history_s / interval keeps ${points} points per metric (max ${MAX_HISTORY_POINTS}): shorten the history or lengthen the interval`);
  return c;
}

/** Split "HOST:PORT" (IPv6 in brackets) into parts. */
export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}
