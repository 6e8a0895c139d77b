/**
 * The drift monitor of one agent: turns sampled inferences into window profiles, judges each closed window against
 * the version's reference, raises and resolves alerts, and answers reports. It owns the capture, the window
 * lifecycle and the queries; the alert state machine is alerts.ts (pure), merged windows are window-cache.ts, dataset
 * uploads are reference-upload.ts, the per-version state is state.ts.
 *
 * Flow and invariants:
 * - The serving hot path only appends a sample to a bounded buffer (ServingManager.onSamples); this monitor receives
 *   batches off the hot path (setImmediate) and adds the rows to the version's open bucket, an in-memory profile.
 *   Memory per version is bounded: profiles hold histograms, capped sketches and capped category counts, never rows
 *   (except while a traffic reference collects its first N rows, N at most drift.max_reference_rows).
 * - Buckets are aligned to wall-clock multiples of drift.bucket_s. The open bucket is written to SQLite every few
 *   seconds (so kill -9 loses at most that much capture); a bucket is judged once, when it closes, and its judgement is
 *   stored with it in the same write as any alert change (one transaction). Buckets that closed while the agent was
 *   down are judged at start-up.
 * - Alerts: each judged window goes through the alert state machine of its version (alerts.ts, diagram there):
 *   raised after alert_after consecutive drifting windows, updated while they drift, resolved by the first judged
 *   window in range; windows that cannot be judged change nothing. The decision is applied here, in the transaction
 *   that stores the window's judgement.
 * - Changing a version's reference restarts its windows (their histograms use the old bin edges): the open bucket is
 *   dropped and the profiles of judged ones are emptied, their judgements kept for the history.
 * - An active alert of a version that stops getting traffic (no bucket for alert_after + 1 bucket lengths), or that is
 *   removed, is resolved ("no traffic"): nothing is left to judge it by.
 * - The capture rate per model is set on serving (setSampleRate) from here: the monitor owns the capture budget.
 * - dispose() stops capture, flushes the open buckets and waits for work in flight (a reference being profiled) before
 *   it resolves: main.ts closes the database right after.
 */
import { EventEmitter } from 'node:events';
import { RpcError } from '../../shared/protocol/index.js';
import type { DriftAlert, DriftPoint, DriftReport, DriftSettings, FeatureDrift, ReferenceInfo } from '../../shared/protocol/index.js';
import type { AgentConfig } from '../config.js';
import type { AuditLog } from '../store/audit.js';
import type { Logger } from '../log.js';
import type { ModelRegistry, StoredVersion } from '../serving/registry.js';
import type { InferSample, ServingManager } from '../serving/serving.js';
import { extractRows, featuresOf } from '../serving/tabular.js';
import { addValue, accFromJson, accToJson, type FeatureAcc } from './profile.js';
import { datasetFigures, histogramView, judgeFeature, trafficDistance, type EffectiveSettings } from './compare.js';
import { buildRefFeature, storedReference } from './reference.js';
import { alertMessage, nextAlert, trailingConsecutive } from './alerts.js';
import { newBucket, type OpenBucket, type VersionState } from './state.js';
import { WindowCache, hourOf } from './window-cache.js';
import { ReferenceUpload } from './reference-upload.js';
import type { DriftStore, StoredReference } from './store.js';

type DriftConfig = AgentConfig['drift'];

/** What the monitor uses of serving: the sampling hook and its rates, and evaluation for reference predictions. */
export type DriftServing = Pick<ServingManager, 'onSamples' | 'sampleRates' | 'setSampleRate' | 'samplesDropped' | 'withEvaluation' | 'evaluate'>;
/** What it uses of the model registry: versions, and aliases (the version a request without one means). */
export type DriftRegistry = Pick<ModelRegistry, 'resolve' | 'get' | 'alias'>;

/** Uploads idle this long are dropped. */
const UPLOAD_IDLE_MS = 600_000;

/** Parses a window like 5m, 1h, 24h, 2d into ms. */
export function parseWindow(w: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(w);
  if (!m) throw new RpcError('INVALID_PARAMS', `bad window ${w}: use a duration like 5m, 1h, 24h`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's']!;
}

