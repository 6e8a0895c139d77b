import { RpcError } from '../../shared/protocol/index.js';
import type { JsonTensor, ModelVersion } from '../../shared/protocol/index.js';
import type { Logger } from '../log.js';
import type { ModelRegistry, StoredVersion } from './registry.js';
import type { ModelRuntime, LoadedModel } from './runtime.js';
import { fromJson, toJson, validateFeeds, type RawTensor } from './tensors.js';
import { Batcher, batchable, type BatchingOptions } from './batcher.js';
import { newRequestId } from './feedback.js';

/** Serving options (agent config `models`). */
export interface ServingOptions {
  providers: Array<'cuda' | 'cpu'>; intraOpThreads: number; workers: number;
  /** Requests in flight per version before new ones get OVERLOADED [256]. */
  maxQueue?: number;
  /** Per-request deadline, ms [30000]. */
  requestTimeoutMs?: number;
  /** Default dynamic batching (null: off). */
  batching?: BatchingOptions | null;
  /** Told of every inference's outcome and timings (the agent's metrics). */
  observer?: InferObserver | null;
  /** Told of every answered request with its request id (the feedback join store, FeedbackStore.record): on the hot
   * path, so it must only copy what it keeps. Shadow copies are told too, under the shadow version. */
  keep?: RequestKeeper | null;
}

/** Sees every answered request (version, request id, inputs, outputs) on the hot path. */
export type RequestKeeper = (v: StoredVersion, id: string, feeds: Readonly<Record<string, RawTensor>>, outputs: Readonly<Record<string, RawTensor>>) => void;

/** One inference seen by the sampling hook (drift monitoring consumes these). */
export interface InferSample { name: string; version: string; ts: number; inputs: Record<string, RawTensor>; outputs: Record<string, RawTensor> }

/**
 * Whether two answers agree: same output names and shapes; for an output [batch, C > 1] the same class (argmax) per
 * row, else every value within 1e-3 (absolute, or relative to the served value's magnitude).
 */
export function sameAnswers(a: Record<string, RawTensor>, b: Record<string, RawTensor>): boolean {
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    if (!y || y.dims.join() !== x.dims.join()) return false;
    const xs = x.data as ArrayLike<number | bigint | string>; const ys = y.data as ArrayLike<number | bigint | string>;
    const width = x.dims.length === 2 ? x.dims[1] : 1;
    if (width > 1 && typeof xs[0] === 'number') {
      for (let r = 0; r < x.dims[0]; r++) {
        let ia = 0; let ib = 0;
        for (let c = 1; c < width; c++) { if ((xs[r * width + c] as number) > (xs[r * width + ia] as number)) ia = c; if ((ys[r * width + c] as number) > (ys[r * width + ib] as number)) ib = c; }
        if (ia !== ib) return false;
      }
      continue;
    }
    for (let i = 0; i < xs.length; i++) {
      if (typeof xs[i] === 'number') { const p = xs[i] as number; const q = Number(ys[i]); if (!(Math.abs(p - q) <= 1e-3 * Math.max(1, Math.abs(p)))) return false; }
      else if (xs[i] !== ys[i]) return false;
    }
  }
  return true;
}

/** Called after every request (Prometheus, model.stats). */
export type InferObserver = (name: string, version: string, outcome: string, queueUs: number, computeUs: number, batch?: number) => void;

