import { Box } from 'ink';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Line } from '../components/Line.js';
import { Table, type TableRow } from '../components/Table.js';
import { CLUSTER_COLUMNS, clusterFilterText, clusterRow, clusterRowSpan } from '../render/cluster-row.js';
import { columnWidth, layoutColumns } from '../render/table.js';
import { matchFilter, type Frame } from '../state.js';
import type { Tone } from '../theme.js';
import type { ViewProps } from './types.js';

/** Nodes of the cluster view after the frame's filter. */
export function visibleNodes(nodes: readonly FleetNode[], frame: Frame): FleetNode[] {
  return nodes.filter((n) => matchFilter(clusterFilterText(n), frame.filter));
}

/** Tone of a node row by reachability. */
function rowTone(n: FleetNode): Tone | undefined {
  if (n.conn === 'up') return n.stats ? undefined : 'warn';
  return n.conn === 'connecting' ? 'warn' : 'bad';
}

/** Cluster overview: one row per node (reachability, CPU, memory, GPUs, temperature, power). */
export function ClusterView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleNodes(nodes, frame);
  if (shown.length === 0) {
    const why = nodes.length === 0 ? 'no nodes in the inventory; add one with `fleetml cluster add NAME URL`' : `no node matches "${frame.filter}"; <esc> clears the filter`;
    return <Line text={why} width={width} theme={theme} tone="dim" />;
  }
  const layout = layoutColumns(CLUSTER_COLUMNS, width - 2);
  const gpuWidth = columnWidth(layout, 4) ?? 20;
  const rows: TableRow[] = shown.map((n) => ({ key: n.name, cells: clusterRow(n, gpuWidth), tone: rowTone(n), span: clusterRowSpan(n) }));
  return (
    <Box flexDirection="column">
      <Table columns={CLUSTER_COLUMNS} layout={layout} rows={rows} selected={selected} height={height - 1} width={width} theme={theme} />
    </Box>
  );
}
