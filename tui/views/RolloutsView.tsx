import { Box } from 'ink';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Line } from '../components/Line.js';
import { Table, type TableRow } from '../components/Table.js';
import { ROLLOUT_COLUMNS, allRollouts, rolloutCounts, rolloutFilterText, rolloutKey, rolloutRow, rolloutTone, type RolloutEntry } from '../render/rollout-row.js';
import { layoutColumns } from '../render/table.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Rollouts of every coordinator after the frame's filter: unfinished first, then newest first. */
export function visibleRollouts(nodes: readonly FleetNode[], frame: Frame): RolloutEntry[] {
  return allRollouts(nodes).filter((e) => matchFilter(rolloutFilterText(e), frame.filter));
}

/** The summary line: counts, and which reachable nodes do not report rollouts. */
function summary(nodes: readonly FleetNode[], shown: readonly RolloutEntry[]): string {
  const parts = [rolloutCounts(shown)];
  const silent = nodes.filter((n) => n.conn === 'up' && n.rollouts === null).map((n) => n.name);
  if (silent.length) parts.push(`no rollouts from ${silent.join(', ')} (agent without rollouts?)`);
  if (shown.length) parts.push('<enter> opens one');
  return parts.join(' · ');
}

/** Every rollout of the fleet (pushed by rollout.events on each coordinator); Enter opens one. */
export function RolloutsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleRollouts(nodes, frame);
  const head = <Line text={summary(nodes, shown)} width={width} theme={theme} tone="dim" />;
  if (shown.length === 0) {
    const any = nodes.some((n) => n.rollouts?.length);
    const why = !any ? 'no rollouts yet; start one with `fleetml rollout start MODEL --to VERSION`' : `no rollout matches "${frame.filter}"; <esc> clears the filter`;
    return (
      <Box flexDirection="column">
        {height > 1 ? head : null}
        <Line text={why} width={width} theme={theme} tone="dim" />
      </Box>
    );
  }
  const now = Date.now();
  const rows: TableRow[] = shown.map((e) => ({ key: rolloutKey(e), cells: rolloutRow(e, now), tone: rolloutTone(e.rollout.state) }));
  return (
    <Box flexDirection="column">
      {height > 2 ? head : null}
      <Table columns={ROLLOUT_COLUMNS} layout={layoutColumns(ROLLOUT_COLUMNS, width - 2)} rows={rows} selected={selected} height={Math.max(0, height - (height > 2 ? 2 : 1))} width={width} theme={theme} />
    </Box>
  );
}
