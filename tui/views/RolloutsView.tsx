import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { ROLLOUT_COLUMNS, allRollouts, rolloutCounts, rolloutFilterText, rolloutKey, rolloutRow, rolloutTone, type RolloutEntry } from '../render/rollout-row.js';
import { byNumber, byText, sortRows, sortedColumns, type SortKeys } from '../render/sort.js';
import { staleMark, staleNote, withStale } from '../render/stale.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Sorts of the rollouts view (shift+O/N/S/A; shift+P stays promote); the default order is unfinished first, newest first. */
export const ROLLOUT_SORTS: SortKeys<RolloutEntry> = {
  node: { column: 0, compare: (a, b) => byText(a.node, b.node) },
  name: { column: 2, compare: (a, b) => byText(a.rollout.name, b.rollout.name) },
  state: { column: 5, compare: (a, b) => byText(a.rollout.state, b.rollout.state) },
  age: { column: 8, compare: (a, b) => byNumber(b.rollout.created_at, a.rollout.created_at) },
};

/** Rollouts of every coordinator after the frame's filter: unfinished first, then newest first (or in the frame's sort). */
export function visibleRollouts(nodes: readonly FleetNode[], frame: Frame): RolloutEntry[] {
  return sortRows(allRollouts(nodes).filter((e) => matchFilter(rolloutFilterText(e), frame.filter)), frame.sort, ROLLOUT_SORTS);
}

/** The summary line: counts, and which reachable nodes do not report rollouts. */
function summary(nodes: readonly FleetNode[], shown: readonly RolloutEntry[]): string {
  const parts = [rolloutCounts(shown)];
  const silent = nodes.filter((n) => n.conn === 'up' && n.rollouts === null).map((n) => n.name);
  if (silent.length) parts.push(`no rollouts from ${silent.join(', ')} (agent without rollouts?)`);
  if (shown.length) parts.push('<enter> opens one');
  return parts.join(' · ');
}

/** What the view says when no row is shown: nothing yet, or nothing matches the filter. */
function emptyText(nodes: readonly FleetNode[], frame: Frame): string {
  const any = nodes.some((n) => n.rollouts?.length);
  return !any ? 'no rollouts yet; start one with `fleetml rollout start MODEL --to VERSION`' : `no rollout matches "${frame.filter}"; <esc> clears the filter`;
}

/** Every rollout of the fleet (pushed by rollout.events on each coordinator); Enter opens one. */
export function RolloutsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleRollouts(nodes, frame);
  const now = Date.now();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // A coordinator the console cannot reach: its rollouts stay, dimmed, "stale 14:02" before the last decision.
  const rows: TableRow[] = shown.map((e) => {
    const cells = rolloutRow(e, now);
    const mark = staleMark(byName.get(e.node), now);
    if (!mark) return { key: rolloutKey(e), cells, tone: rolloutTone(e.rollout.state) };
    cells[9] = withStale(mark, cells[9]);
    return { key: rolloutKey(e), cells, tone: 'dim' };
  });
  const stale = staleNote(nodes, (n) => !!n.rollouts?.length, now);
  return (
    <ListScreen summary={[summary(nodes, shown), ...(stale ? [stale] : [])].join(' · ')} columns={sortedColumns(ROLLOUT_COLUMNS, frame.sort, ROLLOUT_SORTS)} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={emptyText(nodes, frame)} />
  );
}
