/**
 * Windows merged from stored buckets, and the caches that make a repeated report cheap (owned by the drift monitor,
 * over its DriftStore). A window = the closed buckets since `from` (cached merge) + the open bucket (merged on each
 * read). The closed part is merged from whole closed hours (LRU of merged hour blocks, else their row in drift_hours,
 * else merged from their buckets and stored) plus the loose buckets of the partial hours at either end.
 *
 * Invariants:
 * - Only hours that can no longer change are cached or stored: every bucket starting in them has closed (the open
 *   bucket and the bucket of the current time start at or after the hour's end) and, to be stored, been judged.
 * - A block is keyed by the version's reference identity (stamp in memory, refKey in SQLite): a block merged under
 *   another reference is never reused.
 * - The monitor drops a version's cached windows at each close and reference change (drop), and the hours that may
 *   hold pruned buckets after a prune (dropBefore).
 */
import type { DriftStore } from './store.js';
import { accToJson, cloneAcc, mergeAcc, mergeAccsJson, type AccJson, type FeatureAcc } from './profile.js';
import { freshAccs, type VersionState } from './state.js';

/** Closed buckets are merged in aligned blocks of this length (by bucket start). */
export const HOUR_MS = 3_600_000;
/** Most merged hour blocks kept in memory, all versions together. */
const BLOCK_CACHE_MAX = 64;
/** Most cached window merges. */
const WINDOW_CACHE_MAX = 64;

/** Start of the aligned hour block holding time `t`. */
export function hourOf(t: number): number { return Math.floor(t / HOUR_MS) * HOUR_MS; }

/** Merged windows and hour blocks of the versions of one monitor. */
export class WindowCache {
  /**
   * Merged closed part of recent windows (key: version key | from | until | reference stamp) with its row count, so
   * that a repeated report reads nothing from SQLite. Emptied for a version at each close and reference change; at
   * most WINDOW_CACHE_MAX entries (cleared past it).
   */
  private closedCache = new Map<string, { accs: FeatureAcc[]; rows: number }>();
  /**
   * Closed hours merged once: the buckets that start in one aligned hour [start, start + 1 h), merged and kept in JSON
   * form (compact sketch arrays; immutable, merged into windows with mergeAccsJson), with their row count. Key: version
   * key | block start | reference stamp. Only hours that can no longer change are cached (every bucket starting in
   * them has closed: the open bucket and the clock are past the hour's end). LRU, at most BLOCK_CACHE_MAX = 64 blocks
   * in all (all versions together: 2.7 days of one version); a block of 51 numeric features is ~0.2 MB in memory, so
   * ~13 MB at most. Behind it, complete hours are stored in drift_hours (DriftStore.hours; written at the close that
   * completes an hour, or by the first report that merges one): an uncached hour is one row to read, not 12 buckets.
   */
  private blockCache = new Map<string, { key: string; start: number; accs: AccJson[]; rows: number }>();
  /** Reference identity → stamp (a new reference array = a new stamp: blocks of the old reference are never reused). */
  private refStamps = new WeakMap<object, number>();
  private nextRefStamp = 1;

  constructor(private readonly store: DriftStore, private readonly bucketMs: number, private readonly now: () => number) {}

  /**
   * Merged profile of the closed buckets since `from` (and starting at or before `until` when given) plus the open
   * bucket. The closed part is cached with its row count until the next close.
   */
  window(st: VersionState, from: number, until?: number): { accs: FeatureAcc[]; rows: number } {
    const withOpen = st.open !== null && (until === undefined || st.open.start <= until);
    const stamp = this.refStamp(st);
    const ck = `${st.key}|${from}|${until ?? ''}|${stamp}`;
    let closed = this.closedCache.get(ck);
    if (!closed) {
      closed = this.mergeClosed(st, from, until, stamp);
      if (this.closedCache.size >= WINDOW_CACHE_MAX) this.closedCache.clear();
      this.closedCache.set(ck, closed);
    }
    const accs = closed.accs.map(cloneAcc);
    // mergeAcc only reads its second argument: the open bucket needs no copy.
    if (withOpen) st.open!.accs.forEach((a, i) => mergeAcc(accs[i], a));
    return { accs, rows: closed.rows + (withOpen ? st.open!.rows : 0) };
  }

