import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { modelsEmptyText } from './ModelsView.js';
import { DRIFT_LIST_COLUMNS, driftEntries, driftListRow, driftListTone, type DriftEntry } from '../render/drift-row.js';
import { modelFilterText, modelKey } from '../render/model-row.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Text the `/` filter matches: the model's text plus "alert" and the drifting features when an alert is active. */
function driftFilterText(e: DriftEntry): string {
  return [modelFilterText(e), e.alert ? `alert ${e.alert.features.join(' ')}` : ''].join(' ');
}

/** Model versions of the fleet with their drift alert, after the frame's filter; alerted first. */
export function visibleDrift(nodes: readonly FleetNode[], frame: Frame): DriftEntry[] {
  return driftEntries(nodes).filter((e) => matchFilter(driftFilterText(e), frame.filter));
}

/** The summary line: how many versions, how many alerted, and which nodes do not report drift alerts. */
function summary(nodes: readonly FleetNode[], shown: readonly DriftEntry[]): string {
  const alerted = shown.filter((e) => e.alert).length;
  const parts = [`${shown.length} version${shown.length === 1 ? '' : 's'} · ${alerted ? `${alerted} with an active drift alert` : 'no active drift alert'}`];
  const silent = nodes.filter((n) => n.conn === 'up' && n.models?.length && n.driftAlerts === null).map((n) => n.name);
  if (silent.length) parts.push(`no drift alerts from ${silent.join(', ')} (agent without drift monitoring?)`);
  parts.push('<enter> opens a version');
  return parts.join(' · ');
}


/** Every model version of the fleet with its drift alert state (pushed by drift.alerts); Enter opens its drift. */
export function DriftView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleDrift(nodes, frame);
  const rows: TableRow[] = shown.map((e) => ({ key: modelKey(e), cells: driftListRow(e), tone: driftListTone(e) }));
  return (
    <ListScreen summary={summary(nodes, shown)} columns={DRIFT_LIST_COLUMNS} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={modelsEmptyText(nodes, frame)} />
  );
}
