// Realistic sample data for the TUI tests: what agents on real machines report.
import type { DriftHistory, DriftHistoryOptions, DriftReportOptions, FleetActions, FleetNode, FleetSource } from '../../shared/client/fleet-types.js';
import type { DriftReport } from '../../shared/protocol/drift.js';
import type { Job, JobSpecInput, LogLine } from '../../shared/protocol/jobs.js';
import type { NodeInfoResult } from '../../shared/protocol/node.js';
import type { ModelVersion } from '../../shared/protocol/models.js';
import type { GpuSample, GpuState, HostSample, NodeStats } from '../../shared/protocol/telemetry.js';
import type { ModelPerfRow, ModelStatsRow } from '../../shared/client/fleet-types.js';
import type { Rollout, RolloutStartParams } from '../../shared/protocol/rollout.js';
import type { AliasTarget } from '../../shared/protocol/models.js';
import type { ModelAliasRow } from '../../shared/client/fleet-types.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export function gpu(over: Partial<GpuSample> & { index: number; uuid: string }): GpuSample {
  return {
    name: 'NVIDIA RTX A5000', pci_bus_id: `00000000:${17 + over.index}:00.0`, status: 'ok', error: null,
    gpu_util_pct: 48, mem_copy_util_pct: 20, fb_total_bytes: 24 * GiB, fb_used_bytes: 6 * GiB, fb_free_bytes: 18 * GiB,
    fb_reserved_bytes: 0.3 * GiB, gpu_temp_c: 62, memory_temp_c: null, power_usage_w: 231, power_limit_w: 230,
    sm_clock_mhz: 1695, mem_clock_mhz: 8001, fan_speed_pct: 45, pstate: 'P2', pcie_link_gen: 4, pcie_link_width: 16,
    ecc_mode: 'disabled', ecc_corrected_volatile: null, ecc_uncorrected_volatile: null, persistence_mode: 'enabled',
    mig_mode: null, mig_instances: [], processes: [],
    ...over,
  };
}

export function host(over: Partial<HostSample> = {}): HostSample {
  return {
    cpu: { util_pct: 37.4, per_core_pct: [10, 90, 55, 5, 100, 30, 0, 70], load1: 2.5, load5: 1.8, load15: 1.2 },
    memory: { total_bytes: 64 * GiB, used_bytes: 23.5 * GiB, available_bytes: 40 * GiB, swap_total_bytes: 8 * GiB, swap_used_bytes: 0 },
    disks: [{ mount: '/', fs: '/dev/nvme0n1p2', type: 'ext4', size_bytes: 450 * GiB, used_bytes: 120 * GiB }],
    disk_io: { read_bytes_per_s: 2 * MiB, write_bytes_per_s: 512 * 1024 },
    network: [{ iface: 'eno1', rx_bytes_per_s: 1.5 * MiB, tx_bytes_per_s: 300 * 1024 }],
    uptime_s: 3 * 86400 + 4 * 3600,
    ...over,
  };
}

export function info(name: string, gpuPart: Partial<NodeInfoResult['gpu']> = {}): NodeInfoResult {
  return {
    name, node_id: `id-${name}`, labels: { rack: 'r1' }, agent_version: '0.1.0', protocol_version: '1', started_at: 0,
    url: `ws://${name}:7070`,
    host: { hostname: name, os: { platform: 'linux', distro: 'Ubuntu', release: '22.04', kernel: '5.15.0-91-generic', arch: 'x64' },
      cpu: { model: 'AMD EPYC 7313', cores: 8, physical_cores: 8 }, memory_total_bytes: 64 * GiB },
    gpu: { status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: '550.54.15', cuda_version: '12.4', count: 2, ...gpuPart },
    telemetry: { interval_ms: 1000, history_s: 900 },
    peers: [],
  };
}

function stats(name: string, gpuState: GpuState, h = host()): NodeStats {
  return { node: name, ts: 1_700_000_000_000, seq: 42, host: h, gpu: gpuState };
}