  /** The closed buckets of a window merged: cached hour blocks + loose buckets of the partial hours, oldest first. */
  private mergeClosed(st: VersionState, from: number, until: number | undefined, stamp: number): { accs: FeatureAcc[]; rows: number } {
    const openStart = st.open?.start ?? Infinity;
    // Parts to merge, oldest first (loose buckets and hour blocks), merged at the end feature by feature.
    const parts: AccJson[][] = [];
    let rows = 0;
    const done = (): { accs: FeatureAcc[]; rows: number } => {
      const accs = freshAccs(st);
      for (let f = 0; f < accs.length; f++) mergeAccsJson(accs[f], parts.map((p) => p[f]));
      return { accs, rows };
    };
    const take = (b: { start: number; end: number; rows: number; accs: AccJson[] }): void => {
      if (b.start < from || b.start === openStart || b.accs.length !== st.defs.length || (until !== undefined && b.end > until + this.bucketMs)) return;
      rows += b.rows;
      parts.push(b.accs);
    };
    const loose = (lo: number, hi: number): void => { if (lo < hi) for (const b of this.store.bucketProfiles(st.name, st.version, lo, hi)) take(b); };
    // Whole hours [firstBlock, endBlock): inside the window and complete — every bucket starting in them has closed
    // (the open bucket and the bucket of the current time start at or after the hour's end).
    const endExcl = until === undefined ? Infinity : until + 1;
    const frontier = Math.min(openStart, Math.floor(this.now() / this.bucketMs) * this.bucketMs);
    const firstBlock = Math.ceil(from / HOUR_MS) * HOUR_MS;
    const endBlock = Math.floor(Math.min(endExcl, frontier) / HOUR_MS) * HOUR_MS;
    if (firstBlock >= endBlock) { loose(from, endExcl); return done(); }
    loose(from, firstBlock);
    const blocks: Array<{ accs: AccJson[]; rows: number } | null> = [];
    for (let b = firstBlock; b < endBlock; b += HOUR_MS) blocks.push(this.blockGet(`${st.key}|${b}|${stamp}`));
    const refKey = this.refKey(st);
    // The missing hours, a contiguous run at a time: their stored hour rows, else their buckets (merged, then stored
    // when every bucket of the hour has been judged).
    for (let i = 0; i < blocks.length;) {
      if (blocks[i]) { i++; continue; }
      let j = i;
      while (j < blocks.length && !blocks[j]) j++;
      for (const h of this.store.hours(st.name, st.version, firstBlock + i * HOUR_MS, firstBlock + j * HOUR_MS, refKey)) {
        if (h.accs.length !== st.defs.length) continue;
        const k = (h.start - firstBlock) / HOUR_MS;
        blocks[k] = { accs: h.accs, rows: h.rows };
        this.blockSet(`${st.key}|${h.start}|${stamp}`, { key: st.key, start: h.start, ...blocks[k]! });
      }
      for (let k = i; k < j;) {
        if (blocks[k]) { k++; continue; }
        let l = k;
        while (l < j && !blocks[l]) l++;
        const stored = this.store.bucketProfiles(st.name, st.version, firstBlock + k * HOUR_MS, firstBlock + l * HOUR_MS);
        let s = 0;
        for (let m = k; m < l; m++) {
          const start = firstBlock + m * HOUR_MS;
          const e = s;
          while (s < stored.length && stored[s].start < start + HOUR_MS) s++;
          const h = this.mergeHour(st, stored.slice(e, s));
          blocks[m] = { accs: h.accs, rows: h.rows };
          if (h.judged) this.store.saveHour(st.name, st.version, start, refKey, h.rows, h.accs);
          this.blockSet(`${st.key}|${start}|${stamp}`, { key: st.key, start, ...blocks[m]! });
        }
        k = l;
      }
      i = j;
    }
    for (const b of blocks) { rows += b!.rows; parts.push(b!.accs); }
    loose(endBlock, endExcl);
    return done();
  }

