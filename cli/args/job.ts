// Pure parsing of `fleetml job …` arguments: sizes, durations, key=value lists, mounts, restart policies, and the
// JobSpec built from `job run` flags. Every error is a UsageError (exit code 2) that shows an accepted example.
import { JobSpec, JobState, type DriverName, type JobSpecInput } from '../../shared/protocol/jobs.js';
import { UsageError } from '../output.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, m: 1e6, g: 1e9, t: 1e12,
  ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40,
};

/**
 * A size in bytes. Suffixes (case-insensitive, an optional trailing "b"): k m g t are powers of 1000,
 * ki mi gi ti powers of 1024 (the Kubernetes convention); no suffix = bytes. "8g" = 8e9, "8gi" = 8 GiB, "1.5Gi" ok.
 */
export function parseSize(v: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(v);
  if (!m) throw new UsageError(`${what}: cannot read "${v}" as a size; use a number with k, m, g (×1000) or ki, mi, gi (×1024), e.g. 8g or 512mi`);
  const n = Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  return Math.round(n);
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A duration in seconds (may be fractional). Units s, m, h, d; several may follow each other ("1h30m");
 * a bare number is seconds.
 */
export function parseDuration(v: string, what = 'duration'): number {
  const s = v.trim().toLowerCase();
  const err = () => new UsageError(`${what}: cannot read "${v}" as a duration; use a number with s, m, h or d, e.g. 90s, 10m, 2h, 1h30m`);
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(s)) throw err();
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) total += Number(m[1]) * DURATION_UNITS[m[2]];
  return total;
}