function upNode(name: string, gpuState: GpuState, history: FleetNode['history'] = {}): FleetNode {
  return { name, url: `ws://${name}:7070`, conn: 'up', error: null, retryInMs: null, info: info(name, { ...gpuState, count: gpuState.gpus.length }),
    stats: stats(name, gpuState), lastSeen: 1_700_000_000_000, history, jobs: jobsOf(name), models: modelsOf(name), modelStats: modelStatsOf(name), modelPerf: modelPerfOf(name), driftAlerts: [], rollouts: [] };
}

/** Fixture time: every job timestamp is relative to it. */
export const T0 = 1_700_000_000_000;

/** A job as an agent reports it; `over` wins. */
export function job(over: Partial<Job> & { id: string; node: string; state: Job['state'] }, spec: Partial<Job['spec']> = {}): Job {
  const submitted = over.submitted_at ?? T0;
  return {
    name: null, reason: null, exit_code: null, oom_killed: false, gpus: [], attempt: 1, submitted_by: 'alice',
    submitted_at: submitted, started_at: null, finished_at: null, history: [{ ts: submitted, state: 'queued', reason: null }],
    spec: { driver: 'process', command: ['python', 'train.py'], env: {}, mounts: [], gpus: 0, priority: 0, restart: { policy: 'never' }, labels: {}, stop_grace_s: 10, ...spec },
    ...over,
  };
}

const s = (sec: number) => T0 + sec * 1000;

/** Jobs of the fixture nodes: one per state the views must show (queued with a reason, running with GPUs, …). */
export const JOBS = {
  queued: () => job({ id: 'a1queued-0000-4000-8000-000000000001', node: 'gpu01', name: 'train-big', state: 'queued', reason: 'needs 2 GPUs, 1 free', submitted_at: s(600),
    history: [{ ts: s(600), state: 'queued', reason: 'needs 2 GPUs, 1 free' }] }, { gpus: 2, priority: 5 }),
  running: () => job({ id: 'job-17', node: 'gpu01', name: 'train', state: 'running', gpus: ['GPU-aaaa-0', 'GPU-aaaa-1'], submitted_at: s(100), started_at: s(102),
    history: [{ ts: s(100), state: 'queued', reason: null }, { ts: s(101), state: 'starting', reason: null }, { ts: s(102), state: 'running', reason: null }] },
  { driver: 'docker', image: 'pytorch/pytorch:2.3.0', command: ['torchrun', '--nproc-per-node', '2', 'train.py'], gpus: 2, env: { HF_TOKEN: 'hf_secret_value', EPOCHS: '3' },
    mounts: [{ source: '/data', target: '/data', readonly: true }], labels: { team: 'ml' }, timeout_s: 3600, restart: { policy: 'on-failure', max_retries: 2 }, cpus: 8, memory_bytes: 32 * GiB }),
  succeeded: () => job({ id: 'c3succ00-0000-4000-8000-000000000003', node: 'gpu01', name: 'prep', state: 'succeeded', exit_code: 0, submitted_at: s(50), started_at: s(51), finished_at: s(80),
    history: [{ ts: s(50), state: 'queued', reason: null }, { ts: s(51), state: 'running', reason: null }, { ts: s(80), state: 'succeeded', reason: 'exit code 0' }] }),
  failed: () => job({ id: 'd4fail00-0000-4000-8000-000000000004', node: 'mig01', name: 'eval', state: 'failed', exit_code: 3, reason: 'exit code 3', submitted_at: s(300), started_at: s(301), finished_at: s(330),
    history: [{ ts: s(300), state: 'queued', reason: null }, { ts: s(301), state: 'running', reason: null }, { ts: s(330), state: 'failed', reason: 'exit code 3' }] }),
  oom: () => job({ id: 'e5oom000-0000-4000-8000-000000000005', node: 'mig01', name: 'finetune', state: 'failed', exit_code: 137, oom_killed: true, reason: 'OOM killed', submitted_at: s(200), started_at: s(201), finished_at: s(260) }, { gpus: 1 }),
  cancelled: () => job({ id: 'f6canc00-0000-4000-8000-000000000006', node: 'cpu01', name: 'sweep', state: 'cancelled', reason: 'cancelled by ops', submitted_at: s(400), finished_at: s(410) }, { labels: { team: 'research' } }),
  lost: () => job({ id: '07lost00-0000-4000-8000-000000000007', node: 'cpu01', name: 'long', state: 'lost', reason: 'agent restarted; job handle could not be recovered', submitted_at: s(30), started_at: s(31), finished_at: s(500) }),
};