  /** One hour's buckets merged (the block form: JSON); judged: every one of them has been judged (closed for good). */
  private mergeHour(st: VersionState, buckets: ReadonlyArray<{ rows: number; accs: AccJson[]; judged: boolean }>): { accs: AccJson[]; rows: number; judged: boolean } {
    const m = freshAccs(st);
    const inHour: AccJson[][] = [];
    let rows = 0;
    for (const b of buckets) {
      if (b.accs.length !== st.defs.length) continue;
      rows += b.rows;
      inHour.push(b.accs);
    }
    for (let f = 0; f < m.length; f++) mergeAccsJson(m[f], inHour.map((p) => p[f]));
    return { accs: m.map(accToJson), rows, judged: buckets.every((b) => b.judged) };
  }

  /**
   * Stores the hour block starting at `hour` (and caches it) if the hour is complete: the open bucket and the bucket
   * of the current time start at or after its end, and every bucket stored in it has been judged (at start-up, a
   * bucket that closed while the agent was down may still wait for its judgement: the last one judged stores it).
   */
  storeHour(st: VersionState, hour: number): void {
    const frontier = Math.min(st.open?.start ?? Infinity, Math.floor(this.now() / this.bucketMs) * this.bucketMs);
    if (hour + HOUR_MS > frontier) return;
    const h = this.mergeHour(st, this.store.bucketProfiles(st.name, st.version, hour, hour + HOUR_MS));
    if (!h.judged) return;
    this.store.saveHour(st.name, st.version, hour, this.refKey(st), h.rows, h.accs);
    this.blockSet(`${st.key}|${hour}|${this.refStamp(st)}`, { key: st.key, start: hour, accs: h.accs, rows: h.rows });
  }

  /**
   * Identity of the reference (and feature types) a stored hour block was merged under: a block stored under another
   * one is never read (hour rows are also deleted when the reference changes).
   */
  private refKey(st: VersionState): string {
    const i = st.refInfo;
    return `${st.defs.map((d) => (d.type === 'numeric' ? 'n' : 'c')).join('')}|${i ? `${i.source}:${i.created_at}:${i.rows}:${i.dataset_sha256 ?? ''}` : '-'}`;
  }

  private blockGet(k: string): { accs: AccJson[]; rows: number } | null {
    const v = this.blockCache.get(k);
    if (!v) return null;
    this.blockCache.delete(k); this.blockCache.set(k, v); // most recently used last
    return v;
  }

  private blockSet(k: string, v: { key: string; start: number; accs: AccJson[]; rows: number }): void {
    this.blockCache.delete(k);
    this.blockCache.set(k, v);
    while (this.blockCache.size > BLOCK_CACHE_MAX) this.blockCache.delete(this.blockCache.keys().next().value!);
  }

  private refStamp(st: VersionState): number {
    if (!st.ref) return 0;
    let s = this.refStamps.get(st.ref);
    if (s === undefined) { s = this.nextRefStamp++; this.refStamps.set(st.ref, s); }
    return s;
  }

  /** Forgets a version's cached windows, and its cached hours: all of them, or only the hour holding bucket `start`. */
  drop(key: string, start?: number): void {
    for (const k of this.closedCache.keys()) if (k.startsWith(`${key}|`)) this.closedCache.delete(k);
    const hour = start === undefined ? null : hourOf(start);
    for (const [k, b] of this.blockCache) if (b.key === key && (hour === null || b.start === hour)) this.blockCache.delete(k);
  }

  /** After a prune: every cached window, and the cached hours that may hold a pruned bucket (start before `before`). */
  dropBefore(before: number): void {
    this.closedCache.clear();
    for (const [k, b] of this.blockCache) if (b.start < before) this.blockCache.delete(k);
  }
}
