import type { Automation, AutomationRun } from '../protocol/automation.js';
import type { NodeInfoResult, NodeStats, Job, JobSpecInput, LogLine, ModelVersion, DriftAlert, DriftReport, DriftPoint } from '../protocol/index.js';
import type { Rollout } from '../protocol/rollout.js';

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
  /** Model versions on the node (model.list), refreshed every few seconds; null until known. */
  models: ModelVersion[] | null;
  /** Serving statistics per loaded version (model.stats), with a request rate from the last two polls. */
  modelStats: ModelStatsRow[] | null;
  /** Active drift alerts of the node's models, kept live by the drift.alerts topic; null until known or when the agent has no drift monitoring. */
  driftAlerts: DriftAlert[] | null;
  /** Rollouts this node coordinates (newest first), kept live by the rollout.events topic; null until known or when the agent has no rollouts. */
  rollouts: Rollout[] | null;
  /** Automations of this node and their newest runs (newest first), kept live by auto.events; null/absent until known or when the agent has none. */
  autos?: { automations: Automation[]; runs: AutomationRun[] } | null;
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
}