const RING = 2048;
class VersionStats {
  requests = 0; errors = 0; inFlight = 0; rows = 0; runs = 0;
  /** Set while this version receives shadow copies: compared with `of`. */
  shadow: { of: string; compared: number; disagreements: number; skipped: number } | null = null;
  /** The last RING requests: latencies (µs) and when each was recorded (ms epoch). */
  private total = new Float64Array(RING); private queue = new Float64Array(RING); private compute = new Float64Array(RING); private at = new Float64Array(RING); private n = 0;
  add(totalUs: number, queueUs: number, computeUs: number, now = Date.now()) { const i = this.n++ % RING; this.total[i] = totalUs; this.queue[i] = queueUs; this.compute[i] = computeUs; this.at[i] = now; }
  private pct(a: Float64Array, q: number, idx: number[] | null): number | null {
    const xs = idx ? idx.map((i) => a[i]) : Array.from(a.subarray(0, Math.min(this.n, RING)));
    const k = xs.length; if (k === 0) return null;
    xs.sort((x, y) => x - y);
    return Math.round(xs[Math.min(k - 1, Math.floor(q * k))]);
  }
  /** Percentiles over the ring; with `since` (ms epoch), over the entries recorded at or after it only (null if none). */
  latency(since?: number) {
    let idx: number[] | null = null;
    if (since !== undefined) { idx = []; for (let i = 0, k = Math.min(this.n, RING); i < k; i++) if (this.at[i] >= since) idx.push(i); }
    return { p50: this.pct(this.total, 0.5, idx), p95: this.pct(this.total, 0.95, idx), queue_p50: this.pct(this.queue, 0.5, idx), compute_p50: this.pct(this.compute, 0.5, idx) };
  }
}

/**
 * Loaded models and JSON inference. A version is loaded (and warmed up) before it serves; loading one never
 * disturbs another; concurrent loads of the same version share one promise. Inference on a version that is not
 * loaded loads it first.
 */
export class ServingManager {
  private loaded = new Map<string, Promise<LoadedModel>>();
  private ready = new Map<string, LoadedModel>();
  private stats = new Map<string, VersionStats>();
  private batchers = new Map<string, { batcher: Batcher; cfg: BatchingOptions }>();
  private batchingOverride = new Map<string, BatchingOptions | null>();
  /**
   * Versions loaded only to be evaluated (not loaded before): key → evaluations running and the version's request
   * count when it was loaded. Unloaded when the last evaluation ends unless the version started serving meanwhile.
   */
  private transient = new Map<string, { running: number; requests: number }>();
  /** Shadow version per model name (copies of aliased traffic); in memory. */
  private shadows = new Map<string, string>();
  private shadowInFlight = 0;
  /** Most shadow copies running at once; beyond it copies are skipped (counted), never queued behind real traffic. */
  shadowMaxInFlight = 16;
  /** Set by main.ts: Prometheus counters and histograms. */
  observer: InferObserver | null = null;
  // Sampling hook: the hot path only appends to a bounded buffer (O(1)); listeners get batches off the hot path.
  private sampleListeners = new Set<(batch: InferSample[]) => void>();
  private sampleBuf: InferSample[] = [];
  private sampleScheduled = false;
  /** Share of requests sampled (0..1) and the most samples waiting for delivery; dropped counts what did not fit. */
  sampleRate = 1;
  /** Per-model share, set (setSampleRate) by the drift monitor when one model's traffic exceeds its capture budget (overrides sampleRate). */
  private readonly modelRates = new Map<string, number>();
  sampleCap = 1024;
  samplesDropped = 0;

  /** The per-model sampling shares below 1 (read-only: change them with setSampleRate). */
  get sampleRates(): ReadonlyMap<string, number> { return this.modelRates; }

  /** Sets the share of `model`'s requests that are sampled (clamped to (0, 1]); 1 removes the per-model override. */
  setSampleRate(model: string, rate: number): void {
    if (!(rate < 1)) this.modelRates.delete(model);
    else this.modelRates.set(model, Math.max(Number.MIN_VALUE, rate));
  }

  /** Receive (a sample of) the inputs and outputs of inferences, in batches, off the hot path. */
  onSamples(l: (batch: InferSample[]) => void): () => void { this.sampleListeners.add(l); return () => this.sampleListeners.delete(l); }

  private sample(s: InferSample): void {
    if (this.sampleListeners.size === 0) return;
    const rate = this.modelRates.size > 0 ? this.modelRates.get(s.name) ?? this.sampleRate : this.sampleRate;
    if (rate < 1 && Math.random() >= rate) return;
    if (this.sampleBuf.length >= this.sampleCap) { this.samplesDropped++; return; }
    this.sampleBuf.push(s);
    if (this.sampleScheduled) return;
    this.sampleScheduled = true;
    setImmediate(() => {
      this.sampleScheduled = false;
      const batch = this.sampleBuf;
      this.sampleBuf = [];
      for (const l of this.sampleListeners) { try { l(batch); } catch (e) { this.log.warn({ err: (e as Error).message }, 'sample listener failed'); } }
    });
  }
  constructor(private readonly registry: ModelRegistry, private readonly runtime: ModelRuntime, private readonly opts: ServingOptions, private readonly log: Logger) {
    this.observer = opts.observer ?? null;
  }

