import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { DriftHistory, DriftHistoryOptions, DriftReader, DriftReportOptions } from '../../shared/client/fleet-types.js';
import type { DriftReport } from '../../shared/protocol/drift.js';
import { DriftPoller, nextDriftWindow, type DriftFeed } from '../../tui/drift-poller.js';
import { churnHistory, churnReport } from './drift-fixtures.js';

/** A reader whose answers take `delayMs` (fake time) and that records what was asked and whether calls overlapped. */
class SlowReader implements DriftReader {
  calls: { at: number; opts: DriftReportOptions }[] = [];
  running = 0;
  maxRunning = 0;
  fail: string | null = null;
  constructor(public delayMs: number) {}
  private async answer<T>(v: () => T): Promise<T> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.fail) throw new Error(this.fail);
      return v();
    } finally { this.running--; }
  }
  driftReport(_node: string, _name: string, opts: DriftReportOptions = {}): Promise<DriftReport> {
    this.calls.push({ at: Date.now(), opts });
    return this.answer(() => {
      const r = churnReport();
      return { ...r, features: r.features.map(({ histogram, ...f }) => (histogram && opts.feature === f.name ? { ...f, histogram } : f)) };
    });
  }
  driftHistory(_node: string, _name: string, _opts: DriftHistoryOptions = {}): Promise<DriftHistory> {
    return this.answer(() => churnHistory());
  }
}

const target = { key: 'gpu01/churn@3', node: 'gpu01', name: 'churn', version: '3', window: '1h' };

beforeEach(() => { vi.useFakeTimers({ now: 0 }); });
afterEach(() => { vi.useRealTimers(); });

function start(reader: SlowReader, pollMs = 2000) {
  const feeds: DriftFeed[] = [];
  const p = new DriftPoller(reader, target, (f) => feeds.push(f), { pollMs, maxBackoffMs: 30_000 });
  p.start();
  return { p, feeds, last: () => feeds[feeds.length - 1] };
}

describe('drift poller', () => {
  test('polls at once, then pollMs after each answer; a slow agent never gets two polls at once', async () => {
    const reader = new SlowReader(5000); // slower than the poll interval
    const { p } = start(reader);
    await vi.advanceTimersByTimeAsync(30_000);
    p.dispose();
    expect(reader.maxRunning).toBe(2); // report + history of one poll, never two polls
    // Each poll starts pollMs after the previous one settled: 0, 7000, 14000, …
    expect(reader.calls.map((c) => c.at)).toEqual([0, 7000, 14_000, 21_000, 28_000]);
    expect(reader.calls[0].opts).toMatchObject({ version: '3', window: '1h', histograms: true });
  });
  test('publishes report, history and status; errors keep the last good figures and back off up to the cap', async () => {
    const reader = new SlowReader(10);
    const { p, last } = start(reader);
    expect(last().status).toBe('loading');
    await vi.advanceTimersByTimeAsync(20);
    expect(last()).toMatchObject({ status: 'ok', error: null, polls: 1 });
    expect(last().report?.name).toBe('churn');
    expect(last().history?.points).toHaveLength(12);
    reader.fail = 'churn@3 has no reference yet';
    reader.calls = [];
    await vi.advanceTimersByTimeAsync(120_000);
    expect(last()).toMatchObject({ status: 'error', error: 'churn@3 has no reference yet' });
    expect(last().report?.name).toBe('churn'); // last good report stays on screen
    const gaps = reader.calls.slice(1).map((c, i) => c.at - reader.calls[i].at - 10);
    expect(gaps.slice(0, 5)).toEqual([4000, 8000, 16_000, 30_000, 30_000]);
    expect(last().retryAt).toBe(Date.now() + 30_000 - (Date.now() - reader.calls[reader.calls.length - 1].at - 10));
    reader.fail = null;
    reader.calls = [];
    await vi.advanceTimersByTimeAsync(40_000);
    expect(last().status).toBe('ok');
    expect(reader.calls[2].at - reader.calls[1].at).toBe(2010); // back to pollMs after a success
    p.dispose();
  });
  test('a newly selected feature is asked for at once, or right after the poll in flight; a known histogram is not re-asked', async () => {
    const reader = new SlowReader(100);
    const { p, last } = start(reader);
    await vi.advanceTimersByTimeAsync(100);
    expect(reader.calls).toHaveLength(1);
    p.setFeature('age');
    expect(reader.calls).toHaveLength(2);
    expect(reader.calls[1].opts.feature).toBe('age');
    p.setFeature('income'); // poll for age still in flight: income follows it at once
    expect(reader.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(101);
    expect(reader.calls).toHaveLength(3);
    expect(reader.calls[2].at).toBeLessThanOrEqual(201); // right after the age poll settled at 200
    expect(reader.calls[2].opts.feature).toBe('income');
    await vi.advanceTimersByTimeAsync(100);
    expect(Object.keys(last().histograms).sort()).toEqual(['age', 'income']);
    p.setFeature('age'); // histogram already known: wait for the next regular poll
    expect(reader.calls).toHaveLength(3);
    p.dispose();
  });
  test('dispose stops polling; a poll that settles afterwards publishes nothing', async () => {
    const reader = new SlowReader(500);
    const { p, feeds } = start(reader);
    await vi.advanceTimersByTimeAsync(100);
    p.dispose();
    const n = feeds.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(feeds).toHaveLength(n);
    expect(reader.calls).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
  test('w cycles 5m → 1h → 24h → 5m from the default 1h', () => {
    expect([nextDriftWindow(undefined), nextDriftWindow('5m'), nextDriftWindow('1h'), nextDriftWindow('24h'), nextDriftWindow('7d')]).toEqual(['24h', '1h', '24h', '5m', '5m']);
  });
});
