import type { TopicName } from '../../shared/protocol/index.js';
import type { Collector } from '../telemetry/collector.js';
import type { JobManager } from '../jobs/manager.js';
import type { Job } from '../../shared/protocol/index.js';
import { redactEnv } from './handlers/jobs.js';
import type { DriftMonitor } from '../drift/monitor.js';
import type { RolloutCoordinator } from '../rollout/coordinator.js';

/** Server side of a topic: a snapshot for the subscribe answer, then a stream of events. */
export interface TopicProvider {
  snapshot(params: unknown): unknown;
  subscribe(params: unknown, emit: (data: unknown) => void): () => void;
  /** Whether a slow subscriber may skip events (latest wins). */
  conflate: boolean;
}

/** Providers of this topics. */
export function createTopicProviders(collector: Collector, jobs: JobManager, drift: DriftMonitor | null = null, rollouts: RolloutCoordinator | null = null): Partial<Record<TopicName, TopicProvider>> {
  return {
    ...(rollouts ? { 'rollout.events': {
      snapshot: () => ({ rollouts: rollouts.list(undefined, 50) }),
      subscribe: (_p: unknown, emit: (data: unknown) => void) => { const on = (r: unknown) => emit({ rollout: r }); rollouts.on('rollout', on); return () => { rollouts.off('rollout', on); }; },
      conflate: false,
    } } : {}),
    ...(drift ? { 'drift.alerts': {
      snapshot: () => ({ alerts: drift.activeAlerts() }),
      subscribe: (_p: unknown, emit: (data: unknown) => void) => { drift.on('alert', emit); return () => { drift.off('alert', emit); }; },
      conflate: false,
    } } : {}),
    'node.stats': {
      snapshot: () => collector.latest,
      subscribe: (_p, emit) => collector.onSample(emit),
      conflate: true,
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
      conflate: false,
    },
    'job.logs': {
      snapshot: (p) => { const q = p as { id: string; tail: number }; return { lines: q.tail === 0 ? [] : jobs.logs(q.id, undefined, q.tail).lines }; },
      subscribe: (p, emit) => jobs.followLogs((p as { id: string }).id, emit),
      conflate: false,
    },
  };
}