/** The fixture jobs of a node, newest first (as job.list returns them). */
function jobsOf(name: string): Job[] {
  return Object.values(JOBS).map((f) => f()).filter((j) => j.node === name).sort((a, b) => b.submitted_at - a.submitted_at);
}

/** A stand-in sha256 (64 hex digits) derived from a string. */
const sha = (of: string) => Buffer.from(of).toString('hex').padEnd(64, '0').slice(0, 64);

/** A model version as model.list reports it; `over` wins. */
export function modelVersion(over: Partial<ModelVersion> & { name: string; version: string }): ModelVersion {
  return {
    sha256: sha(`${over.name}@${over.version}`), size_bytes: 97_800_000,
    inputs: [{ name: 'input', dtype: 'float32', shape: ['batch', 3, 224, 224] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 1000] }],
    pushed_by: 'alice', pushed_at: T0 - 3 * 86_400_000, loaded: false, provider: null,
    lineage: { git_commit: null, dataset_sha256: null, dataset_name: null, meta: {} },
    ...over,
  };
}

/** Serving figures (model.stats plus the client's rate); `over` wins. */
export function modelStats(over: Partial<ModelStatsRow> & { name: string; version: string }): ModelStatsRow {
  return { requests: 0, errors: 0, in_flight: 0, latency_us: { p50: null, p95: null, queue_p50: null, compute_p50: null }, requests_per_s: null, ...over };
}

/** Model versions of the fixture fleet: resnet50 v1 and v2 on gpu01 (v2 busy on CUDA), v2 on mig01 (fresh: figures unknown), a BERT not loaded. */
export const MODELS = {
  resnetV1: () => modelVersion({ name: 'resnet50', version: '1', pushed_at: T0 - 10 * 86_400_000, loaded: true, provider: 'cuda', sha256: 'b1'.padEnd(64, 'e'),
    lineage: { git_commit: '3f2a9c1', dataset_sha256: 'd5e1'.padEnd(64, '7'), dataset_name: 'imagenet-val.parquet', meta: { top1: '0.761' } } }),
  resnetV2: () => modelVersion({ name: 'resnet50', version: '2', pushed_at: T0 - 2 * 3_600_000, loaded: true, provider: 'cuda', pushed_by: 'bob', sha256: 'c2'.padEnd(64, 'f'),
    lineage: { git_commit: '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d', dataset_sha256: 'ab12cd34ef56'.padEnd(64, '9'), dataset_name: 'imagenet-train-2024.tar', meta: { top1: '0.802', epochs: '90' } } }),
  bert: () => modelVersion({ name: 'bert-sentiment', version: '0.3.1', size_bytes: 438 * MiB, pushed_at: T0 - 86_400_000,
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 128] }, { name: 'attention_mask', dtype: 'int64', shape: ['batch', 128] }],
    outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 2] }] }),
};

/** Model versions and serving figures per fixture node (null: not reported, as for unreachable nodes). */
function modelsOf(name: string): ModelVersion[] | null {
  if (name === 'gpu01') return [MODELS.resnetV2(), MODELS.resnetV1(), MODELS.bert()];
  if (name === 'mig01') return [{ ...MODELS.resnetV2(), provider: 'cpu', pushed_at: T0 - 30 * 60_000 }];
  return [];
}
/** Live performance (model.performance, 1h): resnet50@2 on gpu01 has labels, resnet50@1 requests without labels yet. */
export const PERF_V2: ModelPerfRow = { name: 'resnet50', version: '2', task: 'classification', accuracy: 0.75, f1: 0.7333, mae: null, rmse: null, labelled: 40, requests: 120, window: '1h' };
function modelPerfOf(name: string): ModelPerfRow[] | null {
  if (name !== 'gpu01') return null;
  return [PERF_V2, { name: 'resnet50', version: '1', task: null, accuracy: null, f1: null, mae: null, rmse: null, labelled: 0, requests: 12, window: '1h' }];
}

