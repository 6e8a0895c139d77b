import { describe, expect, it } from 'vitest';
import { compare, cronMatches, foldInto, guard, nextCron, parseCron } from '../../../agent/automation/triggers.js';
import type { AutomationRun, RunTrigger } from '../../../shared/protocol/index.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0); // Thursday
const H = 3_600_000;
const trig = (key = 'drift:v1:1', kind: RunTrigger['kind'] = 'drift'): RunTrigger => ({ kind, key, detail: key });
function run(p: Partial<AutomationRun> & { id: string; created_at: number }): AutomationRun {
  return { automation: 'a', model: 'credit', trigger: trig(), state: 'succeeded', reason: null, parent_version: 'v1', job_id: null, version: null, rollout_id: null,
    data_digest: null, data_source: null, metrics: null, repeats: 0, updated_at: p.created_at, finished_at: p.created_at, history: [], ...p };
}
const base = { paused: false, inFlight: [], recent: [], cooldownS: 6 * 3600, maxRuns: { count: 3, window_s: 86_400 }, now: T0 };

describe('cron', () => {
  it('matches minutes, steps, ranges and lists in UTC', () => {
    const c = parseCron('*/15 9-17 * * 1-5');
    expect(cronMatches(c, Date.UTC(2026, 11, 3, 9, 30))).toBe(true);
    expect(cronMatches(c, Date.UTC(2026, 11, 3, 9, 31))).toBe(false);
    expect(cronMatches(c, Date.UTC(2026, 11, 3, 18, 0))).toBe(false);
    expect(cronMatches(c, Date.UTC(2026, 11, 6, 10, 0))).toBe(false); // Sunday
    expect(cronMatches(parseCron('0 3 * * 7'), Date.UTC(2026, 11, 6, 3, 0))).toBe(true); // 7 = Sunday
    expect(cronMatches(parseCron('0 0 1,15 * *'), Date.UTC(2026, 11, 15, 0, 0))).toBe(true);
  });
  it('ORs day of month and day of week when both are restricted (Vixie cron)', () => {
    const c = parseCron('0 0 1 * 1');
    expect(cronMatches(c, Date.UTC(2026, 11, 1, 0, 0))).toBe(true); // the 1st (a Tuesday)
    expect(cronMatches(c, Date.UTC(2026, 11, 7, 0, 0))).toBe(true); // a Monday
    expect(cronMatches(c, Date.UTC(2026, 11, 8, 0, 0))).toBe(false);
  });
  it('finds the next matching minute', () => {
    expect(nextCron(parseCron('30 2 * * *'), T0)).toBe(Date.UTC(2026, 11, 4, 2, 30));
  });
  it('refuses malformed expressions with what is wrong', () => {
    expect(() => parseCron('* * * *')).toThrow(/5 fields/);
    expect(() => parseCron('61 * * * *')).toThrow(/minute: "61" is outside 0-59/);
    expect(() => parseCron('a * * * *')).toThrow(/not a number/);
    expect(() => parseCron('5-1 * * * *')).toThrow(/outside/);
  });
});

describe('performance threshold', () => {
  it('compares with each operator', () => {
    expect(compare(0.8, '<', 0.9)).toBe(true);
    expect(compare(0.9, '<', 0.9)).toBe(false);
    expect(compare(0.9, '<=', 0.9)).toBe(true);
    expect(compare(0.3, '>', 0.2)).toBe(true);
    expect(compare(0.2, '>=', 0.2)).toBe(true);
  });
});

describe('storm guards', () => {
  it('lets a first trigger run', () => { expect(guard({ ...base, trigger: trig() })).toEqual({ run: true }); });
  it('suppresses while the automation is paused', () => {
    expect(guard({ ...base, paused: true, trigger: trig() })).toMatchObject({ run: false, guard: 'paused' });
  });
  it('allows one run in flight per model', () => {
    const v = guard({ ...base, trigger: trig(), inFlight: [run({ id: 'r1', created_at: T0 - 1000, state: 'training', finished_at: null })] });
    expect(v).toMatchObject({ run: false, guard: 'in_flight' });
    expect((v as { reason: string }).reason).toMatch(/run r1 of a for model credit is in flight \(training\)/);
  });
  it('de-duplicates an identical trigger within the cooldown, and cools down after a run', () => {
    const last = run({ id: 'r1', created_at: T0 - H, finished_at: T0 - H / 2 });
    expect(guard({ ...base, trigger: trig(), recent: [last] })).toMatchObject({ run: false, guard: 'duplicate' });
    const v = guard({ ...base, trigger: trig('drift:v1:2'), recent: [last] });
    expect(v).toMatchObject({ run: false, guard: 'cooldown' });
    expect((v as { reason: string }).reason).toMatch(/cooldown: run r1 ended at 2026-12-03T11:30:00Z; the next run may start after 2026-12-03T17:30:00Z \(cooldown 6h\)/);
    expect(guard({ ...base, trigger: trig('drift:v1:2'), recent: [last], now: T0 + 6 * H })).toEqual({ run: true });
  });
  it('caps runs per window; a manual trigger skips the cooldown and de-duplication but not the cap', () => {
    const runs = [1, 2, 3].map((i) => run({ id: `r${i}`, created_at: T0 - i * H, finished_at: T0 - i * H + 60_000 }));
    const v = guard({ ...base, cooldownS: 0, trigger: trig('drift:v1:9'), recent: runs });
    expect(v).toMatchObject({ run: false, guard: 'max_runs' });
    expect((v as { reason: string }).reason).toMatch(/max runs: 3 runs in the last 24h \(limit 3\/24h\)/);
    expect(guard({ ...base, trigger: trig('manual:1', 'manual'), recent: runs.slice(0, 1) })).toEqual({ run: true });
    expect(guard({ ...base, trigger: trig('manual:1', 'manual'), recent: runs })).toMatchObject({ guard: 'max_runs' });
  });
  it('does not count suppressed rows as runs', () => {
    const sup = [1, 2, 3].map((i) => run({ id: `s${i}`, created_at: T0 - i * 1000, state: 'suppressed' }));
    expect(guard({ ...base, trigger: trig(), recent: sup })).toEqual({ run: true });
  });
  it('folds the same trigger stopped by the same guard into one row', () => {
    const t = trig('drift:v1:2');
    const sup = run({ id: 's1', created_at: T0 - 1000, state: 'suppressed', trigger: t, reason: 'cooldown: run r1 ended …' });
    const v = guard({ ...base, trigger: t, recent: [sup, run({ id: 'r1', created_at: T0 - H })] });
    expect(foldInto([sup], t, v as never)?.id).toBe('s1');
    expect(foldInto([sup], trig('drift:v1:3'), v as never)).toBeNull();
  });
});