/** Events: 'alert' ({type, alert}); 'judged' (name, version, point). */
export class DriftMonitor extends EventEmitter {
  private states = new Map<string, VersionState>();
  private settings = new Map<string, DriftSettings>();
  private uploads = new Map<string, ReferenceUpload>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly windows: WindowCache;
  /** Work in flight that writes to the store when it ends (reference builds): dispose() waits for it. */
  private inFlight = new Set<Promise<unknown>>();
  private disposed = false;
  /** Rows captured per model since the last rate adjustment. */
  private captured = new Map<string, number>();
  private lastRateAt = 0;
  private lastPrune = 0;
  private lastStaleCheck = 0;
  private startedAt = 0;
  private readonly bucketMs: number;
  private readonly now: () => number;
  private readonly rnd: () => number;

  constructor(private readonly deps: { store: DriftStore; registry: DriftRegistry; serving: DriftServing; config: DriftConfig; log: Logger; now?: () => number; rnd?: () => number;
    /** Where an automatic reference (built from the traffic of any token, read ones included) is recorded. */
    audit?: Pick<AuditLog, 'record'>;
    /** Caps of unfinished dataset uploads (agent config uploads.max_per_token and max_total) [4 and 32]. */
    uploads?: { maxPerToken: number; maxTotal: number } }) {
    super();
    this.bucketMs = deps.config.bucket_s * 1000;
    this.now = deps.now ?? Date.now;
    this.rnd = deps.rnd ?? Math.random;
    this.windows = new WindowCache(deps.store, this.bucketMs, this.now);
  }

  /** Resume open buckets, judge buckets that closed while the agent was down, then start capturing. */
  start(): void {
    const now = this.now();
    this.startedAt = now;
    for (const o of this.deps.store.open(now)) {
      const st = this.stateOf(o.name, o.version);
      if (!st || o.bucket.accs.length !== st.defs.length) continue;
      st.open = { start: o.bucket.start, end: o.bucket.end, rows: o.bucket.rows, accs: o.bucket.accs.map(accFromJson) };
    }
    for (const u of this.deps.store.unjudged(now)) {
      const st = this.stateOf(u.name, u.version);
      const b = this.deps.store.buckets(u.name, u.version, u.start, 1)[0];
      if (!st || !b || b.start !== u.start || b.accs.length !== st.defs.length) continue;
      this.judgeAndStore(st, { start: b.start, end: b.end, rows: b.rows, accs: b.accs.map(accFromJson) });
    }
    this.unsubscribe = this.deps.serving.onSamples((batch) => this.ingest(batch));
    this.timer = setInterval(() => this.tick(), Math.min(1000, Math.max(50, this.bucketMs / 10)));
    this.timer.unref();
  }

  /**
   * Stops capturing, flushes open buckets and resolves once the work in flight has ended (a reference being
   * profiled is finished and saved), so that the caller may close the database (agent shutdown). Never rejects.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.unsubscribe?.(); this.unsubscribe = null;
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    this.flushAll();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    // A reference saved meanwhile may have changed the open buckets (histograms dropped): write them as they are now.
    this.flushAll();
  }

  private flushAll(): void {
    for (const st of this.states.values()) {
      try { if (st.open && st.dirty) this.flush(st); } catch (e) { this.deps.log.error({ err: (e as Error).message, model: st.name, version: st.version }, 'drift flush failed'); }
    }
  }

  /** Runs `work` as in-flight work: dispose() waits for it to settle. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const done = () => { this.inFlight.delete(work); };
    work.then(done, done);
    return work;
  }

  // ------------------------------------------------------------ state

  private effective(name: string): EffectiveSettings {
    const c = this.deps.config;
    // overrides are read from SQLite once per model and kept until drift.config changes them
    let o = this.settings.get(name);
    if (!o) this.settings.set(name, (o = this.deps.store.settings(name)));
    return {
      numeric_method: o.numeric_method ?? null, categorical_method: o.categorical_method ?? null,
      thresholds: { ...c.thresholds, ...(o.thresholds ?? {}) },
      drift_share: o.drift_share ?? c.drift_share, alert_after: o.alert_after ?? c.alert_after,
      small_reference_rows: c.small_reference_rows, min_rows: c.min_rows, features: o.features ?? {},
    };
  }

  /** Feature type overrides of a model, by feature name. */
  private typeOverrides(name: string): Record<string, 'numeric' | 'categorical' | undefined> {
    return Object.fromEntries(Object.entries(this.effective(name).features).map(([k, f]) => [k, f.type]));
  }