function modelStatsOf(name: string): ModelStatsRow[] | null {
  if (name === 'gpu01') return [
    modelStats({ name: 'resnet50', version: '2', requests: 48_210, errors: 3, in_flight: 2, requests_per_s: 41.7, latency_us: { p50: 6_200, p95: 14_800, queue_p50: 350, compute_p50: 5_800 } }),
    modelStats({ name: 'resnet50', version: '1', requests: 1_200, errors: 0, in_flight: 0, requests_per_s: 0.4, latency_us: { p50: 7_900, p95: 21_000, queue_p50: 120, compute_p50: 7_700 } }),
  ];
  // Loaded a minute ago: no request yet, so no latency, and no rate before the second poll.
  if (name === 'mig01') return [modelStats({ name: 'resnet50', version: '2' })];
  return [];
}

/** 2× RTX A5000; pid 4242 (torchrun) uses both GPUs. */
export const a5000 = (): FleetNode => {
  const g0 = gpu({ index: 0, uuid: 'GPU-aaaa-0', processes: [
    { gpu_uuid: 'GPU-aaaa-0', pid: 4242, type: 'C', process_name: 'python train.py', used_gpu_memory_bytes: 5 * GiB, gpu_instance_id: null, compute_instance_id: null, job_id: 'job-17' },
    { gpu_uuid: 'GPU-aaaa-0', pid: 1337, type: 'G', process_name: 'Xorg', used_gpu_memory_bytes: 200 * MiB, gpu_instance_id: null, compute_instance_id: null },
  ] });
  const g1 = gpu({ index: 1, uuid: 'GPU-aaaa-1', gpu_util_pct: 91, gpu_temp_c: 71, fb_used_bytes: 20 * GiB, processes: [
    { gpu_uuid: 'GPU-aaaa-1', pid: 4242, type: 'C', process_name: 'python train.py', used_gpu_memory_bytes: 19.5 * GiB, gpu_instance_id: null, compute_instance_id: null, job_id: 'job-17' },
  ] });
  const state: GpuState = { status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: '550.54.15', cuda_version: '12.4', gpus: [g0, g1] };
  return upNode('gpu01', state, { 'gpu.GPU-aaaa-0.gpu_util_pct': [0, 10, null, 50, 100, 48], 'host.cpu_util_pct': [30, 35, 37] });
};

/** A CPU-only box: no NVIDIA driver. */
export const noGpu = (): FleetNode =>
  upNode('cpu01', { status: 'absent', reason: 'no NVIDIA driver (libnvidia-ml.so.1 not found)', source: 'none', simulated: false, driver_version: null, cuda_version: null, gpus: [] });

/** An agent that cannot be reached. */
export const unreachable = (): FleetNode => ({
  name: 'gpu03', url: 'ws://gpu03:7070', conn: 'unreachable', error: 'connect ECONNREFUSED 10.0.0.13:7070', retryInMs: 4200,
  info: null, stats: null, lastSeen: null, history: {}, jobs: null, models: null, modelStats: null, driftAlerts: null, rollouts: null,
});

/** An agent that rejected our token. */
export const unauthorized = (): FleetNode => ({ ...unreachable(), name: 'gpu04', conn: 'unauthorized', error: 'token rejected', retryInMs: null });

