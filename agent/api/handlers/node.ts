import { RpcError, PROTOCOL_VERSION } from '../../../shared/protocol/index.js';
import type { HostInfo, NodeInfoResult } from '../../../shared/protocol/index.js';
import type { AgentConfig } from '../../config.js';
import type { Collector } from '../../telemetry/collector.js';
import type { HandlerMap } from '../rpc.js';

/** Facts node.info needs that are fixed at start-up. */
export interface NodeFacts { config: AgentConfig; nodeId: string; agentVersion: string; startedAt: number; url: string | null; hostInfo: () => HostInfo; warnings: string[] }

/** node.info, node.stats, node.history. */
export function nodeHandlers(facts: NodeFacts, collector: Collector): HandlerMap {
  const latest = () => {
    const s = collector.latest;
    if (!s) throw new RpcError('UNAVAILABLE', 'no telemetry sample yet; retry in a second');
    return s;
  };
  return {
    'node.info': (): NodeInfoResult => {
      const g = collector.latest?.gpu;
      return {
        name: facts.config.name,
        node_id: facts.nodeId,
        labels: facts.config.labels,
        agent_version: facts.agentVersion,
        protocol_version: PROTOCOL_VERSION,
        started_at: facts.startedAt,
        url: facts.url,
        host: facts.hostInfo(),
        gpu: {
          status: g?.status ?? 'unavailable', reason: g ? g.reason : 'no sample yet', source: g?.source ?? 'none',
          simulated: g?.simulated ?? false, driver_version: g?.driver_version ?? null, cuda_version: g?.cuda_version ?? null,
          count: g?.gpus.length ?? 0,
        },
        telemetry: { interval_ms: facts.config.telemetry.interval_ms, history_s: facts.config.telemetry.history_s },
        peers: facts.config.peers.map((p) => p.name),
        max_frame_bytes: facts.config.api.max_frame_bytes,
        model_providers: facts.config.models.providers,
        warnings: facts.warnings,
      };
    },
    'node.stats': () => latest(),
    'node.history': (p) => ({
      node: facts.config.name,
      interval_ms: collector.intervalMs,
      capacity: collector.history.capacity,
      series: collector.history.read(p.metrics, p.since, p.points),
    }),
  };
}
