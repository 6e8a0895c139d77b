import type { TopicEvent, TopicName, TopicParams, TopicSnapshot } from '../../shared/protocol/index.js';
import type { Collector } from '../telemetry/collector.js';
import type { JobManager } from '../jobs/manager.js';
import type { Job, Rollout } from '../../shared/protocol/index.js';
import { redactEnv } from './handlers/jobs.js';
import type { DriftMonitor } from '../drift/monitor.js';
import type { RolloutCoordinator } from '../rollout/coordinator.js';
import type { AutomationManager } from '../automation/manager.js';
import type { Automation, AutomationRun } from '../../shared/protocol/index.js';
import type { ModelRegistry, RegistryChange } from '../serving/registry.js';
import type { ServingManager } from '../serving/serving.js';
import type { StoredVersion } from '../serving/registry.js';

/** What the models topic reads: the registry (versions, routing) and serving (whether each version is loaded). */
export interface ModelsSource { registry: ModelRegistry; serving: ServingManager }

/**
 * Server side of a topic: a snapshot for the subscribe answer, then a stream of events, typed by the topic's
 * declaration in shared/protocol/subscribe.ts (which also says whether events conflate).
 */
export interface TopicProvider<T extends TopicName> {
  snapshot(params: TopicParams<T>): TopicSnapshot<T>;
  subscribe(params: TopicParams<T>, emit: (event: TopicEvent<T>) => void): () => void;
}

/** The providers an agent serves, by topic; a topic without one answers UNAVAILABLE. */
export type TopicProviders = { [T in TopicName]?: TopicProvider<T> };

/** Providers of the agent's topics (drift and rollouts only where the agent runs them). */
export function createTopicProviders(collector: Collector, jobs: JobManager, drift: DriftMonitor | null = null, rollouts: RolloutCoordinator | null = null, auto: AutomationManager | null = null, models: ModelsSource | null = null): TopicProviders {
  return {
    ...(models ? { 'models': {
      snapshot: () => ({ models: models.registry.list().map((v) => models.serving.view(v)), aliases: models.registry.aliases() }),
      subscribe: (_p, emit) => {
        const onChange = (c: RegistryChange) => {
          if ('version' in c) emit({ model: models.serving.view(c.version) });
          else if ('removed' in c) emit({ removed: c.removed });
          else emit({ alias: c.alias });
        };
        const onLoaded = (v: StoredVersion) => emit({ model: models.serving.view(v) });
        const offR = models.registry.onChange(onChange);
        const offS = models.serving.onLoadedChange(onLoaded);
        return () => { offR(); offS(); };
      },
    } } : {}),
    ...(auto ? { 'auto.events': {
      snapshot: () => ({ automations: auto.list(), runs: auto.history({ limit: 50 }) }),
      subscribe: (_p, emit) => {
        const onA = (a: Automation) => emit({ automation: a });
        const onR = (r: AutomationRun) => emit({ run: r });
        const onX = (name: string) => emit({ removed: name });
        auto.on('automation', onA); auto.on('run', onR); auto.on('removed', onX);
        return () => { auto.off('automation', onA); auto.off('run', onR); auto.off('removed', onX); };
      },
    } } : {}),
    ...(rollouts ? { 'rollout.events': {
      snapshot: () => ({ rollouts: rollouts.list(undefined, 50) }),
      subscribe: (_p, emit) => { const on = (r: Rollout) => emit({ rollout: r }); rollouts.on('rollout', on); return () => { rollouts.off('rollout', on); }; },
    } } : {}),
    ...(drift ? { 'drift.alerts': {
      snapshot: () => ({ alerts: drift.activeAlerts() }),
      subscribe: (_p, emit) => { drift.on('alert', emit); return () => { drift.off('alert', emit); }; },
    } } : {}),
    'node.stats': {
      snapshot: () => collector.latest,
      subscribe: (_p, emit) => collector.onSample(emit),
    },
    'job.events': {
      // The stream goes to every reader: environment values are hidden (job.get shows them to operate tokens).
      snapshot: () => ({ jobs: jobs.list(undefined, undefined, 500).map(redactEnv) }),
      subscribe: (_p, emit) => {
        const onJob = (job: Job) => emit({ job: redactEnv(job) });
        const onRemoved = (id: string) => emit({ removed: id });
        jobs.on('job', onJob); jobs.on('removed', onRemoved);
        return () => { jobs.off('job', onJob); jobs.off('removed', onRemoved); };
      },
    },
    'job.logs': {
      snapshot: (p) => ({ lines: p.tail === 0 ? [] : jobs.logs(p.id, undefined, p.tail).lines }),
      subscribe: (p, emit) => jobs.followLogs(p.id, emit),
    },
  };
}
