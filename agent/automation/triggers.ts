// Pure parts of the automation triggers: a 5-field cron matcher (UTC) for `schedule:` triggers, the threshold check
// of `performance:` triggers, and the storm guards that decide whether a trigger starts a run or is suppressed.
// Data in, data out: the clock is a parameter.
import type { AutomationRun, CompareOp, RunTrigger } from '../../shared/protocol/index.js';
import { isTerminalRun } from '../../shared/protocol/index.js';

// ---------------------------------------------------------------- cron

/** A parsed cron expression: the allowed values of each field, and whether day-of-month / day-of-week were restricted. */
export interface Cron { minute: Set<number>; hour: Set<number>; dom: Set<number>; month: Set<number>; dow: Set<number>; domAny: boolean; dowAny: boolean; text: string }

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

function field(text: string, f: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) throw new RangeError(`cron ${f.name}: "${part}" is not a number, a range a-b, * or a step /n`);
    const lo = m[1] === '*' ? f.min : Number(m[2]);
    const hi = m[1] === '*' ? f.max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? f.max : lo;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < f.min || hi > f.max || lo > hi) throw new RangeError(`cron ${f.name}: "${part}" is outside ${f.min}-${f.max}`);
    if (step < 1) throw new RangeError(`cron ${f.name}: a step must be at least 1`);
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/** Parse "m h dom mon dow" (numbers, *, a-b, lists, /n steps; day of week 0-7, 0 and 7 Sunday). Throws RangeError. */
export function parseCron(text: string): Cron {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5) throw new RangeError(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), "${text}" has ${parts.length}`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => field(p, FIELDS[i]));
  return { minute, hour, dom, month, dow, domAny: parts[2] === '*', dowAny: parts[4] === '*', text: parts.join(' ') };
}

/** Whether the minute containing `ms` (UTC) matches. Day of month and day of week: either, when both are restricted (Vixie cron). */
export function cronMatches(c: Cron, ms: number): boolean {
  const d = new Date(ms);
  if (!c.minute.has(d.getUTCMinutes()) || !c.hour.has(d.getUTCHours()) || !c.month.has(d.getUTCMonth() + 1)) return false;
  const domOk = c.dom.has(d.getUTCDate());
  const dowOk = c.dow.has(d.getUTCDay());
  if (c.domAny && c.dowAny) return true;
  if (c.domAny) return dowOk;
  if (c.dowAny) return domOk;
  return domOk || dowOk;
}

/** The next matching minute start after `ms` (within ~4 years), or null. */
export function nextCron(c: Cron, ms: number): number | null {
  let t = Math.floor(ms / 60_000) * 60_000 + 60_000;
  for (let i = 0; i < 4 * 366 * 24 * 60; i++, t += 60_000) if (cronMatches(c, t)) return t;
  return null;
}

// ---------------------------------------------------------------- performance

/** Whether `value op bound` holds (a performance trigger fires then). */
export function compare(value: number, op: CompareOp, bound: number): boolean {
  switch (op) {
    case '<': return value < bound;
    case '<=': return value <= bound;
    case '>': return value > bound;
    case '>=': return value >= bound;
  }
}

// ---------------------------------------------------------------- storm guards

/** What the guards look at. */
export interface GuardInput {
  trigger: RunTrigger;
  paused: boolean;
  /** Runs not over of the same model (any automation). */
  inFlight: readonly AutomationRun[];
  /** Runs of this automation created within max(cooldown, window) before now, newest first (suppressed ones included). */
  recent: readonly AutomationRun[];
  cooldownS: number;
  maxRuns: { count: number; window_s: number };
  now: number;
}

/** The verdict: run, or suppressed with the guard that said no (`guard` keys the folding of repeats). */
export type GuardVerdict = { run: true } | { run: false; guard: 'paused' | 'in_flight' | 'duplicate' | 'cooldown' | 'max_runs'; reason: string };

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const span = (s: number) => (s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

/**
 * The storm guards, in order: paused; one run in flight per model; identical triggers (same key) within the cooldown
 * de-duplicated; the cooldown after each run; at most N runs per window. A manual trigger skips de-duplication and
 * the cooldown (an operator asked for it) but not the others.
 */
export function guard(i: GuardInput): GuardVerdict {
  const manual = i.trigger.kind === 'manual';
  if (i.paused) return { run: false, guard: 'paused', reason: 'the automation is paused (fleetml auto resume to act on triggers again)' };
  const busy = i.inFlight[0];
  if (busy) return { run: false, guard: 'in_flight', reason: `run ${busy.id} of ${busy.automation} for model ${busy.model} is in flight (${busy.state}): one run per model at a time` };
  const real = i.recent.filter((r) => r.state !== 'suppressed');
  if (!manual) {
    const dup = real.find((r) => r.trigger.key === i.trigger.key && r.created_at >= i.now - i.cooldownS * 1000);
    if (dup) return { run: false, guard: 'duplicate', reason: `duplicate trigger (${i.trigger.key}): run ${dup.id} already handled it at ${iso(dup.created_at)}` };
    const last = real[0];
    if (last) {
      const ended = last.finished_at ?? last.updated_at;
      if (isTerminalRun(last) && ended + i.cooldownS * 1000 > i.now) {
        return { run: false, guard: 'cooldown', reason: `cooldown: run ${last.id} ended at ${iso(ended)}; the next run may start after ${iso(ended + i.cooldownS * 1000)} (cooldown ${span(i.cooldownS)})` };
      }
    }
  }
  const inWindow = real.filter((r) => r.created_at >= i.now - i.maxRuns.window_s * 1000);
  if (inWindow.length >= i.maxRuns.count) {
    const oldest = inWindow[inWindow.length - 1];
    return { run: false, guard: 'max_runs', reason: `max runs: ${inWindow.length} runs in the last ${span(i.maxRuns.window_s)} (limit ${i.maxRuns.count}/${span(i.maxRuns.window_s)}); the next may start after ${iso(oldest.created_at + i.maxRuns.window_s * 1000)}` };
  }
  return { run: true };
}

/**
 * A suppressed row an identical suppression may fold into: the newest run of the automation, when it is suppressed
 * with the same trigger key and the same guard (reason prefix) — a storm of the same trigger leaves one row whose
 * `repeats` counts it.
 */
export function foldInto(recent: readonly AutomationRun[], trigger: RunTrigger, verdict: Extract<GuardVerdict, { run: false }>): AutomationRun | null {
  const last = recent[0];
  if (!last || last.state !== 'suppressed' || last.trigger.key !== trigger.key) return null;
  return guardOf(last.reason) === verdict.guard ? last : null;
}

/** The guard named by a suppressed run's reason. */
function guardOf(reason: string | null): string | null {
  if (!reason) return null;
  if (reason.startsWith('the automation is paused')) return 'paused';
  if (reason.startsWith('duplicate trigger')) return 'duplicate';
  if (reason.startsWith('cooldown:')) return 'cooldown';
  if (reason.startsWith('max runs:')) return 'max_runs';
  if (/^run \S+ of .* is in flight/.test(reason)) return 'in_flight';
  return null;
}
