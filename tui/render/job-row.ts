// Pure rendering of job rows (the :jobs view): columns, cells, tones, filtering and ordering.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { TERMINAL_STATES, type Job, type JobState } from '../../shared/protocol/jobs.js';
import type { Tone } from '../theme.js';
import type { Column } from './table.js';

/** Columns of the jobs view; REASON takes the spare width, DRIVER and REASON go first on narrow screens. */
export const JOB_COLUMNS: Column[] = [
  { header: 'NODE', width: 10, priority: 6 },
  { header: 'ID', width: 8, priority: 9 },
  { header: 'NAME', width: 12, priority: 7 },
  { header: 'STATE', width: 9, priority: 8 },
  { header: 'DRIVER', width: 7, priority: 2 },
  { header: 'GPUS', width: 4, align: 'right', priority: 4 },
  { header: 'AGE', width: 5, align: 'right', priority: 5 },
  { header: 'REASON', width: 16, flex: true, priority: 3 },
];

/** Widest a DRIVER cell may make its column: "slurm 1234567" (a Slurm id of 7 digits). */
const DRIVER_MAX = 13;
/** Columns sized to their content (index → widest allowed): NODE, ID, NAME shrink to it; DRIVER grows for Slurm ids. */
const FIT_TO: ReadonlyMap<number, number> = new Map([[0, 10], [1, 8], [2, 12], [4, DRIVER_MAX]]);

/**
 * JOB_COLUMNS sized to the rows shown (cells of jobRow): NODE, ID and NAME no wider than their widest cell (nor than
 * JOB_COLUMNS says), DRIVER as wide as its widest cell up to DRIVER_MAX ("slurm 4829301"); never narrower than the
 * header. What short cells leave goes to REASON, so at 80 columns a Slurm job keeps its id and "Slurm: Resources".
 */
export function jobColumns(rows: readonly (readonly string[])[]): Column[] {
  return JOB_COLUMNS.map((c, i) => {
    const max = FIT_TO.get(i);
    if (max === undefined || rows.length === 0) return c;
    const widest = Math.max(c.header.length, ...rows.map((r) => [...(r[i] ?? '')].length));
    return { ...c, width: Math.min(max, widest) };
  });
}

/** The job state filters the `f` key cycles through, in order. */
export const JOB_STATE_FILTERS = ['all', 'active', 'finished', 'failed'] as const;
/** One job state filter. */
export type JobStateFilter = (typeof JOB_STATE_FILTERS)[number];

/** Does a job pass a state filter? active: queued/starting/running; finished: terminal; failed: failed/lost. */
export function matchStateFilter(state: JobState, f: JobStateFilter): boolean {
  switch (f) {
    case 'all': return true;
    case 'active': return !TERMINAL_STATES.includes(state);
    case 'finished': return TERMINAL_STATES.includes(state);
    case 'failed': return state === 'failed' || state === 'lost';
  }
}

/** The filter after `f` (wraps around). */
export function nextStateFilter(f: JobStateFilter | undefined): JobStateFilter {
  const i = JOB_STATE_FILTERS.indexOf(f ?? 'all');
  return JOB_STATE_FILTERS[(i + 1) % JOB_STATE_FILTERS.length];
}

/** Ids are long (UUIDs); rows show the first 8 characters, as git does. */
export function shortJobId(id: string): string {
  return id.length > 12 ? id.slice(0, 8) : id;
}

/** Stable item key of a job across the fleet: "node/id" (job ids are unique per node only). */
export function jobKey(job: Pick<Job, 'node' | 'id'>): string {
  return `${job.node}/${job.id}`;
}

/** Split a "node/id" key (node names never contain "/"); null when malformed. */
export function parseJobKey(key: string | null): { node: string; id: string } | null {
  if (!key) return null;
  const i = key.indexOf('/');
  return i > 0 && i < key.length - 1 ? { node: key.slice(0, i), id: key.slice(i + 1) } : null;
}

/** The job a "node/id" key names, from the fleet snapshot. */
export function findJob(nodes: readonly FleetNode[], key: string | null): Job | undefined {
  const k = parseJobKey(key);
  if (!k) return undefined;
  return nodes.find((n) => n.name === k.node)?.jobs?.find((j) => j.id === k.id);
}

/** Every known job of the fleet, newest first (ties: by node, then id, so the order is stable). */
export function allJobs(nodes: readonly FleetNode[]): Job[] {
  const jobs = nodes.flatMap((n) => (n.jobs ?? []).map((j) => (j.node ? j : { ...j, node: n.name })));
  return jobs.sort((a, b) => b.submitted_at - a.submitted_at || a.node.localeCompare(b.node) || a.id.localeCompare(b.id));
}