  private stateOf(name: string, version: string): VersionState | null {
    const key = `${name}@${version}`;
    const have = this.states.get(key);
    if (have) return have;
    let v: StoredVersion;
    try { v = this.deps.registry.resolve(name, version); } catch { return null; }
    const { features, unprofiled } = featuresOf(v.inputs, v.outputs, this.deps.config.max_features, this.typeOverrides(name));
    const st: VersionState = { name, version, key, defs: features, unprofiled, ref: null, refInfo: null, open: null, dirty: false, lastFlush: 0,
      consecutive: 0, alert: null, trafficRef: null, last: null };
    const stored = this.deps.store.reference(name, version);
    if (stored && stored.features.length === features.length) this.applyReference(st, stored);
    st.alert = this.deps.store.activeAlerts().find((a) => a.name === name && a.version === version) ?? null;
    // Trailing drifting windows count towards the next alert across restarts (only those judged against the current
    // reference: windows judged before it was set stay in the history but count no more).
    st.consecutive = trailingConsecutive(this.deps.store.judgements(name, version, st.refInfo?.created_at ?? 0, 1000));
    if (!st.ref && this.deps.config.auto_reference_rows > 0) st.trafficRef = { need: Math.min(this.deps.config.auto_reference_rows, this.deps.config.max_reference_rows), rows: 0, cols: features.map(() => []), by: 'auto' };
    this.states.set(key, st);
    return st;
  }

  private applyReference(st: VersionState, r: StoredReference): void {
    st.ref = r.features.map((f, i) => ({ name: f.name, role: f.role, type: f.type, edges: r.profile[i].edges, acc: accFromJson(r.profile[i].acc) }));
    st.refInfo = r.info;
    st.defs = st.defs.map((d, i) => ({ ...d, name: r.features[i].name, type: r.features[i].type }));
  }

  // ------------------------------------------------------------ capture

  /** Adds sampled inferences to their versions' open buckets (and to a traffic reference being collected). */
  ingest(batch: readonly InferSample[]): void {
    for (const s of batch) {
      const st = this.stateOf(s.name, s.version);
      if (!st || st.defs.length === 0) continue;
      if (st.open && s.ts >= st.open.end) this.close(st);
      if (!st.open) st.open = newBucket(st, s.ts, this.bucketMs);
      const open = st.open;
      const tr = st.trafficRef;
      const rows = extractRows(st.defs, s.inputs, s.outputs, (f, cell) => {
        addValue(open.accs[f], cell, st.ref?.[f]?.edges ?? null);
        if (tr) tr.cols[f].push(cell);
      });
      open.rows += rows; st.dirty = true; this.captured.set(s.name, (this.captured.get(s.name) ?? 0) + rows);
      if (tr) { tr.rows += rows; if (tr.rows >= tr.need) this.finishTrafficReference(st); }
    }
  }

  private finishTrafficReference(st: VersionState): void {
    const tr = st.trafficRef!;
    st.trafficRef = null;
    const eff = this.effective(st.name);
    const ref = st.defs.map((d) => buildRefFeature(d.name, d.role, eff.features[d.name]?.type ?? d.type, tr.cols[st.defs.indexOf(d)]));
    const info: ReferenceInfo = { source: 'traffic', rows: tr.rows, rows_seen: tr.rows, created_at: this.now(), created_by: tr.by, dataset_name: null, dataset_sha256: null, matched_by: 'traffic' };
    this.saveReference(st, storedReference(ref, info));
    // An automatic reference is made of whatever traffic came first — read tokens' requests included — and decides
    // what later counts as drift: it goes into the audit log like the references operate tokens set.
    if (tr.by === 'auto') {
      try {
        this.deps.audit?.record({ token_name: 'agent', role: 'admin', method: 'drift.setReference', params: { name: st.name, version: st.version, from_traffic: tr.rows }, outcome: 'ok', remote: null,
          detail: { automatic: true, source: 'traffic', rows: tr.rows, why: 'drift.auto_reference_rows: the first inference requests of a version without a reference (any token with role read) became its reference' } });
      } catch (e) { this.deps.log.error({ err: e }, 'audit write failed'); }
    }
    const capped = tr.asked !== undefined && tr.asked > tr.need;
    this.deps.log.info({ model: st.name, version: st.version, rows: tr.rows, ...(capped ? { asked: tr.asked, capped_at: tr.need } : {}) },
      capped ? `drift reference built from traffic (capped at drift.max_reference_rows = ${tr.need} of the ${tr.asked} rows asked)` : 'drift reference built from traffic');
  }

