import client from 'prom-client';
import type { NodeStats, GpuSample } from '../../shared/protocol/index.js';

const MiB = 1024 * 1024;

/** DCGM-exporter field names → how to read them from a sample. Units as dcgm-exporter reports them. */
const DCGM: Array<[name: string, help: string, read: (g: GpuSample) => number | null]> = [
  ['DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).', (g) => g.gpu_util_pct],
  ['DCGM_FI_DEV_MEM_COPY_UTIL', 'Memory utilization (in %).', (g) => g.mem_copy_util_pct],
  ['DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).', (g) => mib(g.fb_used_bytes)],
  ['DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).', (g) => mib(g.fb_free_bytes)],
  ['DCGM_FI_DEV_FB_TOTAL', 'Framebuffer memory total (in MiB).', (g) => mib(g.fb_total_bytes)],
  ['DCGM_FI_DEV_FB_RESERVED', 'Framebuffer memory reserved (in MiB).', (g) => mib(g.fb_reserved_bytes)],
  ['DCGM_FI_DEV_GPU_TEMP', 'GPU temperature (in C).', (g) => g.gpu_temp_c],
  ['DCGM_FI_DEV_MEMORY_TEMP', 'Memory temperature (in C).', (g) => g.memory_temp_c],
  ['DCGM_FI_DEV_POWER_USAGE', 'Power draw (in W).', (g) => g.power_usage_w],
  ['DCGM_FI_DEV_ENFORCED_POWER_LIMIT', 'Enforced power limit (in W).', (g) => g.power_limit_w],
  ['DCGM_FI_DEV_SM_CLOCK', 'SM clock frequency (in MHz).', (g) => g.sm_clock_mhz],
  ['DCGM_FI_DEV_MEM_CLOCK', 'Memory clock frequency (in MHz).', (g) => g.mem_clock_mhz],
  ['DCGM_FI_DEV_FAN_SPEED', 'Fan speed (in %).', (g) => g.fan_speed_pct],
  ['DCGM_FI_DEV_PCIE_LINK_GEN', 'PCIe link generation.', (g) => g.pcie_link_gen],
  ['DCGM_FI_DEV_PCIE_LINK_WIDTH', 'PCIe link width.', (g) => g.pcie_link_width],
  ['DCGM_FI_DEV_ECC_SBE_VOL_TOTAL', 'Total number of single-bit volatile ECC errors.', (g) => g.ecc_corrected_volatile],
  ['DCGM_FI_DEV_ECC_DBE_VOL_TOTAL', 'Total number of double-bit volatile ECC errors.', (g) => g.ecc_uncorrected_volatile],
];
const mib = (b: number | null) => (b === null ? null : b / MiB);
const GPU_LABELS = ['gpu', 'UUID', 'pci_bus_id', 'device', 'modelName', 'Hostname'] as const;

/**
 * Sampling period of the event-loop delay histogram behind fleetml_agent_nodejs_eventloop_lag_*_seconds. prom-client's
 * default (10 ms) is a libuv timer that wakes the idle agent 100 times a second: measured, it was the largest part of
 * the idle CPU (more than the telemetry tick itself). At 100 ms every stall of 100 ms or more is still recorded (it
 * delays a timer that was due) and the idle loop wakes 10 times a second.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Prometheus registry of one agent: DCGM-named GPU gauges, host gauges, agent counters, process metrics.
 * Gauges read the latest sample at scrape time (collect), so telemetry ticks pay nothing for /metrics. */
