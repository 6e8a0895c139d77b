// Sorting of the list views by a column (k9s convention: shift+letter sorts by a column, the same key again reverses).
// Pure: each view declares which sorts it offers (SortKeys), the frame says which one is on (SortSpec).
import type { Column } from './table.js';

/** The sort a frame asks for: a sort id ("name", "age", …) and its direction. */
export interface SortSpec {
  by: string;
  /** Reversed (↓); the first press sorts ascending (↑): A→Z, youngest first, smallest first. */
  desc: boolean;
}

/** One sort a view offers: the column it marks in the header, and the ascending order. */
export interface SortKey<T> {
  /** Index into the view's columns (the header shows ↑/↓ there). */
  column: number;
  compare(a: T, b: T): number;
  /** Rows with no value for this column (figures not reported yet): last in either direction. Default: none. */
  unknown?(row: T): boolean;
}

/** The sorts of one view, by sort id. */
export type SortKeys<T> = Readonly<Record<string, SortKey<T>>>;

/** Every sort id, its key and its words (the keymap and the help are built from this list). */
export const SORTS = [
  { by: 'name', key: 'N', label: 'name' },
  { by: 'node', key: 'O', label: 'node' },
  { by: 'state', key: 'S', label: 'state' },
  { by: 'age', key: 'A', label: 'age' },
  { by: 'version', key: 'V', label: 'version' },
  { by: 'rate', key: 'R', label: 'requests/s' },
  { by: 'errors', key: 'E', label: 'errors' },
] as const;

/** The sort after pressing the key of `by`: ascending first, the same key again flips the direction. */
export function nextSort(cur: SortSpec | undefined, by: string): SortSpec {
  return cur?.by === by ? { by, desc: !cur.desc } : { by, desc: false };
}

/** `rows` in the order of `sort` (a copy; ties keep their default order); unchanged when the view has no such sort. */
export function sortRows<T>(rows: readonly T[], sort: SortSpec | undefined, keys: SortKeys<T>): T[] {
  const k = sort ? keys[sort.by] : undefined;
  if (!k || !sort) return [...rows];
  const sign = sort.desc ? -1 : 1;
  const unknown = (r: T) => (k.unknown ? Number(k.unknown(r)) : 0);
  return rows.map((r, i) => ({ r, i })).sort((a, b) => unknown(a.r) - unknown(b.r) || sign * k.compare(a.r, b.r) || a.i - b.i).map((x) => x.r);
}

/** The columns with the sorted one marked "NAME↑" / "NAME↓" (widened by one so the arrow always shows). */
export function sortedColumns<T>(cols: readonly Column[], sort: SortSpec | undefined, keys: SortKeys<T>): Column[] {
  const k = sort ? keys[sort.by] : undefined;
  if (!k || !sort) return [...cols];
  return cols.map((c, i) => (i === k.column ? { ...c, header: `${c.header}${sort.desc ? '↓' : '↑'}`, width: Math.max(c.width, c.header.length + 1) } : c));
}

/** Compare strings as people read them ("v10" after "v9"). */
export const byText = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
/** Compare numbers, unknown (null) last. */
export function byNumber(a: number | null | undefined, b: number | null | undefined): number {
  const ka = typeof a === 'number' && Number.isFinite(a);
  const kb = typeof b === 'number' && Number.isFinite(b);
  if (!ka || !kb) return Number(!ka) - Number(!kb);
  return a - b;
}