  private saveReference(st: VersionState, stored: StoredReference): void {
    this.deps.store.saveReference(st.name, st.version, stored);
    // Same feature types: the windows go on (rollout comparisons and reports keep their rows); only their histograms,
    // counted over the old bin edges, are dropped and re-estimated from the sketches. Other types: windows restart.
    const sameTypes = st.defs.every((d, i) => d.type === stored.features[i]?.type);
    if (sameTypes) {
      this.deps.store.unbinBuckets(st.name, st.version);
      if (st.open) for (const a of st.open.accs) if (a.t === 'n') a.hist = null;
    } else {
      this.deps.store.dropBuckets(st.name, st.version);
      st.open = null; st.dirty = false;
    }
    this.applyReference(st, stored);
    // A reference in hand ends any traffic reference still collecting (a dataset given later wins over the auto one).
    st.trafficRef = null;
    st.consecutive = 0; st.last = null;
    this.windows.drop(st.key);
  }

  // ------------------------------------------------------------ windows

  private flush(st: VersionState): void {
    const b = st.open!;
    this.deps.store.saveBucket(st.name, st.version, { start: b.start, end: b.end, rows: b.rows, accs: b.accs.map(accToJson), judgement: null });
    st.dirty = false; st.lastFlush = this.now();
  }

  private close(st: VersionState): void {
    const b = st.open!;
    st.open = null; st.dirty = false;
    this.judgeAndStore(st, b);
  }

  /** Judges every feature of a profile against the version's reference. */
  private judge(st: VersionState, accs: FeatureAcc[]): FeatureDrift[] {
    const eff = this.effective(st.name);
    return st.defs.map((d, i) => judgeFeature(d.name, d.role, d.type, st.ref?.[i] ?? null, accs[i], eff));
  }

  /** Judges a closed bucket and stores the judgement with the alert decision (alerts.ts) in one transaction. */
  private judgeAndStore(st: VersionState, b: OpenBucket): void {
    const eff = this.effective(st.name);
    const features = this.judge(st, b.accs);
    const fig = datasetFigures(features, eff);
    const judged = features.some((f) => f.status === 'ok' || f.status === 'drift');
    const point: DriftPoint = { from: b.start, to: b.end, rows: b.rows, drift_share: fig.drift_share, dataset_drift: fig.dataset_drift, prediction_drift: fig.prediction_drift, judged,
      scores: Object.fromEntries(features.map((f) => [f.name, f.score])), drifted: [...fig.drifted, ...fig.predictions] };
    const events: Array<{ type: 'raised' | 'resolved'; alert: DriftAlert }> = [];
    const now = this.now();
    const hour = hourOf(b.start);
    const decision = nextAlert({ consecutive: st.consecutive, active: st.alert !== null }, point, eff.alert_after);
    this.deps.store.transaction(() => {
      this.deps.store.saveBucket(st.name, st.version, { start: b.start, end: b.end, rows: b.rows, accs: b.accs.map(accToJson), judgement: point });
      // The bucket's hour block (if one was stored: a bucket judged late, at start-up) no longer holds it as it is.
      this.deps.store.deleteHour(st.name, st.version, hour);
      if (decision.kind === 'update' && st.alert) {
        this.deps.store.updateAlert(st.alert.id, decision.consecutive, fig.drifted, fig.predictions, fig.drift_share);
      } else if (decision.kind === 'raise') {
        const judgedInputs = features.filter((f) => f.role === 'input' && (f.status === 'ok' || f.status === 'drift')).length;
        const message = alertMessage({ name: st.name, version: st.version, drifted: fig.drifted, judgedInputs, prediction_drift: fig.prediction_drift, predictions: fig.predictions,
          consecutive: decision.consecutive, bucket_s: this.deps.config.bucket_s });
        const alert = this.deps.store.raiseAlert({ name: st.name, version: st.version, raised_at: now, features: fig.drifted, predictions: fig.predictions, prediction_drift: fig.prediction_drift,
          drift_share: fig.drift_share, consecutive: decision.consecutive, message });
        events.push({ type: 'raised', alert });
      } else if (decision.kind === 'resolve' && st.alert) {
        this.deps.store.resolveAlert(st.alert.id, now);
        events.push({ type: 'resolved', alert: { ...st.alert, resolved_at: now } });
      }
    });
    // Committed: the in-memory state follows the stored one.
    st.consecutive = decision.consecutive;
    if (decision.kind === 'update' && st.alert) st.alert = { ...st.alert, consecutive: decision.consecutive, features: fig.drifted, predictions: fig.predictions, prediction_drift: fig.prediction_drift, drift_share: fig.drift_share };
    else if (decision.kind === 'raise') st.alert = events[0].alert;
    else if (decision.kind === 'resolve') st.alert = null;
    st.last = { features, point };
    this.windows.drop(st.key, b.start);
    // The close that completes an hour stores its block (off the report path); a later report reads one row for it.
    try { this.windows.storeHour(st, hour); } catch (e) { this.deps.log.error({ err: (e as Error).message, model: st.name, version: st.version }, 'drift hour block write failed'); }
    this.emit('judged', st.name, st.version, point);
    for (const e of events) {
      this.deps.log.warn({ model: st.name, version: st.version, alert: e.alert.id, features: e.alert.features }, e.type === 'raised' ? `drift alert raised: ${e.alert.message}` : 'drift alert resolved');
      this.emit('alert', e);
    }
  }

