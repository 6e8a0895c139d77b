import { fit } from './format.js';

/** One column of a text table. */
export interface Column {
  /** Header text. */
  header: string;
  /** Fixed width in characters (the flex column uses it as its minimum). */
  width: number;
  /** Right-align numbers. Default left. */
  align?: 'left' | 'right';
  /** Takes all width left over. At most one column should flex. */
  flex?: boolean;
  /** Columns with a lower priority are dropped first when the table is too wide; default 0 (never dropped before others). */
  priority?: number;
  /** Where a too-long cell is cut: 'end' (default) or 'start' (paths: the program name is at the end). */
  cut?: 'start' | 'end';
}

/** A laid-out table: which columns survived and their final widths. */
export interface Layout {
  /** Indexes into the original column list, in order. */
  keep: number[];
  /** Final width of each kept column, aligned with `keep`. */
  widths: number[];
}

const GAP = 1;

/** Choose columns and widths so the table fits in `width` characters (drops low-priority columns first). */
export function layoutColumns(cols: readonly Column[], width: number): Layout {
  let keep = cols.map((_, i) => i);
  const total = (ks: number[]) => ks.reduce((a, i) => a + cols[i].width, 0) + Math.max(0, ks.length - 1) * GAP;
  while (keep.length > 1 && total(keep) > width) {
    // Drop the lowest-priority column; on a tie, the rightmost one.
    let drop = keep[keep.length - 1];
    for (const i of keep) if ((cols[i].priority ?? 0) < (cols[drop].priority ?? 0)) drop = i;
    for (const i of [...keep].reverse()) if ((cols[i].priority ?? 0) === (cols[drop].priority ?? 0)) { drop = i; break; }
    keep = keep.filter((i) => i !== drop);
  }
  const widths = keep.map((i) => cols[i].width);
  const spare = width - total(keep);
  const flexAt = keep.findIndex((i) => cols[i].flex);
  if (spare > 0 && flexAt >= 0) widths[flexAt] += spare;
  return { keep, widths };
}

/**
 * Render one row of cells (aligned with the original columns) as a line of exactly the laid-out width.
 * With `spanFrom`, cells[spanFrom] fills every column from that one to the end (e.g. an error message).
 */
export function formatRow(cols: readonly Column[], layout: Layout, cells: readonly string[], spanFrom?: number): string {
  const parts: string[] = [];
  for (let k = 0; k < layout.keep.length; k++) {
    const ci = layout.keep[k];
    if (spanFrom !== undefined && ci >= spanFrom) {
      const rest = layout.widths.slice(k).reduce((a, w) => a + w, 0) + (layout.widths.length - k - 1) * GAP;
      parts.push(fit(cells[spanFrom] ?? '', rest));
      break;
    }
    parts.push(fit(cells[ci] ?? '', layout.widths[k], cols[ci].align ?? 'left', cols[ci].cut));
  }
  return parts.join(' '.repeat(GAP));
}

/** Render the header line of a laid-out table. */
export function formatHeader(cols: readonly Column[], layout: Layout): string {
  return formatRow(cols, layout, cols.map((c) => c.header));
}

/** The width a laid-out column got, or null when it was dropped. */
export function columnWidth(layout: Layout, colIndex: number): number | null {
  const k = layout.keep.indexOf(colIndex);
  return k < 0 ? null : layout.widths[k];
}

/**
 * The first row index to show so that `selected` stays visible in a window of `height` rows
 * (keeps the selection in the middle when scrolling). Pure, so the views stay stateless.
 */
export function scrollOffset(selected: number, count: number, height: number): number {
  if (height <= 0 || count <= height) return 0;
  const centred = selected - Math.floor(height / 2);
  return Math.max(0, Math.min(centred, count - height));
}
