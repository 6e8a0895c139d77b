import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { Job } from '../../shared/protocol/jobs.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { allJobs, jobColumns, jobCounts, jobFilterText, jobKey, jobRow, jobTone, matchStateFilter } from '../render/job-row.js';
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

/** What the view says when no row is shown: nothing yet, or nothing matches the filter. */
function emptyText(nodes: readonly FleetNode[], frame: Frame): string {
  const any = nodes.some((n) => n.jobs?.length);
  return !any
    ? 'no jobs yet; <n> submits one (or `fleetml job run`)'
    : `no job matches${frame.filter ? ` "${frame.filter}"` : ''} (states: ${frame.stateFilter ?? 'all'}); <esc> clears the filter, <f> changes states`;
}

/** Every job of the fleet, one row each (node, id, name, state, driver, GPUs, age, reason). */
export function JobsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleJobs(nodes, frame);
  const now = Date.now();
  const rows: TableRow[] = shown.map((j) => ({ key: jobKey(j), cells: jobRow(j, now), tone: jobTone(j) }));
  return (
    <ListScreen summary={summary(nodes, shown, frame)} columns={jobColumns(rows.map((r) => r.cells))} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={emptyText(nodes, frame)} />
  );
}