/**
 * Text the `/` filter matches: node, id, name, state, driver, image, reason, labels as "k=v", and for a Slurm job its
 * Slurm id (also as "slurm 17"), partition, Slurm state, Slurm reason and nodes.
 */
export function jobFilterText(j: Job): string {
  const labels = Object.entries(j.spec.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  const sl = j.slurm;
  const slurm = sl ? [`slurm ${sl.job_id}`, sl.partition ?? '', sl.state ?? '', sl.reason ?? '', sl.nodes ?? ''] : [];
  return [j.node, j.id, j.name ?? '', j.state, j.spec.driver, j.spec.image ?? '', j.reason ?? '', ...labels, ...slurm].join(' ');
}

/** The driver cell: the driver, and a Slurm job's Slurm id once it has one ("slurm 17"). */
export function jobDriver(j: Job): string {
  return j.spec.driver === 'slurm' && j.slurm?.job_id ? `slurm ${j.slurm.job_id}` : j.spec.driver;
}

/**
 * The reason cell, short enough for the narrow REASON column: a job Slurm keeps pending shows Slurm's own reason
 * ("Slurm: Resources", "Slurm: Priority"; the agent's long sentence is in the detail view), a running Slurm job the
 * nodes it got ("on node-3", the agent's reason says no more); every other job, jobReason.
 */
export function jobReasonCell(j: Job): string {
  const sl = j.slurm;
  if (sl && j.state === 'queued') return `Slurm: ${sl.reason ?? sl.state ?? 'submitted'}`;
  if (sl && j.state === 'running' && sl.nodes && (!j.reason || j.reason.startsWith('running in Slurm'))) return `on ${sl.nodes}`;
  return jobReason(j);
}

/** Why a job is where it is: "OOM killed", "exit 3", the agent's reason, with the exit code when it adds something. */
export function jobReason(j: Job): string {
  const code = j.exit_code;
  if (j.oom_killed) return code !== null ? `OOM killed (exit ${code})` : 'OOM killed';
  if (j.reason) return code !== null && !j.reason.includes(String(code)) ? `${j.reason} (exit ${code})` : j.reason;
  return code !== null ? `exit ${code}` : '';
}

/**
 * GPUs as "assigned/requested" ("2/2", "0/2" while queued); "0" when none were requested. Slurm binds a Slurm job's
 * GPUs itself (the agent holds no UUIDs for it), and only ever runs it with all it asked for: running is "req/req".
 */
export function jobGpus(j: Job): string {
  const req = j.spec.gpus ?? 0;
  if (req === 0 && j.gpus.length === 0) return '0';
  const held = j.spec.driver === 'slurm' && j.state === 'running' && j.gpus.length === 0 ? req : j.gpus.length;
  return `${held}/${req}`;
}

/** Tone of a job row: running green, waiting yellow, failed/lost red, cancelled dim. */
export function jobTone(j: Job): Tone | undefined {
  switch (j.state) {
    case 'running': return 'ok';
    case 'queued':
    case 'starting': return 'warn';
    case 'failed':
    case 'lost': return 'bad';
    case 'cancelled': return 'dim';
    case 'succeeded': return j.oom_killed ? 'bad' : undefined;
  }
}

/** An age in ms as k9s shows it: "42s", "7m", "5h12m", "3d4h". */
export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) || ''}${s % 3600 >= 60 ? 'm' : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) || ''}${s % 86400 >= 3600 ? 'h' : ''}`;
}

/** Cells of one job row, aligned with JOB_COLUMNS; `now` in ms (pure: the caller reads the clock). */
export function jobRow(j: Job, now: number): string[] {
  return [j.node, shortJobId(j.id), j.name ?? '', j.state, jobDriver(j), jobGpus(j), fmtAge(now - j.submitted_at), jobReasonCell(j)];
}

/** One-line summary of a job list: "7 jobs · 2 running · 1 queued". */
export function jobCounts(jobs: readonly Job[]): string {
  const by = (s: JobState[]) => jobs.filter((j) => s.includes(j.state)).length;
  const parts = [`${jobs.length} job${jobs.length === 1 ? '' : 's'}`];
  const running = by(['running', 'starting']);
  const queued = by(['queued']);
  const failed = by(['failed', 'lost']);
  if (running) parts.push(`${running} running`);
  if (queued) parts.push(`${queued} queued`);
  if (failed) parts.push(`${failed} failed`);
  return parts.join(' · ');
}
