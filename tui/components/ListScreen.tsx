import { Box } from 'ink';
import type { Theme } from '../theme.js';
import { layoutColumns, type Column } from '../render/table.js';
import { Line } from './Line.js';
import { Table, type TableRow } from './Table.js';

/**
 * The layout of every fleet-wide list view (jobs, models, drift, rollouts): a dim summary line (when there is room),
 * then the table, or a dim line saying why it is empty. Fits `height` lines.
 */
export function ListScreen({ summary, empty, columns, rows, selected, height, width, theme }: {
  summary: string; empty: string; columns: readonly Column[]; rows: readonly TableRow[]; selected: number; height: number; width: number; theme: Theme;
}) {
  const head = <Line text={summary} width={width} theme={theme} tone="dim" />;
  if (rows.length === 0) {
    return (
      <Box flexDirection="column">
        {height > 1 ? head : null}
        <Line text={empty} width={width} theme={theme} tone="dim" />
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      {height > 2 ? head : null}
      <Table columns={columns} layout={layoutColumns(columns, width - 2)} rows={rows} selected={selected} height={Math.max(0, height - (height > 2 ? 2 : 1))} width={width} theme={theme} />
    </Box>
  );
}
