// A node's last node.resources answer, carried on its FleetNode (the console polls it: resource-poller.ts). Pure.
import type { FleetNode } from '../shared/client/fleet-types.js';
import type { NodeResources } from '../shared/protocol/jobs.js';

/** A fleet node with its last node.resources answer (absent or null: not known). */
export type NodeWithResources = FleetNode & { resources?: NodeResources | null };

/** The last node.resources answer of a node, or null when none is known. */
export function resourcesOf(n: FleetNode): NodeResources | null {
  return (n as NodeWithResources).resources ?? null;
}

/** The nodes with their resources attached (a node that already carries some keeps them: the fleet client wins). */
export function withResources(nodes: readonly FleetNode[], res: Readonly<Record<string, NodeResources>>): FleetNode[] {
  return nodes.map((n) => (resourcesOf(n) || !res[n.name] ? n : { ...n, resources: res[n.name] }));
}