  /**
   * Closes due buckets, flushes open ones every few seconds, adapts the capture rate, prunes old buckets and uploads,
   * and (every min(60 s, bucket_s)) resolves the alerts of versions without traffic or removed.
   */
  tick(): void {
    const now = this.now();
    const flushEvery = Math.min(5000, this.bucketMs / 4);
    for (const st of this.states.values()) {
      try {
        if (st.open && now >= st.open.end) this.close(st);
        else if (st.open && st.dirty && now - st.lastFlush >= flushEvery) this.flush(st);
      } catch (e) { this.deps.log.error({ err: (e as Error).message, model: st.name, version: st.version }, 'drift window failed'); }
    }
    // Capture rate: sample uniformly when rows/s exceed the budget; relax back towards 1 when traffic drops.
    if (now - this.lastRateAt >= 1000) {
      const secs = this.lastRateAt ? (now - this.lastRateAt) / 1000 : 1;
      // Per model, so one busy model does not starve the others' windows.
      const sv = this.deps.serving;
      const max = this.deps.config.max_samples_per_s;
      for (const name of new Set([...this.captured.keys(), ...sv.sampleRates.keys()])) {
        const rate = (this.captured.get(name) ?? 0) / secs;
        const cur = sv.sampleRates.get(name) ?? 1;
        const next = rate > max ? Math.max(0.001, cur * (max / rate)) : Math.min(1, cur * 1.25);
        if (next !== cur) sv.setSampleRate(name, next);
      }
      this.captured.clear(); this.lastRateAt = now;
    }
    if (now - this.lastPrune > 600_000) {
      this.lastPrune = now;
      const before = now - this.deps.config.retention_h * 3_600_000;
      if (this.deps.store.prune(before) > 0) this.windows.dropBefore(before);
    }
    for (const [id, u] of this.uploads) if (now - u.touched > UPLOAD_IDLE_MS) this.uploads.delete(id);
    if (now - this.lastStaleCheck >= Math.min(60_000, this.bucketMs)) {
      this.lastStaleCheck = now;
      try { this.resolveStale(now); } catch (e) { this.deps.log.error({ err: (e as Error).message }, 'drift stale alert check failed'); }
    }
  }

  /**
   * Resolves the active alerts that nothing can resolve any more: their version was removed, or it has had no bucket
   * for alert_after + 1 bucket lengths (no traffic: no window will ever be judged without drift). Forgets the state
   * of removed versions.
   */
  private resolveStale(now: number): void {
    for (const [key, st] of this.states) {
      if (this.deps.registry.get(st.name, st.version)) continue;
      this.states.delete(key);
      this.windows.drop(key);
    }
    for (const a of this.deps.store.activeAlerts()) {
      const key = `${a.name}@${a.version}`;
      const st = this.states.get(key);
      let why: string;
      if (!this.deps.registry.get(a.name, a.version)) why = 'version removed';
      else {
        // Silence counts from the agent's start at the earliest: while it was down no traffic could be seen.
        const last = Math.max(a.raised_at, this.startedAt, st?.open?.end ?? 0, this.deps.store.lastBucketEnd(a.name, a.version) ?? 0);
        const windows = Math.floor((now - last) / this.bucketMs);
        if (windows < this.effective(a.name).alert_after + 1) continue;
        why = `no traffic for ${windows} windows`;
      }
      const message = `${a.message}; resolved: ${why}`;
      this.deps.store.resolveAlert(a.id, now, message);
      if (st && st.alert?.id === a.id) { st.alert = null; st.consecutive = 0; }
      const alert: DriftAlert = { ...a, resolved_at: now, message };
      this.deps.log.warn({ model: a.name, version: a.version, alert: a.id, features: a.features }, `drift alert resolved: ${why}`);
      this.emit('alert', { type: 'resolved', alert });
    }
  }