/** An A100 in MIG mode: utilisation is not reported (null). */
export const mig = (): FleetNode => {
  const g = gpu({ index: 0, uuid: 'GPU-mig-0', name: 'NVIDIA A100-SXM4-80GB', gpu_util_pct: null, mem_copy_util_pct: null, fan_speed_pct: null,
    fb_total_bytes: 80 * GiB, fb_used_bytes: 30 * GiB, power_usage_w: 88, power_limit_w: 400, mig_mode: 'enabled',
    mig_instances: [{ mig_uuid: 'MIG-1', index: 0, gpu_instance_id: 1, compute_instance_id: 0, profile: '3g.40gb', sm_count: 42, fb_total_bytes: 40 * GiB, fb_used_bytes: 30 * GiB }] });
  return upNode('mig01', { status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: '550.54.15', cuda_version: '12.4', gpus: [g] });
};

/** A node whose GPUs are replayed from fixtures (sim source). */
export const simulated = (): FleetNode => {
  const n = a5000();
  const g = { ...n.stats!.gpu, source: 'sim' as const, simulated: true };
  return { ...n, name: 'sim01', url: 'ws://sim01:7070', stats: { ...n.stats!, node: 'sim01', gpu: g }, jobs: [], models: [], modelStats: [] };
};

/** The default test fleet, in inventory order. */
export const fleet = (): FleetNode[] => [a5000(), noGpu(), unreachable(), unauthorized(), mig(), simulated()];

/** In-memory FleetSource: a documented test double of the data interface. */
export class FakeFleetSource implements FleetSource {
  private listeners = new Set<() => void>();
  constructor(public nodes: FleetNode[] = fleet()) {}
  snapshot(): FleetNode[] {
    return this.nodes;
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Replace the nodes and notify. */
  set(nodes: FleetNode[]): void {
    this.nodes = nodes;
    for (const l of this.listeners) l();
  }
  /** Number of subscribed listeners. */
  get listenerCount(): number {
    return this.listeners.size;
  }
}

/** In-memory FleetActions: records calls, answers like an agent, and lets tests push log lines. */
export class FakeFleetActions implements FleetActions {
  submitted: { node: string; spec: JobSpecInput }[] = [];
  cancelled: { node: string; id: string }[] = [];
  /** When set, submitJob rejects with this message (what the agent says when it refuses). */
  refuse: string | null = null;
  /** Lines returned when following starts, by "node/id". */
  stored = new Map<string, LogLine[]>();
  private followers = new Map<string, Set<(l: LogLine) => void>>();
  disposed = 0;

