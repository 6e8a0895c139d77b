import { Box } from 'ink';
import { formatHeader, formatRow, scrollOffset, type Column, type Layout } from '../render/table.js';
import type { Theme, Tone } from '../theme.js';
import { Line } from './Line.js';

/** One row handed to Table. */
export interface TableRow {
  key: string;
  cells: string[];
  tone?: Tone;
  /** Column index from which cells[span] fills the rest of the row. */
  span?: number;
}

/** Props of Table. */
export interface TableProps {
  columns: readonly Column[];
  layout: Layout;
  rows: readonly TableRow[];
  /** Selected row index, or -1 for none. */
  selected: number;
  /** Lines available for the body (the header line is extra). */
  height: number;
  width: number;
  theme: Theme;
}

/** Rows are laid out for width-2: two columns go to the selection marker. A header line plus at most `height` rows: only the visible window around the selection is rendered. */
export function Table({ columns, layout, rows, selected, height, width, theme }: TableProps) {
  const off = scrollOffset(Math.max(0, selected), rows.length, height);
  const visible = rows.slice(off, off + Math.max(0, height));
  return (
    <Box flexDirection="column">
      <Line text={`  ${formatHeader(columns, layout)}`} width={width} theme={theme} bold tone="accent" />
      {visible.map((r, i) => {
        const sel = off + i === selected;
        return (
          <Line
            key={r.key}
            text={`${sel ? '>' : ' '} ${formatRow(columns, layout, r.cells, r.span)}`}
            width={width}
            theme={theme}
            tone={r.tone}
            inverse={sel}
          />
        );
      })}
    </Box>
  );
}
