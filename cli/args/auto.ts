// Pure parts of `fleetml auto …`: --on, --gate (with --max-regression), --rollout, --cooldown, --max-runs, the retrain
// job's YAML, and the auto.create spec built from the flags. Every caller mistake is a UsageError (exit code 2) with an
// accepted example. Nothing here opens a file or a socket: the command reads, this decides.
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AutomationSpec, CompareOp, type AutomationSpecInput } from '../../shared/protocol/automation.js';
import { GateMetric, RolloutStrategy } from '../../shared/protocol/rollout.js';
import { JobSpec, type JobSpecInput } from '../../shared/protocol/jobs.js';
import { parseDuration, parseIntArg } from './job.js';
import { parseGate, parseSteps, parseStepDuration } from './rollout.js';
import { UsageError } from '../output.js';

/** A trigger as sent (defaults left to the agent). */
export type AutoTrigger = AutomationSpecInput['trigger'];

/** --on drift | manual | performance:METRIC<X | schedule:"m h dom mon dow". */
export function parseTrigger(v: string): AutoTrigger {
  const s = v.trim();
  const eg = 'e.g. --on drift, --on "performance:accuracy<0.9", --on "schedule:0 3 * * *" or --on manual';
  if (s === 'drift' || s === 'manual') return { kind: s };
  if (s.startsWith('schedule:')) {
    const cron = s.slice('schedule:'.length).trim();
    if (cron.split(/\s+/).length !== 5) throw new UsageError(`--on "${v}": a schedule is a 5-field cron expression (minute hour day-of-month month day-of-week, UTC), ${eg}`);
    return { kind: 'schedule', cron };
  }
  if (s.startsWith('performance')) {
    const rest = s.slice('performance'.length);
    if (rest === '') return { kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9 };
    const m = /^:\s*([a-z0-9]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i.exec(rest);
    if (!m) throw new UsageError(`--on "${v}": use performance:METRIC<X (accuracy, f1) or performance:METRIC>X (mae, rmse), ${eg}`);
    const metric = GateMetric.safeParse(m[1].toLowerCase());
    if (!metric.success) throw new UsageError(`--on "${v}": unknown metric "${m[1]}"; use one of ${GateMetric.options.join(', ')}`);
    return { kind: 'performance', metric: metric.data, op: CompareOp.parse(m[2]), bound: Number(m[3]) };
  }
  throw new UsageError(`--on "${v}": unknown trigger, ${eg}`);
}

/** --rollout "canary 10,50,100 --step-duration 5m" | "rolling --max-unavailable 2" | "all-at-once". */
export function parseRolloutArg(v: string): { strategy: 'canary' | 'rolling' | 'all-at-once'; steps?: number[]; step_duration_s?: number; max_unavailable?: number } {
  const words = v.trim().split(/\s+/).filter(Boolean);
  const eg = 'e.g. --rollout "canary 10,50,100 --step-duration 5m"';
  const st = RolloutStrategy.safeParse(words[0]);
  if (!st.success || st.data === 'shadow') throw new UsageError(`--rollout "${v}": start with canary, rolling or all-at-once, ${eg}`);
  const out: ReturnType<typeof parseRolloutArg> = { strategy: st.data as 'canary' | 'rolling' | 'all-at-once' };
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (/^[\d,%]+$/.test(w)) { out.steps = parseSteps(w); continue; }
    const next = words[i + 1];
    if (next === undefined) throw new UsageError(`--rollout "${v}": ${w} needs a value, ${eg}`);
    if (w === '--step-duration') out.step_duration_s = parseStepDuration(next);
    else if (w === '--steps') out.steps = parseSteps(next);
    else if (w === '--max-unavailable') out.max_unavailable = parseIntArg(next, '--max-unavailable', 1, 256);
    else throw new UsageError(`--rollout "${v}": unknown option ${w} (steps, --step-duration, --max-unavailable), ${eg}`);
    i++;
  }
  if (out.strategy === 'canary' && out.steps && out.steps[out.steps.length - 1] !== 100) throw new UsageError(`--rollout "${v}": the last canary step must be 100, ${eg}`);
  return out;
}

/** --cooldown 6h (0 allowed: no cooldown). */
export function parseCooldown(v: string): number {
  const s = parseDuration(v, '--cooldown');
  if (s < 0 || s > 30 * 86_400) throw new UsageError(`--cooldown "${v}": between 0 and 30d, e.g. --cooldown 6h`);
  return Math.round(s);
}

/** --max-runs 3/24h: at most COUNT runs per WINDOW. */
export function parseMaxRuns(v: string): { count: number; window_s: number } {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(v);
  if (!m) throw new UsageError(`--max-runs "${v}": use COUNT/WINDOW, e.g. --max-runs 3/24h`);
  const count = parseIntArg(m[1], '--max-runs count', 1, 1000);
  const window_s = Math.round(parseDuration(m[2], '--max-runs window'));
  if (window_s < 60) throw new UsageError(`--max-runs "${v}": the window is at least 1m, e.g. --max-runs 3/24h`);
  return { count, window_s };
}

/** The retraining job from its YAML (or JSON) file: a job spec (driver process, docker or slurm). */
export function parseJobYaml(text: string, source: string): JobSpecInput {
  let raw: unknown;
  try { raw = parseYaml(text); } catch (e) { throw new UsageError(`--retrain-job ${source}: not valid YAML: ${(e as Error).message}`); }
  const r = JobSpec.safeParse(raw);
  if (!r.success) throw new UsageError(`--retrain-job ${source}: ${r.error.issues.slice(0, 4).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}; e.g. {driver: process, command: [python3, train.py]}`);
  return raw as JobSpecInput;
}

/** The flags of `auto create`. */
export interface AutoCreateFlags { model?: string; on?: string; gate?: string; maxRegression?: string; rollout?: string; cooldown?: string; maxRuns?: string; nodes?: string; data?: string; testSet?: string }

/** A path on the agent's node: absolute as given, else resolved against the working directory (the same host). */
const agentPath = (p: string) => (isAbsolute(p) ? p : resolve(p));

/** The auto.create spec from the flags and the job (parsed from --retrain-job), checked against the protocol. */
export function buildAutoCreate(name: string, f: AutoCreateFlags, job: JobSpecInput): AutomationSpecInput {
  if (!f.model) throw new UsageError('--model is required: the model the automation retrains, e.g. --model credit');
  if (!f.on) throw new UsageError('--on is required, e.g. --on drift');
  const gate = f.gate ? parseGate(f.gate) : null;
  if (!gate && (f.maxRegression || f.testSet)) throw new UsageError('--max-regression and --test-set need --gate, e.g. --gate "accuracy>=0.9"');
  const spec: AutomationSpecInput = {
    name, model: f.model, trigger: parseTrigger(f.on), job,
    ...(f.data ? { data: { file: agentPath(f.data) } } : {}),
    ...(gate ? { gate: { ...gate, ...(f.maxRegression ? { max_regression: Number(f.maxRegression) } : {}), test_set: f.testSet ? { file: agentPath(f.testSet) } : 'feedback' as const } } : {}),
    ...(f.rollout ? { rollout: parseRolloutArg(f.rollout) } : {}),
    ...(f.cooldown ? { cooldown_s: parseCooldown(f.cooldown) } : {}),
    ...(f.maxRuns ? { max_runs: parseMaxRuns(f.maxRuns) } : {}),
    ...(f.nodes ? { nodes: f.nodes.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
  };
  const r = AutomationSpec.safeParse(spec);
  if (!r.success) throw new UsageError(r.error.issues.slice(0, 4).map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; '));
  return spec;
}
