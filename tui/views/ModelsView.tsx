import { Box } from 'ink';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { Line } from '../components/Line.js';
import { Table, type TableRow } from '../components/Table.js';
import { MODEL_COLUMNS, allModels, modelCounts, modelFilterText, modelKey, modelRow, modelTone, type ModelEntry } from '../render/model-row.js';
import { layoutColumns } from '../render/table.js';
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

/** Every model version of every node, one row each, with its serving figures. Read-only for now. */
export function ModelsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleModels(nodes, frame);
  const head = <Line text={summary(nodes, shown)} width={width} theme={theme} tone="dim" />;
  if (shown.length === 0) {
    const any = nodes.some((n) => n.models?.length);
    const why = !any ? 'no models yet; `fleetml model push` adds one' : `no model matches "${frame.filter}"; <esc> clears the filter`;
    return (
      <Box flexDirection="column">
        {height > 1 ? head : null}
        <Line text={why} width={width} theme={theme} tone="dim" />
      </Box>
    );
  }
  const now = Date.now();
  const rows: TableRow[] = shown.map((e) => ({ key: modelKey(e), cells: modelRow(e, now), tone: modelTone(e) }));
  return (
    <Box flexDirection="column">
      {height > 2 ? head : null}
      <Table columns={MODEL_COLUMNS} layout={layoutColumns(MODEL_COLUMNS, width - 2)} rows={rows} selected={selected} height={Math.max(0, height - (height > 2 ? 2 : 1))} width={width} theme={theme} />
    </Box>
  );
}
