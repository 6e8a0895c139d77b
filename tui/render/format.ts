// Pure value formatters shared by every row renderer. Unknown values (null) render as DASH, never as 0.

/** What an unknown (null) value renders as. */
export const DASH = '–';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const KIB = 1024;

/** True when a number is known and finite. */
export function known(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A percentage as "48%"; DASH when unknown. */
export function fmtPct(v: number | null | undefined): string {
  return known(v) ? `${Math.round(v)}%` : DASH;
}

/** Bytes as GiB with one decimal ("23.9G"); DASH when unknown. */
export function fmtGiB(v: number | null | undefined): string {
  return known(v) ? `${(v / GIB).toFixed(1)}G` : DASH;
}

/** used/total bytes as "6.1/24.0G"; either side DASH when unknown. */
export function fmtUsedTotal(used: number | null | undefined, total: number | null | undefined): string {
  if (!known(used) && !known(total)) return DASH;
  const u = known(used) ? (used / GIB).toFixed(1) : DASH;
  const t = known(total) ? (total / GIB).toFixed(1) : DASH;
  return `${u}/${t}G`;
}

/** Bytes in the most readable unit (B, K, M, G), for process memory and rates. */
export function fmtBytes(v: number | null | undefined): string {
  if (!known(v)) return DASH;
  if (v >= GIB) return `${(v / GIB).toFixed(1)}G`;
  if (v >= MIB) return v < 10 * MIB ? `${(v / MIB).toFixed(1)}M` : `${Math.round(v / MIB)}M`;
  if (v >= KIB) return `${Math.round(v / KIB)}K`;
  return `${Math.round(v)}B`;
}

/** A per-second byte rate as "1.2M/s"; DASH when unknown. */
export function fmtRate(v: number | null | undefined): string {
  return known(v) ? `${fmtBytes(v)}/s` : DASH;
}

/** A temperature as "62°C"; DASH when unknown. */
export function fmtTemp(v: number | null | undefined): string {
  return known(v) ? `${Math.round(v)}°C` : DASH;
}

/** Power as "231/300W" (usage/limit), "231W" without a limit; DASH when usage is unknown. */
export function fmtPower(usage: number | null | undefined, limit?: number | null): string {
  if (!known(usage)) return known(limit) ? `${DASH}/${Math.round(limit)}W` : DASH;
  return known(limit) ? `${Math.round(usage)}/${Math.round(limit)}W` : `${Math.round(usage)}W`;
}

/** SM/memory clocks as "1695/8001MHz"; DASH when both unknown. */
export function fmtClocks(sm: number | null | undefined, mem: number | null | undefined): string {
  if (!known(sm) && !known(mem)) return DASH;
  return `${known(sm) ? Math.round(sm) : DASH}/${known(mem) ? Math.round(mem) : DASH}MHz`;
}

/** A duration in seconds as "3d4h", "5h12m", "7m3s"; DASH when unknown. */
export function fmtUptime(s: number | null | undefined): string {
  if (!known(s)) return DASH;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  return `${m}m${Math.floor(s % 60)}s`;
}

/** A load average triple as "1.20 0.90 0.80". */
export function fmtLoad(l1: number | null, l5: number | null, l15: number | null): string {
  return [l1, l5, l15].map((v) => (known(v) ? v.toFixed(2) : DASH)).join(' ');
}

/** Cut a string to at most `width` characters, marking the cut with "…". */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : `${s.slice(0, width - 1)}…`;
}

/** Cut a string to at most `width` characters from the left ("…/bin/llama-server"): keeps the end of a path. */
export function truncateStart(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : `…${s.slice(s.length - width + 1)}`;
}

/** Pad (or cut) a string to exactly `width` characters; `cut: 'start'` drops the start instead of the end. */
export function fit(s: string, width: number, align: 'left' | 'right' = 'left', cut: 'start' | 'end' = 'end'): string {
  const t = cut === 'start' ? truncateStart(s, width) : truncate(s, width);
  return align === 'right' ? t.padStart(width) : t.padEnd(width);
}