  // ------------------------------------------------------------ API

  /** The version a request without one means: the alias target with the most weight, else the newest. */
  versionFor(name: string, version?: string): string {
    if (version) return this.deps.registry.resolve(name, version).version;
    const a = this.deps.registry.alias(name);
    if (a) { const t = [...a.targets].sort((x, y) => y.weight - x.weight)[0]; if (t) return t.version; }
    return this.deps.registry.resolve(name).version;
  }

  private mustState(name: string, version?: string): VersionState {
    const v = this.versionFor(name, version);
    const st = this.stateOf(name, v);
    if (!st) throw new RpcError('NOT_FOUND', `no version ${v} of model ${name}`);
    return st;
  }

  /** drift.report */
  report(p: { name: string; version?: string; window: string; histograms: boolean; feature?: string }): DriftReport {
    const st = this.mustState(p.name, p.version);
    const winMs = parseWindow(p.window);
    if (winMs < this.bucketMs) throw new RpcError('INVALID_PARAMS', `window ${p.window} is shorter than one bucket (drift.bucket_s = ${this.deps.config.bucket_s} s)`);
    const now = this.now();
    const from = Math.floor((now - winMs) / this.bucketMs) * this.bucketMs + (st.open ? 0 : this.bucketMs);
    const cur = this.windowAccs(st, from);
    const eff = this.effective(st.name);
    const features = st.defs.map((d, i) => judgeFeature(d.name, d.role, d.type, st.ref?.[i] ?? null, cur.accs[i], eff));
    if (p.histograms && st.ref) {
      for (let i = 0; i < features.length; i++) if (!p.feature || p.feature === features[i].name) features[i].histogram = histogramView(st.ref[i], cur.accs[i]);
    }
    if (p.feature && !features.some((f) => f.name === p.feature)) throw new RpcError('NOT_FOUND', `${st.name} ${st.version} has no feature ${p.feature} (features: ${features.map((f) => f.name).slice(0, 12).join(', ')})`);
    const fig = datasetFigures(features, eff);
    return { name: st.name, version: st.version, window: p.window, from, to: now, rows: cur.rows, reference: st.refInfo, features,
      drift_share: fig.drift_share, share_threshold: eff.drift_share, dataset_drift: fig.dataset_drift, prediction_drift: fig.prediction_drift,
      alert: st.alert, capture: { sample_rate: this.deps.serving.sampleRates.get(st.name) ?? 1, dropped: this.deps.serving.samplesDropped } };
  }

  /** Merged profile of the closed buckets since `from` (and starting at or before `until`) plus the open bucket. */
  private windowAccs(st: VersionState, from: number, until?: number): { accs: FeatureAcc[]; rows: number } {
    return this.windows.window(st, from, until);
  }

