// Pure rendering of a reference vs current histogram as paired horizontal bars, one pair per bin, fitted to
// a width and a height. Both series share one scale (the largest share of either), so bar lengths compare.
//
// Layouts, chosen by the height available (the first line is always the title):
//   stacked (2 lines per bin)      side by side (1 line per bin)
//   [0, 10)  ref ███▍    12%       [0, 10)  ███▍    12% │ █████▊  21%
//            cur █████▊  21%
// When even one line per bin does not fit, the last line says how many bins were left out.
import type { DetailLine } from './job-detail.js';
import { fmtShare } from './drift-row.js';
import { truncate } from './format.js';

/** Reference vs current shares per bin (the protocol's HistogramView). */
export interface Histogram { labels: string[]; reference: number[]; current: number[] }

/** Where to draw. */
export interface HistogramOptions {
  /** Characters per line; every line is at most this long. */
  width: number;
  /** Lines available, title included. */
  height: number;
  /** First line; default "reference vs current". */
  title?: string;
}

/** Eighths of a cell, for bars finer than one character. */
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'] as const;
const FULL = '█';
/** Width of a share label ("<0.1%", "100%"). */
const PCT_W = 5;
/** Widest bin label column, as a share of the width. */
const LABEL_SHARE = 0.3;
/** Longest bar (cells): on a wide terminal longer bars compare no better and push the shares far from the labels. */
const MAX_BAR = 40;

/** A bar of `v` on a scale where `max` fills `width` cells, in eighths; a non-zero share always shows at least "▏". Exactly `width` characters. */
export function hbar(v: number, max: number, width: number): string {
  if (width <= 0) return '';
  if (!(v > 0) || !(max > 0)) return ' '.repeat(width);
  const eighths = Math.max(1, Math.round(Math.min(1, v / max) * width * 8));
  const full = Math.floor(eighths / 8);
  const bar = FULL.repeat(full) + EIGHTHS[eighths % 8];
  return bar.padEnd(width);
}

/** Which layout fits: 'stacked' when two lines per bin fit, else 'side'. */
export function histogramLayout(bins: number, height: number): 'stacked' | 'side' {
  return 1 + 2 * bins <= height ? 'stacked' : 'side';
}

/** The lines of a histogram (title first), at most `height` lines of at most `width` characters. Empty when nothing fits. */
export function histogramLines(h: Histogram, o: HistogramOptions): DetailLine[] {
  const width = Math.max(0, o.width);
  if (o.height <= 0 || width <= 0) return [];
  const bins = h.labels.length;
  const title = o.title ?? 'reference vs current';
  if (bins === 0) return [{ text: truncate(`${title}: no bins (no reference or no data yet)`, width), tone: 'dim' }];
  const ref = h.labels.map((_, i) => h.reference[i] ?? 0);
  const cur = h.labels.map((_, i) => h.current[i] ?? 0);
  const max = Math.max(...ref, ...cur);
  const lw = Math.max(1, Math.min(Math.max(...h.labels.map((l) => l.length)), Math.max(6, Math.floor(width * LABEL_SHARE))));
  const label = (i: number) => truncate(h.labels[i], lw).padEnd(lw);
  const pct = (v: number) => fmtShare(v).padStart(PCT_W);
  const layout = histogramLayout(bins, o.height);
  const out: DetailLine[] = [];
  if (layout === 'stacked') {
    out.push({ text: truncate(`${title} (ref: reference, cur: current window)`, width), bold: true });
    const bw = Math.max(1, Math.min(MAX_BAR, width - lw - 1 - 4 - 1 - PCT_W));
    for (let i = 0; i < bins; i++) {
      out.push({ text: truncate(`${label(i)} ref ${hbar(ref[i], max, bw)} ${pct(ref[i])}`, width), tone: 'dim' });
      out.push({ text: truncate(`${' '.repeat(lw)} cur ${hbar(cur[i], max, bw)} ${pct(cur[i])}`, width), tone: 'accent' });
    }
    return out;
  }
  out.push({ text: truncate(`${title}: reference │ current`, width), bold: true });
  // label, space, bar, space, pct, " │ ", bar, space, pct
  const bw = Math.max(1, Math.min(MAX_BAR / 2, Math.floor((width - lw - 1 - 1 - PCT_W - 3 - 1 - PCT_W) / 2)));
  const room = o.height - 1;
  const shown = bins <= room ? bins : Math.max(0, room - 1);
  for (let i = 0; i < shown; i++) {
    out.push({ text: truncate(`${label(i)} ${hbar(ref[i], max, bw)} ${pct(ref[i])} │ ${hbar(cur[i], max, bw)} ${pct(cur[i])}`, width) });
  }
  if (shown < bins && room >= 1) out.push({ text: truncate(`… ${bins - shown} more bin${bins - shown === 1 ? '' : 's'} (a taller terminal shows them)`, width), tone: 'dim' });
  return out.slice(0, o.height);
}