/** An integer within bounds, or a UsageError naming the flag. */
export function parseIntArg(v: string, what: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what}: "${v}" is not a whole number from ${min} to ${max}`);
  return n;
}

/** A non-negative number (e.g. --cpus 1.5). */
export function parseNumberArg(v: string, what: string, max: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`${what}: "${v}" is not a number from 0 to ${max}`);
  return n;
}

/** KEY=VALUE pairs (VALUE may contain "=" and be empty) into a record; a repeated key is an error. */
export function parseKeyValues(items: readonly string[] | undefined, what: string, keyRe: RegExp, keyRule: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`${what}: "${item}" is not KEY=VALUE, e.g. ${what === '--env' ? 'CUDA_VISIBLE_ORDER=1' : 'team=vision'}`);
    const k = item.slice(0, i);
    if (!keyRe.test(k)) throw new UsageError(`${what}: "${k}" is not a valid key (${keyRule})`);
    if (Object.hasOwn(out, k)) throw new UsageError(`${what}: ${k} is given twice`);
    out[k] = item.slice(i + 1);
  }
  return out;
}

/** --env K=V (names are letters, digits and _, not starting with a digit). */
export const parseEnv = (items?: readonly string[]) => parseKeyValues(items, '--env', /^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _, not starting with a digit');
/** --label / --selector k=v (keys are 1-63 of A-Z a-z 0-9 . _ / -). */
export const parseLabels = (items: readonly string[] | undefined, what = '--label') => parseKeyValues(items, what, /^[A-Za-z0-9._/-]{1,63}$/, '1-63 of A-Z a-z 0-9 . _ / -');

/** --mount SRC:DST[:ro|rw]; both paths absolute. */
export function parseMount(v: string): { source: string; target: string; readonly: boolean } {
  const parts = v.split(':');
  let readonly = false;
  if (parts.length === 3) {
    if (parts[2] !== 'ro' && parts[2] !== 'rw') throw new UsageError(`--mount: "${v}": the third part must be ro or rw, e.g. /data:/data:ro`);
    readonly = parts[2] === 'ro';
  } else if (parts.length !== 2) {
    throw new UsageError(`--mount: "${v}" is not SRC:DST[:ro], e.g. /srv/datasets:/data:ro`);
  }
  const [source, target] = parts;
  if (!source.startsWith('/') || !target.startsWith('/')) throw new UsageError(`--mount: "${v}": both paths must be absolute, e.g. /srv/datasets:/data:ro`);
  return { source, target, readonly };
}

/** --restart never | on-failure:N (N = 1..100 more attempts). */
export function parseRestart(v: string): { policy: 'never' } | { policy: 'on-failure'; max_retries: number } {
  if (v === 'never') return { policy: 'never' };
  const m = /^on-failure(?::(.*))?$/.exec(v);
  if (!m) throw new UsageError(`--restart: "${v}" is not a policy; use never or on-failure:N, e.g. on-failure:3`);
  if (m[1] === undefined) throw new UsageError('--restart: on-failure needs a retry count, e.g. on-failure:3');
  return { policy: 'on-failure', max_retries: parseIntArg(m[1], '--restart on-failure:N', 1, 100) };
}

/** --state s,s (job states, comma-separated). */
export function parseStates(v: string): JobState[] {
  const out: JobState[] = [];
  for (const s of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    const r = JobState.safeParse(s);
    if (!r.success) throw new UsageError(`--state: unknown state "${s}"; use one or more of ${JobState.options.join(', ')}`);
    if (!out.includes(r.data)) out.push(r.data);
  }
  if (!out.length) throw new UsageError(`--state: give at least one of ${JobState.options.join(', ')}`);
  return out;
}

/** A job reference on the command line: "ID", "ID-PREFIX", "NAME" or "NODE/ID". */
export function parseJobRef(v: string): { node: string | null; ref: string } {
  const i = v.indexOf('/');
  const node = i > 0 ? v.slice(0, i) : null;
  const ref = i > 0 ? v.slice(i + 1) : v;
  if (!ref || ref.includes('/')) throw new UsageError(`"${v}" is not a job reference; use an id (or a unique prefix of it), a name, or NODE/ID`);
  return { node, ref };
}

/** Raw flags of `fleetml job run`, as commander hands them over. */
export interface JobRunFlags {
  node?: string;
  selector?: string[];
  gpus?: string;
  cpus?: string;
  memory?: string;
  image?: string;
  driver?: string;
  env?: string[];
  mount?: string[];
  workdir?: string;
  priority?: string;
  timeout?: string;
  restart?: string;
  name?: string;
  label?: string[];
  spread?: boolean;
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
}

/** What `job run` does: the spec to submit, and where (a fixed node, or placement with a selector and strategy). */
export interface JobRunPlan {
  spec: JobSpecInput;
  node: string | null;
  selector: Record<string, string>;
  strategy: 'binpack' | 'spread';
  /** No --driver was given: a node whose default driver is slurm runs the job on Slurm (resolveDriver). */
  driverDefaulted: boolean;
}

/** The spec for the chosen node: a job without --driver goes to Slurm where that is the node's default driver. */
export function resolveDriver(plan: JobRunPlan, nodeDefault: DriverName | undefined): JobSpecInput {
  if (!plan.driverDefaulted || nodeDefault !== 'slurm') return plan.spec;
  return { ...plan.spec, driver: 'slurm' };
}

/**
 * Build the job spec and placement inputs from `job run` flags and the command after `--`.
 * Driver default: slurm with --partition/--account/--qos/--constraint, docker when --image is given, else process —
 * and slurm on a node whose default driver is slurm (resolveDriver). Impossible combinations fail at once.
 */
export function buildJobRun(f: JobRunFlags, command: readonly string[]): JobRunPlan {
  if (!command.length) throw new UsageError('job run needs a command after --, e.g. fleetml job run --gpus 1 -- python train.py');
  if (f.node && f.selector?.length) throw new UsageError('--node and --selector exclude each other: --node picks the node, --selector lets placement choose among matching nodes');
  if (f.node && f.spread) throw new UsageError('--spread is a placement strategy and --node skips placement; drop one of them');
  const slurmFlags = (['partition', 'account', 'qos', 'constraint'] as const).filter((k) => f[k] !== undefined);
  let driver: DriverName;
  if (f.driver === undefined) driver = slurmFlags.length ? 'slurm' : f.image ? 'docker' : 'process';
  else if (f.driver === 'docker' || f.driver === 'process' || f.driver === 'fake' || f.driver === 'slurm') driver = f.driver;
  else throw new UsageError(`--driver: unknown driver "${f.driver}"; use process, docker, slurm or fake`);
  if (driver === 'docker' && !f.image) throw new UsageError('the docker driver needs an image: add --image IMG (it must already be on the node)');
  if (driver !== 'docker' && driver !== 'slurm' && f.image) throw new UsageError(`--image is only for the docker and slurm drivers, but --driver is ${driver}; drop --driver or --image`);
  if (driver !== 'slurm' && slurmFlags.length) throw new UsageError(`--${slurmFlags[0]} is only for the slurm driver, but --driver is ${driver}`);

  const spec: JobSpecInput = {
    driver,
    command: [...command],
    env: parseEnv(f.env),
    mounts: (f.mount ?? []).map(parseMount),
    gpus: f.gpus === undefined ? 0 : parseIntArg(f.gpus, '--gpus', 0, 64),
    labels: parseLabels(f.label),
  };
  if (f.image) spec.image = f.image;
  if (f.name !== undefined) spec.name = f.name;
  if (f.workdir !== undefined) spec.workdir = f.workdir;
  if (f.cpus !== undefined) spec.cpus = parseNumberArg(f.cpus, '--cpus', 1024);
  if (f.memory !== undefined) {
    spec.memory_bytes = parseSize(f.memory, '--memory');
    if (spec.memory_bytes < 4 * 2 ** 20) throw new UsageError(`--memory: ${f.memory} is below the 4mi minimum`);
  }
  if (f.priority !== undefined) spec.priority = parseIntArg(f.priority, '--priority', -1000, 1000);
  if (f.timeout !== undefined) {
    const s = Math.ceil(parseDuration(f.timeout, '--timeout'));
    if (s < 1 || s > 30 * 86_400) throw new UsageError(`--timeout: ${f.timeout} is outside 1s..30d`);
    spec.timeout_s = s;
  }
  if (f.restart !== undefined) spec.restart = parseRestart(f.restart);
  if (slurmFlags.length) spec.slurm = Object.fromEntries(slurmFlags.map((k) => [k, f[k]]));

  // the protocol schema has the last word (name rules, sizes); its first issue becomes the message
  const r = JobSpec.safeParse(spec);
  if (!r.success) {
    const i = r.error.issues[0];
    const flag = ({ name: '--name', workdir: '--workdir', image: '--image', command: 'command' } as Record<string, string>)[String(i.path[0])]
      ?? (i.path[0] === 'slurm' && i.path[1] ? `--${String(i.path[1])}` : String(i.path.join('.')));
    throw new UsageError(`${flag}: ${i.message}`);
  }
  return { spec, node: f.node ?? null, selector: parseLabels(f.selector, '--selector'), strategy: f.spread ? 'spread' : 'binpack', driverDefaulted: f.driver === undefined && !slurmFlags.length };
}