export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly rpcCalls: client.Counter<'method' | 'outcome'>;
  readonly authFailures: client.Counter<string>;
  readonly connections: client.Gauge<string>;
  readonly sampleSeconds: client.Histogram<string>;
  readonly modelRequests: client.Counter<'model' | 'version' | 'outcome'>;
  readonly modelLatency: client.Histogram<'model' | 'version' | 'phase'>;
  readonly modelBatch: client.Histogram<'model' | 'version'>;

  constructor(hostname: string, latest: () => NodeStats | null, extra: { conflated: () => number; subscriptions: () => number }) {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r, prefix: 'fleetml_agent_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    for (const [name, help, read] of DCGM) {
      new client.Gauge({ name, help, labelNames: GPU_LABELS, registers: [r], collect() {
        this.reset();
        const s = latest();
        for (const g of s?.gpu.gpus ?? []) {
          const v = read(g);
          if (v === null || !Number.isFinite(v)) continue; // unknown values are absent, never 0
          this.set({ gpu: String(g.index), UUID: g.uuid, pci_bus_id: g.pci_bus_id ?? '', device: `nvidia${g.index}`, modelName: g.name ?? '', Hostname: hostname }, v);
        }
      } });
    }
    new client.Gauge({ name: 'fleetml_gpu_info', help: 'GPU source state: 1 with labels status, source, simulated.', labelNames: ['status', 'source', 'simulated', 'Hostname'], registers: [r], collect() {
      this.reset();
      const s = latest();
      if (s) this.set({ status: s.gpu.status, source: s.gpu.source, simulated: String(s.gpu.simulated), Hostname: hostname }, 1);
    } });
    new client.Gauge({ name: 'fleetml_gpu_process_memory_bytes', help: 'GPU memory used per process.', labelNames: ['gpu', 'UUID', 'pid', 'process_name', 'Hostname'], registers: [r], collect() {
      this.reset();
      for (const g of latest()?.gpu.gpus ?? []) for (const p of g.processes) {
        if (p.used_gpu_memory_bytes !== null) this.set({ gpu: String(g.index), UUID: g.uuid, pid: String(p.pid), process_name: p.process_name ?? '', Hostname: hostname }, p.used_gpu_memory_bytes);
      }
    } });
    const host = (name: string, help: string, read: (s: NodeStats) => number | null) => new client.Gauge({ name, help, registers: [r], collect() {
      this.reset();
      const s = latest(); const v = s ? read(s) : null;
      if (v !== null && Number.isFinite(v)) this.set(v);
    } });
    host('fleetml_host_cpu_utilization_percent', 'Host CPU utilisation over the last interval (%).', (s) => s.host.cpu.util_pct);
    host('fleetml_host_load1', 'Host 1-minute load average.', (s) => s.host.cpu.load1);
    host('fleetml_host_memory_total_bytes', 'Host memory total.', (s) => s.host.memory.total_bytes);
    host('fleetml_host_memory_used_bytes', 'Host memory used (total minus available).', (s) => s.host.memory.used_bytes);
    host('fleetml_host_swap_used_bytes', 'Host swap used.', (s) => s.host.memory.swap_used_bytes);
    host('fleetml_host_disk_read_bytes_per_second', 'Disk read rate.', (s) => s.host.disk_io.read_bytes_per_s);
    host('fleetml_host_disk_write_bytes_per_second', 'Disk write rate.', (s) => s.host.disk_io.write_bytes_per_s);
    new client.Gauge({ name: 'fleetml_host_network_bytes_per_second', help: 'Network rate per interface and direction.', labelNames: ['iface', 'direction'], registers: [r], collect() {
      this.reset();
      for (const n of latest()?.host.network ?? []) {
        if (n.rx_bytes_per_s !== null) this.set({ iface: n.iface, direction: 'rx' }, n.rx_bytes_per_s);
        if (n.tx_bytes_per_s !== null) this.set({ iface: n.iface, direction: 'tx' }, n.tx_bytes_per_s);
      }
    } });
    new client.Gauge({ name: 'fleetml_driver_available', help: 'Whether a task driver can run tasks (1) or not (0), e.g. the container engine does not answer.', labelNames: ['driver'], registers: [r], collect() {
      this.reset();
      for (const d of latest()?.drivers ?? []) this.set({ driver: d.name }, d.available ? 1 : 0);
    } });
    this.rpcCalls = new client.Counter({ name: 'fleetml_rpc_calls_total', help: 'JSON-RPC calls by method and outcome.', labelNames: ['method', 'outcome'], registers: [r] });
    this.authFailures = new client.Counter({ name: 'fleetml_auth_failures_total', help: 'Connections refused for a missing or bad token.', registers: [r] });
    this.connections = new client.Gauge({ name: 'fleetml_ws_connections', help: 'Open WebSocket connections.', registers: [r] });
    this.sampleSeconds = new client.Histogram({ name: 'fleetml_telemetry_sample_seconds', help: 'Time to take one telemetry sample.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [r] });
    this.modelRequests = new client.Counter({ name: 'fleetml_model_requests_total', help: 'Inference requests by model, version and outcome.', labelNames: ['model', 'version', 'outcome'], registers: [r] });
    this.modelLatency = new client.Histogram({ name: 'fleetml_model_latency_seconds', help: 'Inference latency by phase: queue (decode, validation, waiting for a worker) and compute (session run).', labelNames: ['model', 'version', 'phase'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [r] });
    this.modelBatch = new client.Histogram({ name: 'fleetml_model_batch_size', help: 'Rows per session run (1 without dynamic batching).', labelNames: ['model', 'version'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [r] });
    new client.Gauge({ name: 'fleetml_subscriptions', help: 'Active subscriptions.', registers: [r], collect() { this.set(extra.subscriptions()); } });
    new client.Counter({ name: 'fleetml_events_conflated_total', help: 'Telemetry events replaced by a newer one for slow subscribers.', registers: [r], collect() { this.reset(); this.inc(extra.conflated()); } });
  }

  /** Drift gauges, read at scrape time from the last judged window of each model version. */
  addDrift(read: () => DriftGaugeData): void {
    const r = this.registry;
    const perFeature = (name: string, help: string, value: (f: DriftGaugeData['versions'][number]['features'][number]) => number | null, withMethod = false) =>
      new client.Gauge({ name, help, labelNames: withMethod ? ['model', 'version', 'feature', 'role', 'method'] : ['model', 'version', 'feature', 'role'], registers: [r], collect() {
        this.reset();
        for (const v of read().versions) for (const f of v.features) {
          const x = value(f);
          if (x === null || !Number.isFinite(x)) continue;
          const labels: Record<string, string> = { model: v.name, version: v.version, feature: f.name, role: f.role };
          if (withMethod) labels.method = f.method;
          this.set(labels, x);
        }
      } });
    perFeature('fleetml_drift_score', 'Drift score of a feature in the last closed window: p-value (ks, chisquare) or distance (wasserstein, jensenshannon, psi).', (f) => f.score, true);
    perFeature('fleetml_drift_threshold', 'Threshold the score is compared with.', (f) => (f.score === null ? null : f.threshold), true);
    perFeature('fleetml_drift_detected', '1 when the feature drifted in the last closed window.', (f) => (f.status === 'ok' || f.status === 'drift' ? (f.drift ? 1 : 0) : null));
    perFeature('fleetml_drift_psi', 'Population stability index of the feature in the last closed window.', (f) => f.psi);
    perFeature('fleetml_drift_missing_ratio', 'Share of missing values (null, NaN) of the feature in the last closed window.', (f) => (f.cur_rows > 0 ? f.missing.current_share : null));
    const perVersion = (name: string, help: string, value: (v: DriftGaugeData['versions'][number]) => number) =>
      new client.Gauge({ name, help, labelNames: ['model', 'version'], registers: [r], collect() { this.reset(); for (const v of read().versions) this.set({ model: v.name, version: v.version }, value(v)); } });
    perVersion('fleetml_drift_share', 'Share of input features drifting in the last closed window.', (v) => v.point.drift_share);
    perVersion('fleetml_drift_dataset_drift', '1 when the last closed window showed dataset drift.', (v) => (v.point.dataset_drift ? 1 : 0));
    perVersion('fleetml_drift_alert_active', '1 while a drift alert is active for the version.', (v) => (v.alert ? 1 : 0));
    new client.Gauge({ name: 'fleetml_drift_capture_sample_rate', help: 'Share of a model\'s inferences captured for drift (below 1 while its traffic exceeds drift.max_samples_per_s).', labelNames: ['model'], registers: [r], collect() {
      this.reset();
      const d = read();
      for (const m of new Set(d.versions.map((v) => v.name))) this.set({ model: m }, d.sampleRates.get(m) ?? 1);
      for (const [m, x] of d.sampleRates) this.set({ model: m }, x);
    } });
    new client.Counter({ name: 'fleetml_drift_capture_dropped_total', help: 'Inferences not captured because the capture buffer was full.', registers: [r], collect() { this.reset(); this.inc(read().dropped); } });
  }

  /** Live performance gauges per version over the last hour of request time (read at scrape time from the join store). */
  addFeedback(read: () => Array<{ name: string; version: string; accuracy: number | null; f1: number | null; mae: number | null; rmse: number | null; labelled: number }>): void {
    const r = this.registry;
    // one read per scrape, shared by the five gauges (each collect() asks; the first one in a scrape computes)
    let cache: { at: number; rows: ReturnType<typeof read> } | null = null;
    const rows = () => { const t = Date.now(); if (!cache || t - cache.at > 500) cache = { at: t, rows: read() }; return cache.rows; };
    const gauge = (name: string, help: string, value: (v: ReturnType<typeof read>[number]) => number | null) =>
      new client.Gauge({ name, help, labelNames: ['model', 'version'], registers: [r], collect() {
        this.reset();
        for (const v of rows()) { const x = value(v); if (x !== null && Number.isFinite(x)) this.set({ model: v.name, version: v.version }, x); }
      } });
    gauge('fleetml_model_accuracy', 'Accuracy of a classifier on the labelled requests (model.feedback) made in the last hour.', (v) => v.accuracy);
    gauge('fleetml_model_f1', 'Macro F1 of a classifier on the labelled requests made in the last hour.', (v) => v.f1);
    gauge('fleetml_model_mae', 'Mean absolute error of a regressor on the labelled requests made in the last hour.', (v) => v.mae);
    gauge('fleetml_model_rmse', 'Root mean squared error of a regressor on the labelled requests made in the last hour.', (v) => v.rmse);
    gauge('fleetml_model_labelled_requests', 'Kept requests made in the last hour that have a label.', (v) => v.labelled);
  }
}

/** What the drift gauges read. */
export interface DriftGaugeData {
  versions: Array<{ name: string; version: string; alert: boolean; point: { drift_share: number; dataset_drift: boolean }; features: Array<{ name: string; role: string; method: string; score: number | null; threshold: number; drift: boolean; status: string; psi: number | null; cur_rows: number; missing: { current_share: number } }> }>;
  sampleRates: ReadonlyMap<string, number>;
  dropped: number;
}
