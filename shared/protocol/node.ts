import { z } from 'zod';
import { HostInfo, NodeStats, GpuState } from './telemetry.js';

/** node.info — identity, labels, static host facts and the GPU source of this agent. */
export const NodeInfoParams = z.object({}).strict();
export const NodeInfoResult = z.object({
  name: z.string(),
  node_id: z.string(),
  labels: z.record(z.string(), z.string()),
  agent_version: z.string(),
  protocol_version: z.string(),
  started_at: z.number(),
  url: z.string().nullable(),
  host: HostInfo,
  gpu: GpuState.pick({ status: true, reason: true, source: true, simulated: true, driver_version: true, cuda_version: true }).extend({
    count: z.number().int(),
  }),
  telemetry: z.object({ interval_ms: z.number().int(), history_s: z.number().int() }),
  peers: z.array(z.string()),
  /** Since 1.6; an older agent's answer reads as none. */
  /** Since 1.7: the largest WebSocket frame the agent accepts (api.max_frame_bytes), so a client can size upload chunks. */
  max_frame_bytes: z.number().int().optional(),
  /** Since 1.7: execution providers a model load tries, in order (models.providers); CUDA is tried only where the node has a GPU. */
  model_providers: z.array(z.enum(['cuda', 'cpu'])).optional(),
  warnings: z.array(z.string()).default([]).describe('Problems with how this agent is set up that an operator should fix, e.g. listening on a non-loopback address without TLS (also logged at start-up). Empty when there are none.'),
});
export type NodeInfoResult = z.infer<typeof NodeInfoResult>;

/** node.stats — the latest telemetry sample. */
export const NodeStatsParams = z.object({}).strict();
export const NodeStatsResult = NodeStats;

/** node.history — ring-buffered series per metric (default 15 min at 1 Hz). */
export const NodeHistoryParams = z.object({
  /** Metric keys to return (see docs/telemetry.md); all when omitted. */
  metrics: z.array(z.string().max(200)).max(500).optional(),
  /** Only points newer than this agent timestamp (ms). */
  since: z.number().optional(),
  /** At most this many newest points per series (a sparkline needs its width, not 15 minutes). */
  points: z.number().int().min(1).max(100_000).optional(),
}).strict();
export const HistorySeries = z.object({ ts: z.array(z.number()), values: z.array(z.number().nullable()) });
export const NodeHistoryResult = z.object({
  node: z.string(),
  interval_ms: z.number().int(),
  capacity: z.number().int(),
  series: z.record(z.string(), HistorySeries),
});
export type NodeHistoryResult = z.infer<typeof NodeHistoryResult>;
