import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { modelsEmptyText } from './ModelsView.js';
import { DRIFT_LIST_COLUMNS, driftEntries, driftListRow, driftListTone, type DriftEntry } from '../render/drift-row.js';
import { modelFilterText, modelKey } from '../render/model-row.js';
import { byText, sortRows, sortedColumns, type SortKeys } from '../render/sort.js';
import { staleMark, staleNote, withStale } from '../render/stale.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Text the `/` filter matches: the model's text plus "alert" and the drifting features when an alert is active. */
function driftFilterText(e: DriftEntry): string {
  return [modelFilterText(e), e.alert ? `alert ${e.alert.features.join(' ')}` : ''].join(' ');
}

/** Alert state order for sorting: an active alert first, then none, then unknown. */
const alertRank = (e: DriftEntry) => (e.alert ? 0 : e.alert === undefined ? 1 : 2);

/** Sorts of the :drift list (shift+O/N/V/S); the default order is alerted first, then by model. */
export const DRIFT_SORTS: SortKeys<DriftEntry> = {
  node: { column: 0, compare: (a, b) => byText(a.node, b.node) },
  name: { column: 1, compare: (a, b) => byText(a.model.name, b.model.name) },
  version: { column: 2, compare: (a, b) => byText(a.model.version, b.model.version) },
  state: { column: 4, compare: (a, b) => alertRank(a) - alertRank(b) },
};

/** Model versions of the fleet with their drift alert, after the frame's filter; alerted first (or in the frame's sort). */
export function visibleDrift(nodes: readonly FleetNode[], frame: Frame): DriftEntry[] {
  return sortRows(driftEntries(nodes).filter((e) => matchFilter(driftFilterText(e), frame.filter)), frame.sort, DRIFT_SORTS);
}

/** The summary line: how many versions, how many alerted, which nodes do not report drift alerts, which are unreachable. */
function summary(nodes: readonly FleetNode[], shown: readonly DriftEntry[], now: number): string {
  const alerted = shown.filter((e) => e.alert).length;
  const parts = [`${shown.length} version${shown.length === 1 ? '' : 's'} · ${alerted ? `${alerted} with an active drift alert` : 'no active drift alert'}`];
  const silent = nodes.filter((n) => n.conn === 'up' && n.models?.length && n.driftAlerts === null).map((n) => n.name);
  if (silent.length) parts.push(`no drift alerts from ${silent.join(', ')} (agent without drift monitoring?)`);
  const stale = staleNote(nodes, (n) => !!n.models?.length, now);
  if (stale) parts.push(stale);
  parts.push('<enter> opens a version');
  return parts.join(' · ');
}

/** A :drift row, or, for a node the console cannot reach, dimmed with "stale 14:02" before the drifting features. */
export function driftTableRow(e: DriftEntry, node: FleetNode | undefined, now: number): TableRow {
  const cells = driftListRow(e);
  const mark = staleMark(node, now);
  if (!mark) return { key: modelKey(e), cells, tone: driftListTone(e) };
  cells[6] = withStale(mark, cells[6]);
  return { key: modelKey(e), cells, tone: 'dim' };
}

/** Every model version of the fleet with its drift alert state (pushed by drift.alerts); Enter opens its drift. */
export function DriftView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleDrift(nodes, frame);
  const now = Date.now();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const rows: TableRow[] = shown.map((e) => driftTableRow(e, byName.get(e.node), now));
  return (
    <ListScreen summary={summary(nodes, shown, now)} columns={sortedColumns(DRIFT_LIST_COLUMNS, frame.sort, DRIFT_SORTS)} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={modelsEmptyText(nodes, frame)} />
  );
}
