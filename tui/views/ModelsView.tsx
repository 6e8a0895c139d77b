import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { MODEL_COLUMNS, allModels, modelCounts, modelFilterText, modelKey, modelRow, modelTone, type ModelEntry } from '../render/model-row.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Model versions of the fleet after the frame's text filter, by name, newest push first. */
export function visibleModels(nodes: readonly FleetNode[], frame: Frame): ModelEntry[] {
  return allModels(nodes).filter((e) => matchFilter(modelFilterText(e), frame.filter));
}

/** The summary line: counts, and which nodes have not reported their models yet. */
function summary(nodes: readonly FleetNode[], shown: readonly ModelEntry[]): string {
  const parts = [modelCounts(shown)];
  const unknown = nodes.filter((n) => n.models === null).map((n) => n.name);
  if (unknown.length) parts.push(`no model list yet from ${unknown.join(', ')}`);
  return parts.join(' · ');
}

/** What a model list (models, drift) says when no row is shown: nothing yet, or nothing matches the filter. */
export function modelsEmptyText(nodes: readonly FleetNode[], frame: Frame): string {
  const any = nodes.some((n) => n.models?.length);
  return !any ? 'no models yet; `fleetml model push` adds one' : `no model matches "${frame.filter}"; <esc> clears the filter`;
}

/** Every model version of every node, one row each, with its serving figures. Read-only for now. */
export function ModelsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleModels(nodes, frame);
  const now = Date.now();
  const rows: TableRow[] = shown.map((e) => ({ key: modelKey(e), cells: modelRow(e, now), tone: modelTone(e) }));
  return (
    <ListScreen summary={summary(nodes, shown)} columns={MODEL_COLUMNS} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={modelsEmptyText(nodes, frame)} />
  );
}
