import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { AUTO_COLUMNS, allAutomations, autoCounts, autoFilterText, autoKey, autoRow, autoTone, type AutoEntry } from '../render/auto-row.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Automations of every node after the frame's filter. */
export function visibleAutomations(nodes: readonly FleetNode[], frame: Frame): AutoEntry[] {
  return allAutomations(nodes).filter((e) => matchFilter(autoFilterText(e), frame.filter));
}

/** Every automation of the fleet (pushed by auto.events) with its newest run. Read-only: act with `fleetml auto …`. */
export function AutoView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleAutomations(nodes, frame);
  const now = Date.now();
  const rows: TableRow[] = shown.map((e) => ({ key: autoKey(e), cells: autoRow(e, now), tone: autoTone(e) }));
  const any = nodes.some((n) => n.autos?.automations.length);
  const empty = !any ? 'no automations yet; create one with `fleetml auto create NAME --model MODEL --on drift --retrain-job job.yaml`' : `no automation matches "${frame.filter}"; <esc> clears the filter`;
  return <ListScreen summary={autoCounts(shown)} columns={AUTO_COLUMNS} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={empty} />;
}