  /**
   * drift.compare: the traffic version `a` served vs what `b` served on this node since `since` (whole buckets), per
   * feature as a distance — normalised Wasserstein (by b's std) for numeric features, Jensen–Shannon for categorical —
   * so one threshold applies to all (rollout analysis). A side with fewer than drift.min_rows rows gives null scores;
   * a feature with no present value in `a` while `b` has some scores ALL_MISSING_SCORE (1e6: fails any threshold).
   */
  compare(p: { name: string; a: string; b: string; since: number; b_since?: number; b_until?: number }): { rows_a: number; rows_b: number; input_drift: number | null; output_drift: number | null; features: Array<{ name: string; role: 'input' | 'prediction'; method: string; score: number | null }> } {
    const sa = this.stateOf(p.name, this.versionFor(p.name, p.a));
    const sb = this.stateOf(p.name, this.versionFor(p.name, p.b));
    if (!sa || !sb) throw new RpcError('NOT_FOUND', `${p.name}: unknown version`);
    if (sa.defs.length !== sb.defs.length) throw new RpcError('INVALID_PARAMS', `${p.name} ${p.a} and ${p.b} have different features: their traffic cannot be compared`);
    const from = Math.floor(p.since / this.bucketMs) * this.bucketMs;
    const A = this.windowAccs(sa, from);
    const B = this.windowAccs(sb, p.b_since !== undefined ? Math.floor(p.b_since / this.bucketMs) * this.bucketMs : from, p.b_until);
    const enough = A.rows >= this.deps.config.min_rows && B.rows >= this.deps.config.min_rows;
    const features = sa.defs.map((d, i) => {
      const a = A.accs[i]; const b = B.accs[i];
      const method = d.type === 'numeric' ? 'wasserstein' : 'jensenshannon';
      // A candidate with rows but no present value (all NaN / null) while b has values scores ALL_MISSING_SCORE (1e6):
      // finite, so JSON-safe, and above any threshold, so the analysis fails it instead of skipping a null.
      const score = enough ? trafficDistance(method, d.name, d.role, a, b) : null;
      return { name: sb.defs[i].name, role: d.role, method, score };
    });
    const max = (role: 'input' | 'prediction') => { const xs = features.filter((f) => f.role === role && f.score !== null).map((f) => f.score!); return xs.length ? Math.max(...xs) : null; };
    return { rows_a: A.rows, rows_b: B.rows, input_drift: max('input'), output_drift: max('prediction'), features };
  }

  /** drift.history */
  history(p: { name: string; version?: string; since?: number; limit: number }): { name: string; version: string; points: DriftPoint[]; alerts: DriftAlert[] } {
    const st = this.mustState(p.name, p.version);
    return { name: st.name, version: st.version, points: this.deps.store.judgements(st.name, st.version, p.since ?? 0, p.limit), alerts: this.deps.store.alerts(st.name, st.version) };
  }

  /** Active alerts of the node (topic snapshot). */
  activeAlerts(): DriftAlert[] { return this.deps.store.activeAlerts(); }

  /** drift.config */
  config(name: string, set: DriftSettings | null | undefined, by: string): { name: string; overrides: DriftSettings; effective: Omit<EffectiveSettings, 'min_rows'> } {
    this.deps.registry.resolve(name);
    if (set !== undefined) { this.deps.store.saveSettings(name, set, by, this.now()); this.settings.delete(name); }
    const eff = this.effective(name);
    const { min_rows: _min, ...effective } = eff;
    void _min;
    return { name, overrides: this.deps.store.settings(name), effective };
  }

  /** Last judgement of every version (Prometheus gauges). */
  gauges(): Array<{ name: string; version: string; features: FeatureDrift[]; point: DriftPoint; alert: boolean }> {
    const out = [];
    for (const st of this.states.values()) if (st.last) out.push({ name: st.name, version: st.version, features: st.last.features, point: st.last.point, alert: st.alert !== null });
    return out;
  }

