import { Box } from 'ink';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { Job } from '../../shared/protocol/jobs.js';
import { Line } from '../components/Line.js';
import { Table, type TableRow } from '../components/Table.js';
import { JOB_COLUMNS, allJobs, jobCounts, jobFilterText, jobKey, jobRow, jobTone, matchStateFilter } from '../render/job-row.js';
import { layoutColumns } from '../render/table.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Jobs of the fleet after the frame's state filter and text filter, newest first. */
export function visibleJobs(nodes: readonly FleetNode[], frame: Frame): Job[] {
  return allJobs(nodes).filter((j) => matchStateFilter(j.state, frame.stateFilter ?? 'all') && matchFilter(jobFilterText(j), frame.filter));
}

/** The summary line: counts, the state filter, and which reachable nodes have not reported jobs yet. */
function summary(nodes: readonly FleetNode[], shown: readonly Job[], frame: Frame): string {
  const parts = [jobCounts(shown), `states: ${frame.stateFilter ?? 'all'} (f)`];
  const unknown = nodes.filter((n) => n.jobs === null).map((n) => n.name);
  if (unknown.length) parts.push(`no job list yet from ${unknown.join(', ')}`);
  return parts.join(' · ');
}

/** Every job of the fleet, one row each (node, id, name, state, driver, GPUs, age, reason). */
export function JobsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleJobs(nodes, frame);
  const head = <Line text={summary(nodes, shown, frame)} width={width} theme={theme} tone="dim" />;
  if (shown.length === 0) {
    const any = nodes.some((n) => n.jobs?.length);
    const why = !any
      ? 'no jobs yet; <n> submits one (or `fleetml job run`)'
      : `no job matches${frame.filter ? ` "${frame.filter}"` : ''} (states: ${frame.stateFilter ?? 'all'}); <esc> clears the filter, <f> changes states`;
    return (
      <Box flexDirection="column">
        {height > 1 ? head : null}
        <Line text={why} width={width} theme={theme} tone="dim" />
      </Box>
    );
  }
  const now = Date.now();
  const rows: TableRow[] = shown.map((j) => ({ key: jobKey(j), cells: jobRow(j, now), tone: jobTone(j) }));
  return (
    <Box flexDirection="column">
      {height > 2 ? head : null}
      <Table columns={JOB_COLUMNS} layout={layoutColumns(JOB_COLUMNS, width - 2)} rows={rows} selected={selected} height={Math.max(0, height - (height > 2 ? 2 : 1))} width={width} theme={theme} />
    </Box>
  );
}
