import type { NodeInfoResult, NodeStats, Job, JobSpecInput, LogLine, ModelVersion, DriftAlert, DriftReport, DriftPoint } from '../protocol/index.js';
import type { Automation, AutomationRun } from '../protocol/automation.js';
import type { Rollout } from '../protocol/rollout.js';
import type { VersionPerformance } from '../protocol/feedback.js';
import type { AliasTarget } from '../protocol/models.js';
import type { RolloutStartParams } from '../protocol/rollout.js';

/** The routing of one model name on a node (model.alias): its weighted versions. */
export interface ModelAliasRow { name: string; targets: AliasTarget[]; updated_at: number }

/** Live performance of one model version (model.performance over the last hour), with the model's name. */
export type ModelPerfRow = VersionPerformance & { name: string };

/** Serving figures of one model version (model.stats). */
export interface ModelStatsRow { name: string; version: string; requests: number; errors: number; in_flight: number; latency_us: { p50: number | null; p95: number | null; queue_p50: number | null; compute_p50: number | null }; requests_per_s: number | null; avg_batch?: number | null }

/** Connection state of one agent as the fleet client sees it. */
export type NodeConn = 'connecting' | 'up' | 'unreachable' | 'unauthorized' | 'incompatible';

/** Everything a view needs about one node: pure data, no sockets. */
export interface FleetNode {
  /** Inventory name (what the user typed in `fleetml cluster add`). */
  name: string;
  url: string;
  conn: NodeConn;
  /** Last connection error, shown in the UI when conn !== 'up'. */
  error: string | null;
  /** ms until the next reconnect attempt when unreachable. */
  retryInMs: number | null;
  info: NodeInfoResult | null;
  stats: NodeStats | null;
  /** Local time (ms) of the last sample received. */
  lastSeen: number | null;
  /** Short series for sparklines, newest last, keyed by metric ("host.cpu_util_pct", "gpu.<uuid>.gpu_util_pct", …). */
  history: Record<string, (number | null)[]>;
  /** Jobs of the node (newest first), kept live by the job.events topic; null until known. */
  jobs: Job[] | null;
  /** Model versions on the node, kept live by the models topic (polled with model.list from an agent older than protocol
   * 1.9); null until known. */
  models: ModelVersion[] | null;
  /** Routing of each aliased model name (pushed by the models topic); null or absent until known or from an older agent. */
  aliases?: ModelAliasRow[] | null;
  /** Serving statistics per loaded version (model.stats), with a request rate from the last two polls. */
  modelStats: ModelStatsRow[] | null;
  /** Live performance per version with kept requests (model.performance, window 1h), polled with the models; null or
   * absent until known or when the agent keeps no feedback. */
  modelPerf?: ModelPerfRow[] | null;
  /** Active drift alerts of the node's models, kept live by the drift.alerts topic; null until known or when the agent has no drift monitoring. */
  driftAlerts: DriftAlert[] | null;
  /** Rollouts this node coordinates (newest first), kept live by the rollout.events topic; null until known or when the agent has no rollouts. */
  rollouts: Rollout[] | null;
  /** Automations this node stores, kept live by the auto.events topic; null or absent until known or when the agent has none. */
  automations?: Automation[] | null;
  /** Their runs (the newest 50 of the snapshot, then every change), newest first. */
  autoRuns?: AutomationRun[] | null;
}

/** A read-only, observable view of the fleet: what the TUI's views consume. */
export interface FleetSource {
  /** Current snapshot of every node, in inventory order. */
  snapshot(): FleetNode[];
  /** Called (throttled) whenever any node changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Options of FleetActions.driftReport (agent defaults: newest version, window 1h, no histograms). */
export interface DriftReportOptions { version?: string; window?: string; feature?: string; histograms?: boolean }
/** Options of FleetActions.driftHistory (agent defaults: newest version, 288 points). */
export interface DriftHistoryOptions { version?: string; limit?: number }
/** Closed windows (oldest first) and alerts of one model version (drift.history). */
export interface DriftHistory { name: string; version: string; points: DriftPoint[]; alerts: DriftAlert[] }

/** Drift reads a view may ask for (drift.report, drift.history); rejects with the agent's message. */
export interface DriftReader {
  /** The drift of one model version over a window vs its reference. */
  driftReport(node: string, name: string, opts?: DriftReportOptions): Promise<DriftReport>;
  /** Scores per closed window and the alerts of one model version. */
  driftHistory(node: string, name: string, opts?: DriftHistoryOptions): Promise<DriftHistory>;
}

/** What views may ask the fleet to do (the TUI's only way to act; views never touch a socket). */
export interface FleetActions extends DriftReader {
  /** Queue a job on a node; rejects with the agent's message when refused. */
  submitJob(node: string, spec: JobSpecInput): Promise<Job>;
  /** Cancel a job (SIGTERM, then SIGKILL after its grace period). */
  cancelJob(node: string, id: string, reason?: string): Promise<Job>;
  /** Follow a job's output: the last `tail` lines, then each new one. Resolves to a disposer. */
  followLogs(node: string, id: string, onLine: (l: LogLine) => void, tail?: number): Promise<() => void>;
  /** Hold a running rollout at its current step (on its coordinator); resolves with the rollout after. */
  pauseRollout(node: string, id: string, reason?: string): Promise<Rollout>;
  /** Continue a paused rollout. */
  resumeRollout(node: string, id: string, reason?: string): Promise<Rollout>;
  /** Skip the remaining steps: every target node serves the candidate at 100 %. */
  promoteRollout(node: string, id: string, reason?: string): Promise<Rollout>;
  /** Stop a rollout and restore the previous routing everywhere it changed it. */
  abortRollout(node: string, id: string, reason?: string): Promise<Rollout>;
  /** Load (and warm up) a model version on a node; resolves with the version after. */
  loadModel(node: string, name: string, version: string): Promise<ModelVersion>;
  /** Unload a model version on a node. */
  unloadModel(node: string, name: string, version: string): Promise<ModelVersion>;
  /** Route a model name on a node to weighted versions (summing to 100); every target is loaded first. */
  aliasModel(node: string, name: string, targets: AliasTarget[], reason?: string): Promise<ModelAliasRow>;
  /** Start a rollout coordinated by `node`; resolves with the rollout as started. */
  startRollout(node: string, params: RolloutStartParams): Promise<Rollout>;
}
