// Alerts out: drift alerts, performance drops and automation run outcomes as Alertmanager webhook notifications, so
// whatever already receives Alertmanager (PagerDuty/Slack bridges, Alerta, Grafana OnCall, a custom receiver) takes
// fleetml's alerts unchanged.
//
// Payload: Alertmanager's webhook_config message, version "4" — https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
// (the Message struct of github.com/prometheus/alertmanager notify/webhook/webhook.go, which embeds template.Data):
//   { version: "4", groupKey, truncatedAlerts, status: "firing"|"resolved", receiver, groupLabels, commonLabels,
//     commonAnnotations, externalURL, alerts: [{ status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint }] }
// startsAt/endsAt are RFC 3339; a firing alert's endsAt is Go's zero time "0001-01-01T00:00:00Z". The fingerprint is
// Prometheus's (common/model labelSetToFingerprint): FNV-1a 64 over the labels sorted by name, each name and value
// followed by the byte 0xff, as 16 lower-case hex digits — so the same alert (same labels) keeps its fingerprint from
// firing to resolved, and a receiver deduplicates on it exactly as it does for Alertmanager's own.
//
// Delivery (WebhookSink): send() converts and enqueues, then returns; a single drain loop POSTs one message at a
// time with node's fetch. Each message gets `attempts` tries (default 3) with a per-try timeout and exponential
// backoff between tries; network errors, timeouts, 429 and 5xx are retried, other 4xx answers are not (the receiver
// refused the message). Invariants: send() never throws or rejects; the queue holds at most `maxQueue` messages and
// drops the oldest beyond that (counted in stats().dropped), so a dead receiver costs bounded memory; nothing runs
// after dispose(). The URL is logged as its origin only (webhook paths often carry a secret).
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DriftAlert } from '../../shared/protocol/index.js';

// ---------------------------------------------------------------------------------------------------------------
// What the automation engine hands a sink

/** A drift alert raised or resolved (the drift monitor's DriftAlertEvent plus where it happened). */
export interface DriftAlertInput {
  kind: 'drift';
  event: 'raised' | 'resolved';
  alert: DriftAlert;
  /** The node whose traffic drifted (default: the sink's node). */
  node?: string;
  /** The automation whose trigger this alert fed, if any (becomes the `automation` label). */
  automation?: string;
}

/** A performance metric of a model version crossed its bound (firing), or came back (resolved). */
export interface PerformanceAlertInput {
  kind: 'performance';
  model: string;
  version: string;
  /** e.g. "accuracy", "f1", "logloss". */
  metric: string;
  value: number;
  bound: number;
  /** "below": value < bound is bad (accuracy); "above": value > bound is bad (logloss). Default "below". */
  direction?: 'below' | 'above';
  /** Default "firing". */
  status?: 'firing' | 'resolved';
  /** When the drop began (ms since the epoch): startsAt. */
  since: number;
  /** When it ended (ms), for status "resolved" (default: now). */
  resolved_at?: number;
  node?: string;
  automation?: string;
}

/** Final states of an automation run that are worth telling a receiver about. */
export type AutomationRunOutcome = 'succeeded' | 'failed' | 'rolled_back' | 'suppressed';

/**
 * An automation run ended. failed, rolled_back and suppressed fire; succeeded resolves — the labels (automation,
 * model, version of the model the run acted on, node) are the same for every run of one automation on one version,
 * so a successful run resolves the alert a failed one raised.
 */
export interface AutomationRunAlertInput {
  kind: 'automation_run';
  run_id: string;
  automation: string;
  model: string;
  /** The version the run acted on (its parent), not the one it produced: stable across runs, so part of the fingerprint. */
  version: string;
  state: AutomationRunOutcome;
  reason: string;
  /** ms since the epoch. */
  started_at: number;
  ended_at: number;
  /** The version the run registered, if any (an annotation). */
  new_version?: string | null;
  node?: string;
}

/** One alert for a sink: a drift alert, a performance drop or an automation run outcome. */
export type AlertInput = DriftAlertInput | PerformanceAlertInput | AutomationRunAlertInput;