  /** drift.setReference: a dataset in chunks, or the next N requests. */
  async setReference(p: { name: string; version?: string; format?: 'csv' | 'jsonl'; upload_id?: string; data?: string; final: boolean; dataset_name?: string; from_traffic?: number }, by: string): Promise<{ upload_id: string | null; received_rows: number; reference: ReferenceInfo | null; features: string[] }> {
    if (this.disposed) throw new RpcError('UNAVAILABLE', 'the agent is shutting down: send the reference again once it is back');
    let u: ReferenceUpload | undefined;
    if (p.upload_id) {
      u = this.uploads.get(p.upload_id);
      if (!u) throw new RpcError('NOT_FOUND', `no reference upload ${p.upload_id} (uploads expire after 10 minutes idle): start again without upload_id`);
    }
    const st = u ? this.states.get(u.key) : this.mustState(p.name, p.version);
    if (!st) throw new RpcError('NOT_FOUND', `model ${p.name} is gone`);
    const inputs = st.defs.filter((d) => d.role === 'input');
    if (inputs.length === 0) throw new RpcError('INVALID_PARAMS', `${st.name} ${st.version} has no profilable input (only [batch] and [batch, F] inputs are; not profiled: ${st.unprofiled.join(', ')})`);
    if (p.from_traffic !== undefined) {
      // The rows are kept raw until the reference is built: at most drift.max_reference_rows of them (a dataset is
      // sampled down to the same bound). In memory only: a restart drops a pending traffic reference.
      const cap = this.deps.config.max_reference_rows;
      const need = Math.min(p.from_traffic, cap);
      if (need < p.from_traffic) this.deps.log.info({ model: st.name, version: st.version, asked: p.from_traffic, rows: need }, `drift reference from traffic capped at drift.max_reference_rows: collecting ${need} of the ${p.from_traffic} rows asked`);
      st.trafficRef = { need, rows: 0, cols: st.defs.map(() => []), by, asked: p.from_traffic };
      return { upload_id: null, received_rows: 0, reference: null, features: st.defs.map((d) => d.name) };
    }
    if (!u) {
      this.admitUpload(by);
      u = new ReferenceUpload(st.key, { format: p.format!, by, datasetName: p.dataset_name ?? null, cap: this.deps.config.max_reference_rows, rnd: this.rnd, now: this.now() });
      this.uploads.set(u.id, u);
    }
    u.touched = this.now();
    // A UTF-8 byte-order mark opening the file (the CLI drops it; other clients may not) is not part of the first cell.
    const data = !p.upload_id && p.data?.startsWith('\uFEFF') ? p.data.slice(1) : p.data ?? '';
    try {
      u.add(data, p.final, inputs);
    } catch (e) {
      this.uploads.delete(u.id);
      throw e;
    }
    if (!p.final) return { upload_id: u.id, received_rows: u.seen, reference: null, features: st.defs.map((d) => d.name) };
    this.uploads.delete(u.id);
    if (u.rows.length === 0) throw new RpcError('INVALID_PARAMS', 'the reference dataset has no rows');
    const info = await this.track(this.buildDatasetReference(st, u));
    return { upload_id: u.id, received_rows: u.seen, reference: info, features: st.defs.map((d) => d.name) };
  }

  /** A new dataset upload of `by` may start (OVERLOADED naming the cap otherwise). Each holds up to
   * drift.max_reference_rows rows in memory until it finishes or expires (10 minutes idle), so they are counted like
   * model uploads: per token and in total (separately from model uploads, which hold disk instead). */
  private admitUpload(by: string): void {
    const caps = this.deps.uploads ?? { maxPerToken: 4, maxTotal: 32 };
    const expiry = `an upload idle for ${UPLOAD_IDLE_MS / 60_000} minutes expires`;
    const mine = [...this.uploads.values()].filter((x) => x.by === by).length;
    if (mine >= caps.maxPerToken) {
      throw new RpcError('OVERLOADED', `token ${by} already has ${mine} unfinished reference uploads, the most one token may hold (uploads.max_per_token ${caps.maxPerToken}): finish one (send its final chunk) or wait until an abandoned one expires — ${expiry}`,
        { limit: 'uploads.max_per_token', max: caps.maxPerToken, unfinished: mine });
    }
    if (this.uploads.size >= caps.maxTotal) {
      throw new RpcError('OVERLOADED', `the node already has ${this.uploads.size} unfinished reference uploads, the most it holds (uploads.max_total ${caps.maxTotal}): retry once one finishes or expires — ${expiry}`,
        { limit: 'uploads.max_total', max: caps.maxTotal, unfinished: this.uploads.size });
    }
  }

  /** Profiles a finished upload (running the version for the reference predictions) and saves it as the reference. */
  private async buildDatasetReference(st: VersionState, u: ReferenceUpload): Promise<ReferenceInfo> {
    const v = this.deps.registry.resolve(st.name, st.version);
    const sv = this.deps.serving;
    const { reference, predictionError } = await u.build({
      defs: st.defs, specs: v.inputs, types: this.typeOverrides(st.name), now: this.now,
      // A version loaded only for this is unloaded afterwards (unless it started serving meanwhile).
      predict: (run) => sv.withEvaluation(st.name, st.version, () => run((feeds) => sv.evaluate(st.name, st.version, feeds))),
    });
    if (predictionError) this.deps.log.warn({ model: st.name, version: st.version, err: predictionError }, 'reference predictions failed: predictions have no reference');
    this.saveReference(st, reference);
    const info = reference.info;
    this.deps.log.info({ model: st.name, version: st.version, rows: info.rows, rows_seen: info.rows_seen, matched_by: info.matched_by }, 'drift reference set from a dataset');
    return info;
  }
}
