import type { TopicName } from '../../shared/protocol/index.js';
import type { Collector } from '../telemetry/collector.js';

/** Server side of a topic: a snapshot for the subscribe answer, then a stream of events. */
export interface TopicProvider {
  snapshot(params: unknown): unknown;
  subscribe(params: unknown, emit: (data: unknown) => void): () => void;
  /** Whether a slow subscriber may skip events (latest wins). */
  conflate: boolean;
}

/** Providers of this topics. */
export function createTopicProviders(collector: Collector): Partial<Record<TopicName, TopicProvider>> {
  return {
    'node.stats': {
      snapshot: () => collector.latest,
      subscribe: (_p, emit) => collector.onSample(emit),
      conflate: true,
    },
  };
}
