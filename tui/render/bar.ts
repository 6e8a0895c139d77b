import { DASH, fmtPct, known } from './format.js';

/** Eight block levels, lowest first, shared with sparklines. */
export const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/** Clamp a percentage into 0..100. */
function clampPct(v: number): number {
  return Math.max(0, Math.min(100, v));
}

/** A meter "[|||||     ] 48%" with `width` cells inside the brackets; blank meter and DASH when unknown. */
export function bar(pct: number | null | undefined, width = 10, withLabel = true): string {
  const w = Math.max(1, width);
  const filled = known(pct) ? Math.round((clampPct(pct) / 100) * w) : 0;
  const inner = known(pct) ? '|'.repeat(filled) + ' '.repeat(w - filled) : ' '.repeat(w);
  const meter = `[${inner}]`;
  return withLabel ? `${meter} ${fmtPct(pct).padStart(4)}` : meter;
}

/** One block character for a percentage (for very compact GPU cells); "·" when unknown. */
export function block(pct: number | null | undefined): string {
  if (!known(pct)) return '·';
  const i = Math.min(BLOCKS.length - 1, Math.floor((clampPct(pct) / 100) * BLOCKS.length));
  return BLOCKS[i];
}

/** used/total as a percentage, null when either is unknown or total is 0. */
export function ratioPct(used: number | null | undefined, total: number | null | undefined): number | null {
  if (!known(used) || !known(total) || total <= 0) return null;
  return (used / total) * 100;
}

/** A percentage as a compact 3-char label ("48%", " 5%", "  –"). */
export function pct3(v: number | null | undefined): string {
  return (known(v) ? `${Math.round(clampPct(v))}%` : DASH).padStart(4);
}