  /** The version that serves a request: the named one, else the alias's weighted pick, else the newest. */
  pick(name: string, version?: string, rnd: () => number = Math.random): StoredVersion {
    if (version) return this.registry.resolve(name, version);
    const a = this.registry.alias(name);
    if (a) {
      let x = rnd() * 100;
      for (const t of a.targets) { if (t.weight > 0 && (x -= t.weight) < 0) return this.registry.resolve(name, t.version); }
      const last = [...a.targets].reverse().find((t) => t.weight > 0);
      if (last) return this.registry.resolve(name, last.version);
    }
    return this.registry.resolve(name);
  }

  /** Route a name: load and warm every target first, then switch (no gap in service). */
  async alias(name: string, targets: Array<{ version: string; weight: number }>, by: string, reason: string | null, shadow?: string | null): Promise<{ name: string; targets: Array<{ version: string; weight: number }>; updated_at: number; shadow: string | null }> {
    const vs = targets.map((t) => this.registry.resolve(name, t.version));
    const sv = shadow ? this.registry.resolve(name, shadow) : null;
    const serve = [...vs.filter((_, i) => targets[i].weight > 0), ...(sv ? [sv] : [])];
    for (const v of serve) this.transient.delete(this.key(v));
    await Promise.all(serve.map((v) => this.ensure(v)));
    const now = Date.now();
    // The routing history records changes: setting the same targets again (a coordinator re-applying a step after a
    // restart) writes nothing, though the call is still audited and the shadow still set.
    const cur = this.registry.alias(name);
    const same = cur !== null && cur.targets.length === targets.length && cur.targets.every((t, i) => t.version === targets[i].version && t.weight === targets[i].weight);
    if (!same) this.registry.setAlias(name, targets, by, reason, now);
    if (shadow !== undefined) {
      if (sv) this.shadows.set(name, sv.version); else this.shadows.delete(name);
    }
    this.log.info({ model: name, targets, shadow: this.shadows.get(name) ?? null, by }, 'model routing changed');
    return { name, targets, updated_at: same ? cur!.updated_at : now, shadow: this.shadows.get(name) ?? null };
  }

  /**
   * Runs a copy of a request on the shadow version, off the answer's path: the client already has its answer. The
   * copy's outputs are compared with the served ones and fed to the sampling hook (drift sees the shadow's traffic).
   */
  private shadowCopy(name: string, servedVersion: string, feeds: Record<string, RawTensor>, served: Record<string, RawTensor>, id: string): void {
    const sv = this.shadows.get(name);
    if (!sv || sv === servedVersion) return;
    const k = `${name}@${sv}`;
    let st = this.stats.get(k);
    if (!st) this.stats.set(k, (st = new VersionStats()));
    if (!st.shadow || st.shadow.of !== servedVersion) st.shadow = { of: servedVersion, compared: 0, disagreements: 0, skipped: 0 };
    const sh = st.shadow;
    if (this.shadowInFlight >= this.shadowMaxInFlight) { sh.skipped++; return; }
    this.shadowInFlight++;
    const t0 = performance.now();
    st.requests++;
    const stats = st;
    void (async () => {
      try {
        const v = this.registry.resolve(name, sv);
        const m = await this.ensure(v);
        const r = await m.infer(feeds);
        stats.add((performance.now() - t0) * 1000, 0, r.computeUs);
        sh.compared++;
        if (!sameAnswers(served, r.outputs)) sh.disagreements++;
        this.keepSafe(v, id, feeds, r.outputs);
        this.sample({ name, version: sv, ts: Date.now(), inputs: feeds, outputs: r.outputs });
      } catch { stats.errors++; } finally { this.shadowInFlight--; }
    })();
  }

