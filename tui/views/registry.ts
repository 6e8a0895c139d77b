// The view registry: every view the console knows, in one list. Later issues (jobs, models, rollouts,
// drift) plug in by adding a ViewSpec here; `:` commands, help and Enter all read from this list.
import { ClusterView, visibleNodes } from './ClusterView.js';
import { NodeView, frameNode, visibleProcesses } from './NodeView.js';
import type { ViewSpec } from './types.js';

/** Cluster overview: the root view (first in VIEWS). */
export const clusterSpec: ViewSpec = {
  id: 'cluster',
  aliases: ['nodes', 'no', 'cl'],
  arg: 'none',
  title: (f) => (f.filter ? `cluster (filter: ${f.filter})` : 'cluster'),
  items: (nodes, f) => visibleNodes(nodes, f).map((n) => n.name),
  drill: (name) => ({ view: 'node', arg: name }),
  Component: ClusterView,
};

/** Node detail, opened with Enter on a node or `:node NAME`. */
export const nodeSpec: ViewSpec = {
  id: 'node',
  aliases: ['nd'],
  arg: 'required',
  argName: 'node name',
  title: (f) => `node ${f.arg ?? ''}${f.filter ? ` (process filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleProcesses(frameNode(nodes, f), f).map((p) => p.key),
  Component: NodeView,
};

/** All views; the first is the root of the view stack. */
export const VIEWS: readonly ViewSpec[] = [clusterSpec, nodeSpec];

/** The spec of a view id (falls back to the root view). */
export function viewSpec(id: string, views: readonly ViewSpec[] = VIEWS): ViewSpec {
  return views.find((v) => v.id === id) ?? views[0];
}
