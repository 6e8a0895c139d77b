import { useEffect, useMemo, useRef, useState } from 'react';
import type { FleetNode } from '../shared/client/fleet-types.js';
import type { NodeResources } from '../shared/protocol/jobs.js';
import { withResources } from './node-resources.js';
import { ResourcePoller, type ResourcePollerOptions, type ResourceReader } from './resource-poller.js';

/**
 * The nodes with their node.resources attached, polled through `reader` (every node that is up) for as long as the
 * console runs; without a reader the nodes are returned as they are. A node that comes up is polled at once.
 */
export function useNodeResources(reader: ResourceReader | undefined, nodes: FleetNode[], opts?: ResourcePollerOptions): FleetNode[] {
  const [res, setRes] = useState<Record<string, NodeResources>>({});
  const up = nodes.filter((n) => n.conn === 'up').map((n) => n.name);
  const names = useRef(up);
  names.current = up;
  const poller = useRef<ResourcePoller | null>(null);
  useEffect(() => {
    if (!reader) return;
    const p = new ResourcePoller(reader, () => names.current, setRes, opts);
    poller.current = p;
    p.start();
    return () => {
      p.dispose();
      if (poller.current === p) poller.current = null;
    };
  }, [reader, opts?.pollMs, opts?.maxBackoffMs]);
  const upKey = up.join('\n');
  useEffect(() => { poller.current?.nudge(); }, [upKey]);
  return useMemo(() => (reader ? withResources(nodes, res) : nodes), [reader, nodes, res]);
}