  /**
   * Request statistics per version since start (counters), latency percentiles over the last 2048 requests, or with
   * `since` (ms epoch) over those of them recorded at or after it.
   */
  statsOf(name?: string, since?: number) {
    const out = [];
    for (const [k, st] of this.stats) {
      const [n, v] = k.split('@');
      if (name && n !== name) continue;
      const b = this.batchers.get(k);
      out.push({ name: n, version: v, requests: st.requests, errors: st.errors, in_flight: st.inFlight, latency_us: st.latency(since),
        avg_batch: st.runs > 0 ? Math.round((st.rows / st.runs) * 10) / 10 : null,
        batching: b ? { max_batch_size: b.cfg.maxBatchSize, max_queue_delay_us: b.cfg.maxQueueDelayUs } : null,
        shadow: st.shadow ? { ...st.shadow } : null });
    }
    return out;
  }

  private key(v: StoredVersion) { return `${v.name}@${v.version}`; }

  /** Hand an answered request to the keeper; its failure never fails the request. */
  private keepSafe(v: StoredVersion, id: string, feeds: Record<string, RawTensor>, outputs: Record<string, RawTensor>): void {
    const keep = this.opts.keep;
    if (!keep) return;
    try { keep(v, id, feeds, outputs); } catch (e) { this.log.warn({ err: (e as Error).message, model: v.name, version: v.version }, 'keeping a request for feedback failed'); }
  }

  /** The wire view of a version (with whether and where it is loaded). */
  view(v: StoredVersion): ModelVersion {
    const m = this.ready.get(this.key(v));
    return { ...v, loaded: !!m, provider: m?.provider ?? null };
  }

  /** Load (once) and warm up a version. */
  async load(name: string, version?: string, batching?: { max_batch_size: number; max_queue_delay_us: number } | null): Promise<ModelVersion> {
    const v = this.registry.resolve(name, version);
    if (batching !== undefined) {
      this.batchingOverride.set(this.key(v), batching ? { maxBatchSize: batching.max_batch_size, maxQueueDelayUs: batching.max_queue_delay_us } : null);
      this.batchers.get(this.key(v))?.batcher.dispose();
      this.batchers.delete(this.key(v));
    }
    this.transient.delete(this.key(v)); // loaded on purpose: stays loaded after any evaluation running on it
    const m = await this.ensure(v);
    if (batching && !batchable(m.inputs, m.outputs)) throw new RpcError('INVALID_PARAMS', `${v.name} ${v.version} cannot batch: every input and output needs a dynamic first dimension`);
    return this.view(v);
  }

  /** The batcher of a loaded version, when batching applies to it. */
  private batcherOf(v: StoredVersion, m: LoadedModel): Batcher | null {
    const k = this.key(v);
    const cfg = this.batchingOverride.has(k) ? this.batchingOverride.get(k)! : this.opts.batching ?? null;
    if (!cfg || !batchable(m.inputs, m.outputs)) return null;
    let b = this.batchers.get(k);
    if (!b) this.batchers.set(k, (b = { cfg, batcher: new Batcher(cfg, (feeds) => m.infer(feeds)) }));
    return b.batcher;
  }

  private ensure(v: StoredVersion): Promise<LoadedModel> {
    const k = this.key(v);
    let p = this.loaded.get(k);
    if (!p) {
      p = (async () => {
        const m = await this.runtime.load(this.registry.file(v), this.opts);
        await m.warmup();
        this.ready.set(k, m);
        this.log.info({ model: v.name, version: v.version, provider: m.provider }, 'model loaded');
        this.loadedChanged(v);
        return m;
      })();
      this.loaded.set(k, p);
      p.catch(() => this.loaded.delete(k));
    }
    return p;
  }

  async unload(name: string, version?: string): Promise<ModelVersion> {
    const v = this.registry.resolve(name, version);
    const k = this.key(v);
    const p = this.loaded.get(k);
    this.loaded.delete(k);
    this.ready.delete(k);
    this.batchers.get(k)?.batcher.dispose();
    this.batchers.delete(k);
    if (p) await (await p.catch(() => null))?.close();
    if (p) this.loadedChanged(v);
    return this.view(v);
  }

