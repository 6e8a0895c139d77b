import { z } from 'zod';
import { NodeStats } from './telemetry.js';
import { Job, LogLine } from './jobs.js';
import { DriftAlertEvent } from './drift.js';
import { RolloutEvent } from './rollout.js';

/** Topics a client can subscribe to: params schema and the data each event carries. */
export const topics = {
  'node.stats': {
    description: 'Telemetry samples at the agent interval. Conflated: a slow subscriber gets the latest sample, never a backlog.',
    params: z.object({}).strict(),
    data: NodeStats,
    role: 'read' as const,
  },
  'job.events': {
    description: 'Every change of every job on the node (submitted, state changes, removal). Snapshot: {jobs} (the newest 500). Event data: {job} or {removed: id}.',
    params: z.object({}).strict(),
    data: z.union([z.object({ job: Job }), z.object({ removed: z.string() })]),
    role: 'read' as const,
  },
  'job.logs': {
    description: 'Live output of one job. Snapshot: {lines} (the last `tail` stored lines, default 200); events: each new line. Not conflated (lines are never dropped while the peer keeps up; a peer that stops reading is disconnected).',
    params: z.object({ id: z.string().min(1).max(64), tail: z.number().int().min(0).max(10_000).default(200) }).strict(),
    data: LogLine,
    role: 'read' as const,
  },
  'drift.alerts': {
    description: 'Drift alerts of every model on the node: raised after K consecutive drifting windows, resolved by the first window that does not drift. Snapshot: {alerts} (the active ones). Event data: {type: raised|resolved, alert}.',
    params: z.object({}).strict(),
    data: DriftAlertEvent,
    role: 'read' as const,
  },
  'rollout.events': {
    description: 'Every change of every rollout this agent coordinates (step, node state, decision). Snapshot: {rollouts} (the newest 50). Event data: {rollout}.',
    params: z.object({}).strict(),
    data: RolloutEvent,
    role: 'read' as const,
  },
} as const;
export type TopicName = keyof typeof topics;
export type TopicData<T extends TopicName> = z.infer<(typeof topics)[T]['data']>;
export const TopicNameSchema = z.enum(Object.keys(topics) as [TopicName, ...TopicName[]]);

/** subscribe — answers the current snapshot, then events arrive as `subscription` notifications. */
export const SubscribeParams = z.object({
  topic: z.string().min(1).max(128),
  params: z.record(z.string().max(128), z.unknown()).optional(),
}).strict();
export const SubscribeResult = z.object({ subscriptionId: z.string(), snapshot: z.unknown() });

/** unsubscribe — ends one subscription of this connection. */
export const UnsubscribeParams = z.object({ subscriptionId: z.string().min(1).max(64) }).strict();
export const UnsubscribeResult = z.object({ ok: z.boolean() });

/** Params of the `subscription` notification. */
export const SubscriptionEvent = z.object({ subscriptionId: z.string(), seq: z.number().int(), data: z.unknown() });
