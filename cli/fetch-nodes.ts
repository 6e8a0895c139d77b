import { AgentClient } from '../shared/client/agent-client.js';
import type { Target } from '../shared/client/inventory.js';
import type { NodeInfoResult, NodeResources, NodeStats } from '../shared/protocol/index.js';

/** What `fleetml nodes` learns about one agent. */
export interface NodeReport { name: string; url: string; state: 'up' | 'unreachable' | 'unauthorized' | 'incompatible' | 'error'; error: string | null; info: NodeInfoResult | null; stats: NodeStats | null;
  /** node.resources: capacity, drivers and, on a Slurm login node, the cluster's partitions (null if it could not be read). */
  resources: NodeResources | null }

/** Ask every target for node.info and node.stats in parallel; an agent that is down is reported, not fatal. */
export async function fetchNodes(targets: Target[], timeoutMs = 5000): Promise<NodeReport[]> {
  return Promise.all(targets.map(async (t): Promise<NodeReport> => {
    const c = new AgentClient({ url: t.url, token: t.token, ca: t.ca, reconnect: false, connectTimeoutMs: timeoutMs, callTimeoutMs: timeoutMs });
    try {
      await c.connect();
      const [info, stats, resources] = await Promise.all([c.call('node.info', {}), c.call('node.stats', {}), c.call('node.resources', {}).catch(() => null)]);
      return { name: t.unnamed ? info.name : t.name, url: t.url, state: 'up', error: null, info, stats, resources };
    } catch (e) {
      const st = c.state === 'unauthorized' || c.state === 'incompatible' ? c.state : c.state === 'open' ? 'error' : 'unreachable';
      return { name: t.name, url: t.url, state: st, error: (e as Error).message, info: null, stats: null, resources: null };
    } finally {
      await c.close();
    }
  }));
}
