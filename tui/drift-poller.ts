// Polls drift.report and drift.history for the drift-model view (drift has no push for reports; alerts are pushed).
//
// Invariants (STYLE rule 13):
// - never two polls in flight: a poll starts only when the previous one has settled (one timer, re-armed after);
// - after a failure the delay doubles (pollMs, 2×, 4×, … up to maxBackoffMs) and resets on the next success;
// - a new selected feature without a histogram polls at once, or right after the poll in flight;
// - dispose() stops it for good: no timer left, and a poll that settles later publishes nothing.
import type { DriftHistory, DriftReader } from '../shared/client/fleet-types.js';
import type { DriftReport, HistogramView } from '../shared/protocol/drift.js';
import type { z } from 'zod';

/** Default time between two polls while the view is open (ms). */
export const DRIFT_POLL_MS = 2000;
/** Longest delay after repeated failures (ms). */
export const DRIFT_BACKOFF_MAX_MS = 30_000;
/** Closed windows asked of drift.history (the sparkline shows as many as fit). */
export const DRIFT_HISTORY_LIMIT = 288;
/** Windows `w` cycles through; the first drift-model frame shows DRIFT_WINDOWS[1] (the agent's default, 1h). */
export const DRIFT_WINDOWS = ['5m', '1h', '24h'] as const;
/** Window of a frame that never pressed `w`. */
export const DEFAULT_DRIFT_WINDOW = '1h';

/** The window after `w` ("5m" → "1h" → "24h" → "5m"); an unknown one goes to the first. */
export function nextDriftWindow(w: string | undefined): string {
  const i = DRIFT_WINDOWS.indexOf((w ?? DEFAULT_DRIFT_WINDOW) as (typeof DRIFT_WINDOWS)[number]);
  return DRIFT_WINDOWS[(i + 1) % DRIFT_WINDOWS.length];
}

type Hist = z.infer<typeof HistogramView>;

/** What the drift-model view shows: the last report and history, and how polling goes. */
export interface DriftFeed {
  /** "node/name[@version]" polled, or null when the view is not open. */
  target: string | null;
  window: string;
  report: DriftReport | null;
  history: DriftHistory | null;
  /** Histograms received so far per feature (reports carry only the selected one's). */
  histograms: Readonly<Record<string, Hist>>;
  /** idle: not polling; loading: no answer yet; ok: last poll succeeded; error: last poll failed (figures are the last good ones). */
  status: 'idle' | 'loading' | 'ok' | 'error';
  error: string | null;
  /** When the next poll is due after a failure (ms since epoch), or null. */
  retryAt: number | null;
  /** Polls made (for tests and the status line). */
  polls: number;
}

/** A feed that polls nothing. */
export function idleFeed(target: string | null = null, window = DEFAULT_DRIFT_WINDOW): DriftFeed {
  return { target, window, report: null, history: null, histograms: {}, status: target ? 'loading' : 'idle', error: null, retryAt: null, polls: 0 };
}

/** What to poll. */
export interface DriftPollTarget { key: string; node: string; name: string; version?: string; window: string }

/** Options of DriftPoller. */
export interface DriftPollerOptions {
  pollMs?: number;
  maxBackoffMs?: number;
  historyLimit?: number;
  now?: () => number;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Polls one model version's drift through a DriftReader and publishes a DriftFeed after every poll. */
export class DriftPoller {
  private feed: DriftFeed;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = false;
  private again = false;
  private disposed = false;
  private failures = 0;
  private feature: string | null = null;
  private readonly pollMs: number;
  private readonly maxBackoffMs: number;
  private readonly limit: number;
  private readonly now: () => number;

  constructor(private readonly reader: DriftReader, private readonly t: DriftPollTarget, private readonly publish: (f: DriftFeed) => void, o: DriftPollerOptions = {}) {
    this.pollMs = o.pollMs ?? DRIFT_POLL_MS;
    this.maxBackoffMs = o.maxBackoffMs ?? DRIFT_BACKOFF_MAX_MS;
    this.limit = o.historyLimit ?? DRIFT_HISTORY_LIMIT;
    this.now = o.now ?? Date.now;
    this.feed = idleFeed(t.key, t.window);
  }

  /** Poll now, then every pollMs. */
  start(): void {
    this.publish(this.feed);
    void this.poll();
  }

  /** The selected feature changed: ask for its histogram now unless one is already known. */
  setFeature(name: string | null): void {
    if (name === this.feature || this.disposed) return;
    this.feature = name;
    if (name === null || this.feed.histograms[name]) return;
    if (this.inFlight) { this.again = true; return; }
    if (this.feed.status === 'error') return; // backing off: the feature is asked for on the next try
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.poll();
  }

  /** Stop polling; a poll in flight publishes nothing when it settles. */
  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Delay before the next poll: pollMs, doubled per consecutive failure up to maxBackoffMs. */
  delay(): number {
    return this.failures === 0 ? this.pollMs : Math.min(this.maxBackoffMs, this.pollMs * 2 ** this.failures);
  }

  private async poll(): Promise<void> {
    if (this.inFlight || this.disposed) return;
    this.inFlight = true;
    this.timer = null;
    const { node, name, version, window } = this.t;
    const feature = this.feature;
    const [rep, hist] = await Promise.allSettled([
      this.reader.driftReport(node, name, { version, window, histograms: true, ...(feature ? { feature } : {}) }),
      this.reader.driftHistory(node, name, { version, limit: this.limit }),
    ]);
    this.inFlight = false;
    if (this.disposed) return;
    const f = { ...this.feed, polls: this.feed.polls + 1 };
    const errors: string[] = [];
    if (rep.status === 'fulfilled') {
      f.report = rep.value;
      const h = { ...f.histograms };
      for (const x of rep.value.features) if (x.histogram) h[x.name] = x.histogram;
      f.histograms = h;
    } else errors.push(messageOf(rep.reason));
    if (hist.status === 'fulfilled') f.history = hist.value;
    else if (rep.status === 'fulfilled') errors.push(`history: ${messageOf(hist.reason)}`);
    this.failures = errors.length ? this.failures + 1 : 0;
    const wait = this.again && !errors.length ? 0 : this.delay();
    this.again = false;
    f.status = errors.length ? 'error' : 'ok';
    f.error = errors.length ? errors.join(' · ') : null;
    f.retryAt = errors.length ? this.now() + wait : null;
    this.feed = f;
    this.publish(f);
    this.timer = setTimeout(() => void this.poll(), wait);
  }
}