/** Where the automation engine sends alerts (WebhookSink; tests may record them). send never rejects. */
export interface AlertSink {
  send(alerts: AlertInput[]): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// The Alertmanager v4 payload (pure)

/** One alert of an Alertmanager webhook message. */
export interface AmAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** An Alertmanager webhook message, version 4. */
export interface AmMessage {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AmAlert[];
}

/** Alert names (the `alertname` label) of the three kinds. */
export const ALERT_NAMES = { drift: 'FleetmlDrift', performance: 'FleetmlPerformanceDrop', automation_run: 'FleetmlAutomationRun' } as const;
/** Severity per kind: fixed, so that an alert keeps its labels (and fingerprint) from firing to resolved. */
export const ALERT_SEVERITY = { drift: 'warning', performance: 'critical', automation_run: 'warning' } as const;

/** Go's zero time, Alertmanager's endsAt of a firing alert. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
/** Annotation values are cut to this many characters (reasons and messages can be long). */
const MAX_ANNOTATION = 2000;

const FNV_OFFSET = 0xcbf29ce484222325n, FNV_PRIME = 0x100000001b3n, SEP = 0xff;

/** Prometheus's label-set fingerprint (FNV-1a 64, labels sorted by name, 0xff after each name and value), 16 hex digits. */
export function fingerprint(labels: Readonly<Record<string, string>>): string {
  let h = FNV_OFFSET;
  const add = (b: number) => { h = BigInt.asUintN(64, (h ^ BigInt(b)) * FNV_PRIME); };
  for (const name of Object.keys(labels).sort()) {
    for (const b of Buffer.from(name, 'utf8')) add(b);
    add(SEP);
    for (const b of Buffer.from(labels[name], 'utf8')) add(b);
    add(SEP);
  }
  return h.toString(16).padStart(16, '0');
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString();
const cut = (s: string): string => (s.length > MAX_ANNOTATION ? `${s.slice(0, MAX_ANNOTATION - 1)}…` : s);
const num = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));

/** Context of the conversion: this node's name, the sink's externalURL, and "now" for resolved alerts without an end. */
export interface AlertContext { node: string; externalURL: string; now: number }

/** Labels without empty values (Alertmanager treats an empty label as absent), in a fixed key order. */
function labelsOf(l: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(l)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function modelURL(ctx: AlertContext, model: string, version: string): string {
  return ctx.externalURL ? `${ctx.externalURL.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}` : '';
}

/** One AlertInput as an Alertmanager alert. */
export function toAmAlert(a: AlertInput, ctx: AlertContext): AmAlert {
  let status: AmAlert['status'], labels: Record<string, string>, annotations: Record<string, string>, startsAt: number, endsAt: number | null;
  switch (a.kind) {
    case 'drift': {
      const d = a.alert;
      status = a.event === 'raised' && d.resolved_at === null ? 'firing' : 'resolved';
      labels = labelsOf({ alertname: ALERT_NAMES.drift, model: d.name, version: d.version, node: a.node ?? ctx.node, severity: ALERT_SEVERITY.drift, automation: a.automation });
      const what = d.features.length ? `features ${d.features.join(', ')}` : 'no input feature';
      annotations = {
        summary: status === 'firing' ? `Drift on ${d.name} v${d.version}: ${what}${d.prediction_drift ? ', and the predictions' : ''}` : `Drift on ${d.name} v${d.version} resolved`,
        description: cut(d.message),
        alert_id: String(d.id), features: d.features.join(','), drift_share: num(d.drift_share), prediction_drift: String(d.prediction_drift), consecutive: String(d.consecutive),
      };
      startsAt = d.raised_at;
      endsAt = status === 'firing' ? null : d.resolved_at ?? ctx.now;
      break;
    }
    case 'performance': {
      status = a.status ?? 'firing';
      const dir = a.direction ?? 'below';
      labels = labelsOf({ alertname: ALERT_NAMES.performance, model: a.model, version: a.version, node: a.node ?? ctx.node, severity: ALERT_SEVERITY.performance, automation: a.automation });
      annotations = {
        summary: status === 'firing' ? `${a.model} v${a.version}: ${a.metric} ${num(a.value)} is ${dir} its bound ${num(a.bound)}` : `${a.model} v${a.version}: ${a.metric} is back within its bound ${num(a.bound)}`,
        description: `The ${a.metric} of ${a.model} version ${a.version}, measured against ground truth, is ${num(a.value)}; the bound is ${dir === 'below' ? 'at least' : 'at most'} ${num(a.bound)}.`,
        metric: a.metric, value: num(a.value), bound: num(a.bound), direction: dir,
      };
      startsAt = a.since;
      endsAt = status === 'firing' ? null : a.resolved_at ?? ctx.now;
      break;
    }
    case 'automation_run': {
      status = a.state === 'succeeded' ? 'resolved' : 'firing';
      labels = labelsOf({ alertname: ALERT_NAMES.automation_run, model: a.model, version: a.version, node: a.node ?? ctx.node, severity: ALERT_SEVERITY.automation_run, automation: a.automation });
      const verb = { succeeded: 'succeeded', failed: 'failed', rolled_back: 'was rolled back', suppressed: 'was suppressed' }[a.state];
      annotations = {
        summary: `Automation ${a.automation} on ${a.model} v${a.version}: run ${a.run_id} ${verb}${a.new_version ? ` (new version ${a.new_version})` : ''}`,
        description: cut(a.reason),
        run_id: a.run_id, state: a.state, ...(a.new_version ? { new_version: a.new_version } : {}),
      };
      // firing: the run's start; resolved: a point event ending when the run ended
      startsAt = a.started_at;
      endsAt = status === 'firing' ? null : a.ended_at;
      break;
    }
  }
  const model = labels.model ?? '', version = labels.version ?? '';
  return {
    status, labels, annotations, startsAt: rfc3339(startsAt), endsAt: endsAt === null ? ZERO_TIME : rfc3339(Math.max(endsAt, startsAt)),
    generatorURL: modelURL(ctx, model, version), fingerprint: fingerprint(labels),
  };
}

/** Labels (or annotations) every record shares with the same value. */
function common(records: Record<string, string>[]): Record<string, string> {
  if (records.length === 0) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(records[0])) if (records.every((r) => r[k] === v)) out[k] = v;
  return out;
}

