import { z } from 'zod';
import { NodeStats } from './telemetry.js';
import { Job, LogLine } from './jobs.js';
import { DriftAlert, DriftAlertEvent } from './drift.js';
import { Rollout, RolloutEvent } from './rollout.js';
import { Automation, AutomationRun, AutoEvent } from './automation.js';
import { ModelsEvent, ModelsSnapshot } from './models.js';

import type { Role } from './auth.js';

/**
 * A topic, declared once like a method: its params, the snapshot the subscribe answer carries, the data of each
 * event, the role it needs, and whether a slow subscriber may skip events (conflate: latest wins). The agent's
 * providers, the client's decoding and the generated docs all read this one declaration.
 */
export interface TopicSpec<P extends z.ZodType = z.ZodType, S extends z.ZodType = z.ZodType, E extends z.ZodType = z.ZodType> {
  description: string;
  params: P;
  snapshot: S;
  event: E;
  role: Role;
  conflate: boolean;
}

/** Declare a topic (identity at run time; keeps each schema's own type). */
export function defineTopic<P extends z.ZodType, S extends z.ZodType, E extends z.ZodType>(t: TopicSpec<P, S, E>): TopicSpec<P, S, E> { return t; }

const NoParams = z.object({}).strict();

/** Topics a client can subscribe to. */
export const topics = {
  'node.stats': defineTopic({
    description: 'Telemetry samples at the agent interval. Snapshot: the latest sample (null before the first). Conflated: a slow subscriber gets the latest sample, never a backlog.',
    params: NoParams,
    snapshot: NodeStats.nullable(),
    event: NodeStats,
    role: 'read',
    conflate: true,
  }),
  'job.events': defineTopic({
    description: 'Every change of every job on the node (submitted, state changes, removal). Snapshot: {jobs} (the newest 500). Event: {job} or {removed: id}. Environment values are hidden (job.get shows them to operate tokens).',
    params: NoParams,
    snapshot: z.object({ jobs: z.array(Job) }),
    event: z.union([z.object({ job: Job }), z.object({ removed: z.string() })]),
    role: 'read',
    conflate: false,
  }),
  'job.logs': defineTopic({
    description: 'Live output of one job. Snapshot: {lines} (the last `tail` stored lines, default 200); events: each new line. Not conflated (lines are never dropped while the peer keeps up; a peer that stops reading is disconnected).',
    params: z.object({ id: z.string().min(1).max(64), tail: z.number().int().min(0).max(10_000).default(200) }).strict(),
    snapshot: z.object({ lines: z.array(LogLine) }),
    event: LogLine,
    role: 'read',
    conflate: false,
  }),
  'drift.alerts': defineTopic({
    description: 'Drift alerts of every model on the node: raised after K consecutive drifting windows, resolved by the first window that does not drift. Snapshot: {alerts} (the active ones). Event: {type: raised|resolved, alert}.',
    params: NoParams,
    snapshot: z.object({ alerts: z.array(DriftAlert) }),
    event: DriftAlertEvent,
    role: 'read',
    conflate: false,
  }),
  'rollout.events': defineTopic({
    description: 'Every change of every rollout this agent coordinates (step, node state, decision). Snapshot: {rollouts} (the newest 50). Event: {rollout}.',
    params: NoParams,
    snapshot: z.object({ rollouts: z.array(Rollout) }),
    event: RolloutEvent,
    role: 'read',
    conflate: false,
  }),
  'auto.events': defineTopic({
    description: 'Every change of every automation of the node and every step of their runs (suppressed triggers included). Snapshot: {automations, runs} (the newest 50 runs). Event: {automation}, {removed: name} or {run}.',
    params: NoParams,
    snapshot: z.object({ automations: z.array(Automation), runs: z.array(AutomationRun) }),
    event: AutoEvent,
    role: 'read',
    conflate: false,
  }),
  'models': defineTopic({
    description: 'Every change of the model registry and serving state of the node: a version pushed or registered, loaded or unloaded (by model.load, a first request, an alias, an evaluation), removed, and every routing change (model.alias, rollouts). Snapshot: {models, aliases} (every version as model.list answers, and the traffic split of each aliased name). Event: {model}, {removed: {name, version}} or {alias}. Since protocol 1.9.',
    params: NoParams,
    snapshot: ModelsSnapshot,
    event: ModelsEvent,
    role: 'read',
    conflate: false,
  }),
} as const;
export type TopicName = keyof typeof topics;
/** Params of a topic as the agent sees them (defaults applied). */
export type TopicParams<T extends TopicName> = z.output<(typeof topics)[T]['params']>;
/** Params of a topic as a client sends them (defaults optional). */
export type TopicParamsIn<T extends TopicName> = z.input<(typeof topics)[T]['params']>;
/** The snapshot a subscribe answer carries for a topic. */
export type TopicSnapshot<T extends TopicName> = z.infer<(typeof topics)[T]['snapshot']>;
/** The data of one event of a topic. */
export type TopicEvent<T extends TopicName> = z.infer<(typeof topics)[T]['event']>;
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
