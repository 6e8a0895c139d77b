import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { Job } from '../../shared/protocol/jobs.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { allJobs, jobColumns, jobCounts, jobFilterText, jobKey, jobRow, jobTone, matchStateFilter } from '../render/job-row.js';
import { sortRows, sortedColumns, byText, type SortKeys } from '../render/sort.js';
import { staleMark, staleNote, withStale } from '../render/stale.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Sorts of the jobs view (shift+N/O/S/A); the default order is newest first. */
export const JOB_SORTS: SortKeys<Job> = {
  node: { column: 0, compare: (a, b) => byText(a.node, b.node) },
  name: { column: 2, compare: (a, b) => byText(a.name ?? '', b.name ?? '') },
  state: { column: 3, compare: (a, b) => byText(a.state, b.state) },
  age: { column: 6, compare: (a, b) => b.submitted_at - a.submitted_at },
};

/** Jobs of the fleet after the frame's state filter and text filter, newest first (or in the frame's sort). */
export function visibleJobs(nodes: readonly FleetNode[], frame: Frame): Job[] {
  return sortRows(allJobs(nodes).filter((j) => matchStateFilter(j.state, frame.stateFilter ?? 'all') && matchFilter(jobFilterText(j), frame.filter)), frame.sort, JOB_SORTS);
}

/** The summary line: counts, the state filter, and which reachable nodes have not reported jobs yet. */
function summary(nodes: readonly FleetNode[], shown: readonly Job[], frame: Frame, now: number): string {
  const parts = [jobCounts(shown), `states: ${frame.stateFilter ?? 'all'} (f)`];
  const unknown = nodes.filter((n) => n.jobs === null).map((n) => n.name);
  if (unknown.length) parts.push(`no job list yet from ${unknown.join(', ')}`);
  const stale = staleNote(nodes, (n) => !!n.jobs?.length, now);
  if (stale) parts.push(stale);
  return parts.join(' · ');
}

/** What the view says when no row is shown: nothing yet, or nothing matches the filter. */
function emptyText(nodes: readonly FleetNode[], frame: Frame): string {
  const any = nodes.some((n) => n.jobs?.length);
  return !any
    ? 'no jobs yet; <n> submits one (or `fleetml job run`)'
    : `no job matches${frame.filter ? ` "${frame.filter}"` : ''} (states: ${frame.stateFilter ?? 'all'}); <esc> clears the filter, <f> changes states`;
}

/**
 * A job row: its cells and tone, or, for a node the console cannot reach, dimmed with "stale 14:02 · …" in REASON (the
 * job's state is what the node last said).
 */
export function jobTableRow(j: Job, node: FleetNode | undefined, now: number): TableRow {
  const cells = jobRow(j, now);
  const mark = staleMark(node, now);
  if (!mark) return { key: jobKey(j), cells, tone: jobTone(j) };
  cells[7] = withStale(mark, cells[7]);
  return { key: jobKey(j), cells, tone: 'dim' };
}

/** Every job of the fleet, one row each (node, id, name, state, driver, GPUs, age, reason). */
export function JobsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleJobs(nodes, frame);
  const now = Date.now();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const rows: TableRow[] = shown.map((j) => jobTableRow(j, byName.get(j.node), now));
  return (
    <ListScreen summary={summary(nodes, shown, frame, now)} columns={sortedColumns(jobColumns(rows.map((r) => r.cells)), frame.sort, JOB_SORTS)} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={emptyText(nodes, frame)} />
  );
}