const quoteLabels = (l: Record<string, string>): string => `{${Object.keys(l).sort().map((k) => `${k}=${JSON.stringify(l[k])}`).join(', ')}}`;

/**
 * Groups alerts as an Alertmanager route `group_by: [alertname, model]` would, one message per group (in the order
 * groups first appear): status firing when any alert of the group fires; at most `maxAlerts` alerts per message
 * (0: all), firing ones first, the rest counted in truncatedAlerts.
 */
export function buildMessages(alerts: readonly AmAlert[], o: { receiver: string; externalURL: string; maxAlerts: number }): AmMessage[] {
  const groups = new Map<string, AmAlert[]>();
  for (const a of alerts) {
    const k = quoteLabels({ alertname: a.labels.alertname, model: a.labels.model ?? '' });
    groups.set(k, [...(groups.get(k) ?? []), a]);
  }
  return [...groups.values()].map((all) => {
    const groupLabels = labelsOf({ alertname: all[0].labels.alertname, model: all[0].labels.model });
    const ordered = [...all.filter((a) => a.status === 'firing'), ...all.filter((a) => a.status === 'resolved')];
    const kept = o.maxAlerts > 0 ? ordered.slice(0, o.maxAlerts) : ordered;
    return {
      version: '4', groupKey: `{}:${quoteLabels(groupLabels)}`, truncatedAlerts: all.length - kept.length,
      status: all.some((a) => a.status === 'firing') ? 'firing' : 'resolved', receiver: o.receiver,
      groupLabels, commonLabels: common(all.map((a) => a.labels)), commonAnnotations: common(all.map((a) => a.annotations)),
      externalURL: o.externalURL, alerts: kept,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Delivery

/** The logger a sink writes to (a pino child logger fits). */
export interface WebhookLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Options of a WebhookSink; defaults in WEBHOOK_DEFAULTS. */
export interface WebhookOptions {
  /** Receiver URL, http:// or https:// (credentials go in headers, not the URL). */
  url: string;
  /** Per-try timeout of one POST, ms. */
  timeoutMs?: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  log: WebhookLog;
  /** Tries per message, the first included (1-10). */
  attempts?: number;
  /** Backoff before the 2nd try, ms; doubled for each later try, at most 30 s. */
  backoffMs?: number;
  /** Messages waiting at most; beyond it the oldest is dropped. */
  maxQueue?: number;
  /** Alerts per message at most (0: no limit), the rest counted in truncatedAlerts. */
  maxAlerts?: number;
  /** The `receiver` field. */
  receiver?: string;
  /** The `externalURL` field, e.g. this agent's HTTP base URL; also the base of each alert's generatorURL. */
  externalURL?: string;
  /** The `node` label of alerts that name none (default: the host name). */
  node?: string;
}

/** Defaults of WebhookOptions, in one place. */
export const WEBHOOK_DEFAULTS = { timeoutMs: 5000, attempts: 3, backoffMs: 500, maxQueue: 100, maxAlerts: 100, receiver: 'fleetml', externalURL: '' } as const;

/** Delivery counters of a sink. */
export interface WebhookStats { sent: number; failed: number; dropped: number; retries: number; queued: number; inFlight: boolean }

/** Posts alerts to an Alertmanager-compatible webhook receiver. See the top of this file for its invariants. */
export class WebhookSink implements AlertSink {
  private readonly url: URL;
  private readonly origin: string;
  private readonly o: Required<Omit<WebhookOptions, 'headers' | 'log'>> & { headers: Record<string, string> };
  private readonly log: WebhookLog;
  private readonly queue: AmMessage[] = [];
  private readonly abort = new AbortController();
  private draining: Promise<void> | null = null;
  private readonly counts = { sent: 0, failed: 0, dropped: 0, retries: 0 };

  constructor(o: WebhookOptions) {
    let url: URL;
    try { url = new URL(o.url); } catch { throw new TypeError(`webhook url "${o.url}" is not a URL (expected http://host:port/path or https://…)`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`webhook url must be http:// or https://, not ${url.protocol}//`);
    if (url.username || url.password) throw new TypeError('webhook url must not carry credentials: pass them in headers (e.g. Authorization)');
    const int = (name: string, v: number, min: number, max: number) => {
      if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`webhook ${name} must be an integer in [${min}, ${max}], not ${v}`);
      return v;
    };
    const d = WEBHOOK_DEFAULTS;
    this.o = {
      url: o.url, headers: { ...(o.headers ?? {}) },
      timeoutMs: int('timeoutMs', o.timeoutMs ?? d.timeoutMs, 1, 600_000), attempts: int('attempts', o.attempts ?? d.attempts, 1, 10),
      backoffMs: int('backoffMs', o.backoffMs ?? d.backoffMs, 0, 30_000), maxQueue: int('maxQueue', o.maxQueue ?? d.maxQueue, 1, 100_000),
      maxAlerts: int('maxAlerts', o.maxAlerts ?? d.maxAlerts, 0, 100_000), receiver: o.receiver ?? d.receiver, externalURL: o.externalURL ?? d.externalURL,
      node: o.node ?? hostname(),
    };
    this.url = url;
    this.origin = url.origin;
    this.log = o.log;
  }

  /** Converts and enqueues; delivery runs in the background (await idle() to wait for it). Never rejects. */
  async send(alerts: AlertInput[]): Promise<void> {
    if (this.abort.signal.aborted || alerts.length === 0) return;
    try {
      const ctx: AlertContext = { node: this.o.node, externalURL: this.o.externalURL, now: Date.now() };
      for (const m of buildMessages(alerts.map((a) => toAmAlert(a, ctx)), this.o)) this.queue.push(m);
      while (this.queue.length > this.o.maxQueue) {
        const old = this.queue.shift()!;
        this.counts.dropped++;
        this.log.warn({ url: this.origin, group_key: old.groupKey, dropped: this.counts.dropped }, 'webhook queue full: dropped the oldest message');
      }
      this.kick();
    } catch (e) {
      this.log.warn({ url: this.origin, err: (e as Error).message }, 'webhook: could not build the alert message');
    }
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Delivery counters. */
  stats(): WebhookStats {
    return { ...this.counts, queued: this.queue.length, inFlight: this.draining !== null };
  }

  /** Stops: aborts the message in flight, drops the queue (counted), ignores later sends. */
  async dispose(): Promise<void> {
    this.counts.dropped += this.queue.length;
    this.queue.length = 0;
    this.abort.abort();
    await this.idle();
  }

  /** Starts the drain loop unless it runs; a message queued while a finished loop settles starts the next one. */
  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0 && !this.abort.signal.aborted) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (let m = this.queue.shift(); m && !this.abort.signal.aborted; m = this.queue.shift()) await this.deliver(m);
  }

  /** Tries one message up to `attempts` times; never throws. */
  private async deliver(m: AmMessage): Promise<void> {
    const body = JSON.stringify(m);
    const headers = { 'user-agent': 'fleetml-webhook', ...this.o.headers, 'content-type': 'application/json' };
    let last = '';
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      if (attempt > 1) {
        this.counts.retries++;
        try { await sleep(Math.min(this.o.backoffMs * 2 ** (attempt - 2), 30_000), undefined, { signal: this.abort.signal, ref: false }); } catch { break; }
      }
      try {
        const res = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]), redirect: 'error' });
        await res.arrayBuffer().catch(() => undefined); // free the connection
        if (res.ok) {
          this.counts.sent++;
          this.log.debug({ url: this.origin, group_key: m.groupKey, status: m.status, alerts: m.alerts.length, attempt }, 'webhook delivered');
          return;
        }
        last = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429 && res.status !== 408) break; // refused: retrying will not help
      } catch (e) {
        const err = e as Error;
        last = err.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : err.name === 'AbortError' ? 'stopped' : ((err.cause as Error | undefined)?.message ?? err.message);
        if (this.abort.signal.aborted) break;
      }
      this.log.debug({ url: this.origin, group_key: m.groupKey, attempt, err: last }, 'webhook try failed');
    }
    this.counts.failed++;
    this.log.warn({ url: this.origin, group_key: m.groupKey, alerts: m.alerts.length, attempts: this.o.attempts, err: last, failed: this.counts.failed }, 'webhook: gave up on a message');
  }
}

/** The fake beside the contract: keeps what it is sent (tests and the demo without a receiver). Bounded like the real one. */
export class MemoryAlertSink implements AlertSink {
  readonly alerts: AlertInput[] = [];
  dropped = 0;
  constructor(private readonly max = 1000) {}
  async send(alerts: AlertInput[]): Promise<void> {
    this.alerts.push(...alerts);
    const over = this.alerts.length - this.max;
    if (over > 0) { this.alerts.splice(0, over); this.dropped += over; }
  }
}
