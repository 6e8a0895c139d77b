/** Fixed-size ring buffer of (ts, value) per metric: O(1) push, bounded memory whatever the uptime. */
export class RingSeries {
  private ts: Float64Array;
  private vals: Float64Array; // NaN encodes null
  private start = 0;
  private len = 0;
  constructor(readonly capacity: number) {
    this.ts = new Float64Array(capacity);
    this.vals = new Float64Array(capacity);
  }
  push(t: number, v: number | null): void {
    const i = (this.start + this.len) % this.capacity;
    this.ts[i] = t; this.vals[i] = v === null ? NaN : v;
    if (this.len < this.capacity) this.len++; else this.start = (this.start + 1) % this.capacity;
  }
  /** Points newer than `since`, oldest first; at most `limit` newest ones. */
  read(since = -Infinity, limit = Infinity): { ts: number[]; values: (number | null)[] } {
    const ts: number[] = [], values: (number | null)[] = [];
    for (let k = Math.max(0, this.len - limit); k < this.len; k++) {
      const i = (this.start + k) % this.capacity;
      if (this.ts[i] <= since) continue;
      ts.push(this.ts[i]); values.push(Number.isNaN(this.vals[i]) ? null : this.vals[i]);
    }
    return { ts, values };
  }
  get size(): number { return this.len; }
}

/** One ring per metric key; metrics that stop appearing (a GPU removed) age out after a full window. */
export class History {
  private series = new Map<string, { ring: RingSeries; lastTs: number }>();
  constructor(readonly capacity: number) {}
  /** Append one flattened sample. */
  push(t: number, flat: Record<string, number | null>, maxAgeMs: number): void {
    for (const [k, v] of Object.entries(flat)) {
      let s = this.series.get(k);
      if (!s) { s = { ring: new RingSeries(this.capacity), lastTs: t }; this.series.set(k, s); }
      s.ring.push(t, v); s.lastTs = t;
    }
    for (const [k, s] of this.series) if (t - s.lastTs > maxAgeMs) this.series.delete(k);
  }
  /** Series for the given keys (all when omitted). */
  read(keys?: string[], since?: number, limit?: number): Record<string, { ts: number[]; values: (number | null)[] }> {
    const out: Record<string, { ts: number[]; values: (number | null)[] }> = {};
    for (const k of keys ?? this.series.keys()) {
      const s = this.series.get(k);
      if (s) out[k] = s.ring.read(since, limit);
    }
    return out;
  }
}
