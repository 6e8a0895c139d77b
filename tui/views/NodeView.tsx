import { Box } from 'ink';
import type { ReactElement } from 'react';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Line } from '../components/Line.js';
import { Table } from '../components/Table.js';
import { connLabel } from '../render/cluster-row.js';
import { GPU_COLUMNS, gpuRow, gpuSectionTitle } from '../render/gpu-row.js';
import { hostSummaryLines } from '../render/host-summary.js';
import { nodeLayout } from '../render/node-layout.js';
import { slurmSummaryLine } from '../render/slurm-summary.js';
import { driverAlertLine } from '../render/driver-line.js';
import { resourcesOf } from '../node-resources.js';
import { PROCESS_COLUMNS, processRows, type ProcessRow } from '../render/process-row.js';
import { columnWidth, layoutColumns } from '../render/table.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** The node a node-view frame shows, or undefined. */
export function frameNode(nodes: readonly FleetNode[], frame: Frame): FleetNode | undefined {
  return nodes.find((n) => n.name === frame.arg);
}

/** Process rows of the node after the frame's filter (the filter applies to the process table). */
export function visibleProcesses(node: FleetNode | undefined, frame: Frame): ProcessRow[] {
  const rows = processRows(node?.stats?.gpu.gpus ?? []);
  return rows.filter((r) => matchFilter(r.cells.join(' '), frame.filter));
}

/** Node detail: host summary (and its Slurm cluster), one row per GPU with a util sparkline, and the GPU process table. */
export function NodeView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const node = frameNode(nodes, frame);
  if (!node) return <Line text={`node "${frame.arg}" not found; :nodes lists the nodes`} width={width} theme={theme} tone="bad" />;
  const lines: ReactElement[] = [];
  let h = height;
  if (node.conn !== 'up') {
    lines.push(<Line key="conn" text={`${connLabel(node)}${node.error ? `: ${node.error}` : ''}`} width={width} theme={theme} tone="bad" />);
    h -= 1;
  }
  const stats = node.stats;
  // a driver that cannot run tasks (the container engine went away): its running jobs are kept, but say so
  const drivers = stats ? driverAlertLine(stats.drivers, stats.ts, width) : null;
  if (drivers) {
    lines.push(<Line key="drivers" text={drivers} width={width} theme={theme} tone="warn" />);
    h -= 1;
  }
  const gpu = stats?.gpu ?? null;
  const gpus = gpu?.gpus ?? [];
  const procs = visibleProcesses(node, frame);
  const slurm = resourcesOf(node)?.slurm;
  // The Slurm cluster this node submits to, as the last host line (it is capacity the node hands out, like its own).
  const host = [...hostSummaryLines(node.info, stats?.host ?? null, width), ...(slurm ? [slurmSummaryLine(slurm, width)] : [])];
  const lay = nodeLayout(h, host.length, gpus.length, procs.length);
  host.slice(0, lay.hostLines).forEach((l, i) => lines.push(<Line key={`h${i}`} text={l} width={width} theme={theme} />));
  const gl = layoutColumns(GPU_COLUMNS, width - 2);
  const sparkWidth = columnWidth(gl, 8) ?? 8;
  return (
    <Box flexDirection="column">
      {lines}
      {lay.gpuSection && gpu ? (
        <Line text={gpuSectionTitle(gpu)} width={width} theme={theme} bold tone={gpu.simulated ? 'sim' : gpu.status === 'ok' ? 'accent' : 'warn'} />
      ) : null}
      {lay.gpuSection && gpus.length > 0 ? (
        <Table
          columns={GPU_COLUMNS}
          layout={gl}
          rows={gpus.map((g) => ({
            key: g.uuid,
            cells: gpuRow(g, { history: node.history, sparkWidth, simulated: gpu?.simulated }),
            tone: g.status === 'error' ? 'bad' : undefined,
          }))}
          selected={-1}
          height={lay.gpuRows}
          width={width}
          theme={theme}
        />
      ) : null}
      {lay.processSection ? (
        <Table
          columns={PROCESS_COLUMNS}
          layout={layoutColumns(PROCESS_COLUMNS, width - 2)}
          rows={procs.map((p) => ({ key: p.key, cells: p.cells }))}
          selected={selected}
          height={lay.processRows}
          width={width}
          theme={theme}
        />
      ) : null}
    </Box>
  );
}