  async submitJob(node: string, spec: JobSpecInput): Promise<Job> {
    this.submitted.push({ node, spec });
    if (this.refuse) throw new Error(this.refuse);
    return job({ id: 'new00000-0000-4000-8000-000000000099', node, state: 'queued', name: spec.name ?? null });
  }
  async cancelJob(node: string, id: string): Promise<Job> {
    this.cancelled.push({ node, id });
    return job({ id, node, state: 'running', reason: 'cancel requested' });
  }
  async followLogs(node: string, id: string, onLine: (l: LogLine) => void, tail = 200): Promise<() => void> {
    const key = `${node}/${id}`;
    for (const l of (this.stored.get(key) ?? []).slice(-tail)) onLine(l);
    const set = this.followers.get(key) ?? new Set();
    set.add(onLine);
    this.followers.set(key, set);
    return () => {
      set.delete(onLine);
      this.disposed++;
    };
  }
  /** Push a new line to every follower of a job. */
  emit(node: string, id: string, l: LogLine): void {
    for (const f of this.followers.get(`${node}/${id}`) ?? []) f(l);
  }
  /** Drift reports by "node/name" (an Error is thrown as the agent's refusal); history likewise. */
  reports = new Map<string, DriftReport | Error>();
  histories = new Map<string, DriftHistory | Error>();
  /** Every drift call, in order, with the time it started and whether another drift call was still running. */
  driftCalls: { method: 'report' | 'history'; node: string; name: string; opts: DriftReportOptions & DriftHistoryOptions; at: number; overlapping: boolean }[] = [];
  /** Delay of each drift answer (ms). */
  driftDelayMs = 0;
  private driftRunning = 0;
  private async driftAnswer<T>(method: 'report' | 'history', node: string, name: string, opts: DriftReportOptions & DriftHistoryOptions, from: Map<string, T | Error>): Promise<T> {
    // report and history of one poll run together; overlapping means a call of another poll was still running.
    this.driftCalls.push({ method, node, name, opts, at: Date.now(), overlapping: this.driftRunning > (method === 'history' ? 1 : 0) });
    this.driftRunning++;
    try {
      if (this.driftDelayMs) await new Promise((r) => setTimeout(r, this.driftDelayMs));
      const v = from.get(`${node}/${name}`);
      if (v === undefined) throw new Error(`model "${name}" not found on ${node}`);
      if (v instanceof Error) throw v;
      return v;
    } finally { this.driftRunning--; }
  }
  async driftReport(node: string, name: string, opts: DriftReportOptions = {}): Promise<DriftReport> {
    const r = await this.driftAnswer('report', node, name, opts, this.reports);
    // Like the agent: histograms only when asked, and only the asked feature's when one is named.
    return { ...r, window: opts.window ?? r.window, features: r.features.map(({ histogram, ...f }) => (opts.histograms && (!opts.feature || opts.feature === f.name) && histogram ? { ...f, histogram } : f)) };
  }
  async driftHistory(node: string, name: string, opts: DriftHistoryOptions = {}): Promise<DriftHistory> {
    return this.driftAnswer('history', node, name, opts, this.histories);
  }
  /** Rollouts the rollout actions answer with, by "node/id" (an Error is thrown as the coordinator's refusal). */
  rollouts = new Map<string, Rollout | Error>();
  /** Every rollout action, in order. */
  rolloutCalls: { op: 'pause' | 'resume' | 'promote' | 'abort'; node: string; id: string }[] = [];
  private async rolloutAnswer(op: 'pause' | 'resume' | 'promote' | 'abort', node: string, id: string): Promise<Rollout> {
    this.rolloutCalls.push({ op, node, id });
    const r = this.rollouts.get(`${node}/${id}`);
    if (r === undefined) throw new Error(`rollout ${id} not found on ${node}`);
    if (r instanceof Error) throw r;
    const state = op === 'pause' ? 'paused' : op === 'resume' ? 'running' : op === 'promote' ? 'promoted' : 'aborted';
    return { ...r, state };
  }
  async pauseRollout(node: string, id: string): Promise<Rollout> { return this.rolloutAnswer('pause', node, id); }
  async resumeRollout(node: string, id: string): Promise<Rollout> { return this.rolloutAnswer('resume', node, id); }
  async promoteRollout(node: string, id: string): Promise<Rollout> { return this.rolloutAnswer('promote', node, id); }
  async abortRollout(node: string, id: string): Promise<Rollout> { return this.rolloutAnswer('abort', node, id); }
  /** Every models action, in order (load, unload, alias, rollout start). */
  modelCalls: { op: 'load' | 'unload' | 'alias' | 'startRollout'; node: string; args: unknown }[] = [];
  async loadModel(node: string, name: string, version: string): Promise<ModelVersion> {
    this.modelCalls.push({ op: 'load', node, args: { name, version } });
    return modelVersion({ name, version, loaded: true });
  }
  async unloadModel(node: string, name: string, version: string): Promise<ModelVersion> {
    this.modelCalls.push({ op: 'unload', node, args: { name, version } });
    return modelVersion({ name, version, loaded: false });
  }
  async aliasModel(node: string, name: string, targets: AliasTarget[], reason?: string): Promise<ModelAliasRow> {
    this.modelCalls.push({ op: 'alias', node, args: { name, targets, reason } });
    return { name, targets, updated_at: T0 };
  }
  async startRollout(node: string, params: RolloutStartParams): Promise<Rollout> {
    this.modelCalls.push({ op: 'startRollout', node, args: params });
    throw new Error(this.refuse ?? 'not in this fake');
  }
  /** Followers currently subscribed to a job. */
  followerCount(node: string, id: string): number {
    return this.followers.get(`${node}/${id}`)?.size ?? 0;
  }
}
