import { BLOCKS } from './bar.js';
import { known } from './format.js';

/** Options of a sparkline: fixed scale (e.g. 0..100 for percentages) or auto-scaled to the series. */
export interface SparkOptions {
  /** Lower bound of the scale; default: series minimum (0 when `max` is given). */
  min?: number;
  /** Upper bound of the scale; default: series maximum. */
  max?: number;
}

/**
 * The last `width` points of a series as block characters (▁…█), newest last.
 * Nulls (gaps) render as a space; a series shorter than `width` is left-padded with spaces.
 */
export function sparkline(series: readonly (number | null)[], width: number, opts: SparkOptions = {}): string {
  if (width <= 0) return '';
  const pts = series.slice(-width);
  const vals = pts.filter(known);
  const lo = opts.min ?? (opts.max !== undefined ? 0 : vals.length ? Math.min(...vals) : 0);
  const hi = opts.max ?? (vals.length ? Math.max(...vals) : 0);
  const span = hi - lo;
  const out = pts.map((v) => {
    if (!known(v)) return ' ';
    if (span <= 0) return v > 0 ? BLOCKS[BLOCKS.length - 1] : BLOCKS[0];
    const r = Math.max(0, Math.min(1, (v - lo) / span));
    return BLOCKS[Math.min(BLOCKS.length - 1, Math.floor(r * BLOCKS.length))];
  });
  return out.join('').padStart(width);
}