  // Load-state listeners (the models topic): told after a version finished loading (any cause: model.load, a first
  // request, an alias, an evaluation) and after it was unloaded. Off the hot path: loads are rare.
  private readonly loadListeners = new Set<(v: StoredVersion) => void>();
  /** Be told when a version is loaded or unloaded (read `view(v)` for its state); returns the unsubscribe. */
  onLoadedChange(l: (v: StoredVersion) => void): () => void { this.loadListeners.add(l); return () => { this.loadListeners.delete(l); }; }
  private loadedChanged(v: StoredVersion): void {
    for (const l of this.loadListeners) { try { l(v); } catch { /* a subscriber's failure is its own */ } }
  }

  async remove(name: string, version?: string): Promise<boolean> {
    const v = this.registry.resolve(name, version);
    await this.unload(v.name, v.version);
    return this.registry.remove(v.name, v.version);
  }

  /** Run JSON inference; errors in the request are INVALID_PARAMS with a message naming the tensor. `id`: the caller's
   * request id (else one is generated); the answer carries it. */
  async infer(name: string, version: string | undefined, inputs: JsonTensor[], id?: string): Promise<{ model_name: string; model_version: string; id: string; outputs: JsonTensor[]; timing_us: { queue: number; compute: number } }> {
    const feeds: Record<string, RawTensor> = {};
    try {
      for (const t of inputs) {
        if (feeds[t.name]) throw new Error(`input "${t.name}" given twice`);
        feeds[t.name] = fromJson(t);
      }
    } catch (e) { throw new RpcError('INVALID_PARAMS', `${name}: ${(e as Error).message}`); }
    const r = await this.inferRaw(name, version, feeds, id);
    return { model_name: r.name, model_version: r.version, id: r.id, outputs: Object.entries(r.outputs).map(([n, t]) => toJson(n, t)), timing_us: r.timing_us };
  }

