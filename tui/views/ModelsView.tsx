import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { MODEL_COLUMNS, allModels, modelCounts, modelFilterText, modelKey, modelRow, modelTone, type ModelEntry } from '../render/model-row.js';
import { byNumber, byText, sortRows, sortedColumns, type SortKeys } from '../render/sort.js';
import { staleMark, staleNote } from '../render/stale.js';
import { known } from '../render/format.js';
import type { Column } from '../render/table.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Sorts of the models view (shift+N/O/V/R/E/A); the default order is by name, highest version first. */
export const MODEL_SORTS: SortKeys<ModelEntry> = {
  node: { column: 0, compare: (a, b) => byText(a.node, b.node) },
  name: { column: 1, compare: (a, b) => byText(a.model.name, b.model.name) },
  version: { column: 2, compare: (a, b) => byText(a.model.version, b.model.version) },
  rate: { column: 4, compare: (a, b) => byNumber(a.stats?.requests_per_s, b.stats?.requests_per_s), unknown: (e) => !known(e.stats?.requests_per_s) },
  errors: { column: 7, compare: (a, b) => byNumber(a.stats?.errors, b.stats?.errors), unknown: (e) => !e.stats },
  age: { column: 10, compare: (a, b) => b.model.pushed_at - a.model.pushed_at },
};

/** Model versions of the fleet after the frame's text filter, by name, newest push first (or in the frame's sort). */
export function visibleModels(nodes: readonly FleetNode[], frame: Frame): ModelEntry[] {
  return sortRows(allModels(nodes).filter((e) => matchFilter(modelFilterText(e), frame.filter)), frame.sort, MODEL_SORTS);
}

/** The summary line: counts, which nodes have not reported their models yet, which are unreachable (stale rows). */
function summary(nodes: readonly FleetNode[], shown: readonly ModelEntry[], now: number): string {
  const parts = [modelCounts(shown)];
  const unknown = nodes.filter((n) => n.models === null).map((n) => n.name);
  if (unknown.length) parts.push(`no model list yet from ${unknown.join(', ')}`);
  const stale = staleNote(nodes, (n) => !!n.models?.length, now);
  if (stale) parts.push(stale);
  return parts.join(' · ');
}

/** What a model list (models, drift) says when no row is shown: nothing yet, or nothing matches the filter. */
export function modelsEmptyText(nodes: readonly FleetNode[], frame: Frame): string {
  const any = nodes.some((n) => n.models?.length);
  return !any ? 'no models yet; `fleetml model push` adds one' : `no model matches "${frame.filter}"; <esc> clears the filter`;
}

/**
 * A model row: its cells and tone, or, for a node the console cannot reach, dimmed with "stale 14:02" in LOADED (whether
 * it is loaded now is not known; the serving figures are the last ones).
 */
export function modelTableRow(e: ModelEntry, node: FleetNode | undefined, now: number): TableRow {
  const cells = modelRow(e, now);
  const mark = staleMark(node, now);
  if (!mark) return { key: modelKey(e), cells, tone: modelTone(e) };
  cells[3] = mark;
  return { key: modelKey(e), cells, tone: 'dim' };
}

/** MODEL_COLUMNS with LOADED wide enough for a stale mark with a date ("stale 12-02 14:02") when a row has one. */
function modelColumns(rows: readonly TableRow[]): Column[] {
  const widest = Math.max(0, ...rows.filter((r) => r.tone === 'dim' && r.cells[3].startsWith('stale')).map((r) => r.cells[3].length));
  return MODEL_COLUMNS.map((c, i) => (i === 3 && widest > c.width ? { ...c, width: widest } : c));
}

/** Every model version of every node, one row each, with its serving figures; l/u/a/r act on the selected one. */
export function ModelsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleModels(nodes, frame);
  const now = Date.now();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const rows: TableRow[] = shown.map((e) => modelTableRow(e, byName.get(e.node), now));
  return (
    <ListScreen summary={summary(nodes, shown, now)} columns={sortedColumns(modelColumns(rows), frame.sort, MODEL_SORTS)} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={modelsEmptyText(nodes, frame)} />
  );
}