  /** Run inference on raw tensors (binary transports: no JSON on the hot path). */
  async inferRaw(name: string, version: string | undefined, feeds: Record<string, RawTensor>, requestId?: string): Promise<{ name: string; version: string; id: string; outputs: Record<string, RawTensor>; timing_us: { queue: number; compute: number } }> {
    const v = this.pick(name, version);
    const k = this.key(v);
    let st = this.stats.get(k);
    if (!st) this.stats.set(k, (st = new VersionStats()));
    const maxQueue = this.opts.maxQueue ?? 256;
    if (st.inFlight >= maxQueue) {
      st.errors++; this.observer?.(v.name, v.version, 'OVERLOADED', 0, 0);
      throw new RpcError('OVERLOADED', `${v.name} ${v.version}: ${st.inFlight} requests in flight (models.max_queue ${maxQueue}); retry later`);
    }
    st.requests++; st.inFlight++;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | null = null;
    try {
      const work = (async () => {
        const m = await this.ensure(v).catch((e) => { throw new RpcError('UNAVAILABLE', `model ${v.name} ${v.version} cannot be loaded: ${(e as Error).message}`); });
        try { validateFeeds(m.inputs, feeds); } catch (e) { throw new RpcError('INVALID_PARAMS', `${v.name} ${v.version}: ${(e as Error).message}`); }
        const t1 = performance.now();
        let r: { outputs: Record<string, RawTensor>; computeUs: number; batch?: number };
        const batcher = this.batcherOf(v, m);
        try { r = batcher ? await batcher.submit(feeds) : await m.infer(feeds); } catch (e) { throw new RpcError('INTERNAL_ERROR', `${v.name} ${v.version}: inference failed: ${(e as Error).message}`); }
        st!.rows += Object.values(feeds)[0]?.dims[0] ?? 1;
        st!.runs += batcher ? (Object.values(feeds)[0]?.dims[0] ?? 1) / (r.batch ?? 1) : 1;
        const inferWallUs = (performance.now() - t1) * 1000;
        // queue: everything but the session run (load on first use, validation, waiting for a worker)
        return { outputs: r.outputs, batch: r.batch ?? (Object.values(feeds)[0]?.dims[0] ?? 1), queue: Math.round((t1 - t0) * 1000 + Math.max(0, inferWallUs - r.computeUs)), compute: Math.round(r.computeUs) };
      })();
      const deadline = this.opts.requestTimeoutMs ?? 30_000;
      const r = await Promise.race([work, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new RpcError('TIMEOUT', `${v.name} ${v.version}: no answer within ${deadline} ms (models.request_timeout_ms)`)), deadline); })]);
      const total = (performance.now() - t0) * 1000;
      st.add(total, r.queue, r.compute);
      this.observer?.(v.name, v.version, 'ok', r.queue, r.compute, r.batch);
      this.sample({ name: v.name, version: v.version, ts: Date.now(), inputs: feeds, outputs: r.outputs });
      const id = requestId ?? newRequestId();
      this.keepSafe(v, id, feeds, r.outputs);
      if (!version && this.shadows.size > 0) this.shadowCopy(v.name, v.version, feeds, r.outputs, id);
      return { name: v.name, version: v.version, id, outputs: r.outputs, timing_us: { queue: r.queue, compute: r.compute } };
    } catch (e) {
      st.errors++;
      this.observer?.(v.name, v.version, e instanceof RpcError ? e.data.code : 'INTERNAL_ERROR', 0, 0);
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
      st.inFlight--;
    }
  }

  /**
   * Runs `fn` (which calls evaluate) with a version that may need loading for it: a version that was not loaded is
   * unloaded again when the last evaluation running on it ends — unless it started serving meanwhile (an alias target
   * with weight > 0, the shadow, requests served or in flight, or loaded explicitly with model.load / model.alias).
   */
  async withEvaluation<T>(name: string, version: string, fn: () => Promise<T>): Promise<T> {
    const v = this.registry.resolve(name, version);
    const k = this.key(v);
    let t = this.transient.get(k);
    if (!t && !this.loaded.has(k)) this.transient.set(k, (t = { running: 0, requests: this.stats.get(k)?.requests ?? 0 }));
    if (t) t.running++;
    try {
      return await fn();
    } finally {
      if (t && --t.running === 0 && this.transient.get(k) === t) {
        this.transient.delete(k);
        const st = this.stats.get(k);
        const alias = this.registry.alias(v.name);
        const serves = (alias?.targets.some((x) => x.version === v.version && x.weight > 0) ?? false) || this.shadows.get(v.name) === v.version
          || (st !== undefined && (st.requests !== t.requests || st.inFlight > 0));
        if (!serves) {
          this.log.info({ model: v.name, version: v.version }, 'model unloaded after evaluation (it was not loaded before)');
          await this.unload(v.name, v.version).catch((e) => this.log.warn({ model: v.name, version: v.version, err: (e as Error).message }, 'unload after evaluation failed'));
        }
      }
    }
  }

  /** Run a version on raw tensors outside traffic (no statistics, no sampling, no routing): reference predictions,
   * test sets. Loads the version if needed (and leaves it loaded: wrap the calls in withEvaluation to unload it). */
  async evaluate(name: string, version: string, feeds: Record<string, RawTensor>): Promise<Record<string, RawTensor>> {
    const v = this.registry.resolve(name, version);
    const m = await this.ensure(v);
    try { validateFeeds(m.inputs, feeds); } catch (e) { throw new RpcError('INVALID_PARAMS', `${v.name} ${v.version}: ${(e as Error).message}`); }
    return (await m.infer(feeds)).outputs;
  }

  /** The signature of a version (loading it if needed): for the HTTP metadata endpoints. */
  async signature(name: string, version?: string): Promise<{ version: StoredVersion; ready: boolean }> {
    const v = this.registry.resolve(name, version);
    return { version: v, ready: this.ready.has(this.key(v)) };
  }

  /** Close every loaded model (agent shutdown). */
  async dispose(): Promise<void> {
    const all = [...this.loaded.values()];
    for (const b of this.batchers.values()) b.batcher.dispose();
    this.batchers.clear();
    this.loaded.clear(); this.ready.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close()));
  }
}
