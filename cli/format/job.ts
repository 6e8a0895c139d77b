// Pure renderers of `fleetml job …` output: table rows, the detail view, log line prefixes. Data in, strings out.
import { TERMINAL_STATES, type Job, type LogLine } from '../../shared/protocol/jobs.js';

/** Columns of `fleetml job list`. */
export const JOB_LIST_HEADERS = ['NODE', 'ID', 'NAME', 'STATE', 'DRIVER', 'GPUS', 'AGE', 'REASON'];

/** Compact age: 42s, 5m, 3h, 2d. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Whether a job will never change again. */
export const isTerminal = (j: Pick<Job, 'state'>) => TERMINAL_STATES.includes(j.state);

/** One row of `job list`. GPUS shows requested GPUs, and the assigned count while it holds some. */
export function jobRow(node: string, j: Job, now: number): string[] {
  const gpus = j.gpus.length ? `${j.gpus.length}/${j.spec.gpus}` : String(j.spec.gpus);
  const driver = j.slurm ? `slurm ${j.slurm.job_id}${j.slurm.partition ? `@${j.slurm.partition}` : ''}` : j.spec.driver;
  return [node, j.id, j.name ?? '-', j.state, driver, gpus, formatAge(now - j.submitted_at), j.reason ?? ''];
}

/** Sort rows of many nodes: newest first, then node and id (stable across runs). */
export function sortJobs<T extends { node: string; job: Job }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => b.job.submitted_at - a.job.submitted_at || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || (a.job.id < b.job.id ? -1 : 1));
}

const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());

/** The `job show` view. */
export function jobDetail(node: string, j: Job, now: number): string {
  const s = j.spec;
  const lines = [
    `ID:        ${j.id}${j.name ? `  (${j.name})` : ''}`,
    `Node:      ${node}`,
    `State:     ${j.state}${j.reason ? `  — ${j.reason}` : ''}${j.exit_code !== null ? `  exit ${j.exit_code}` : ''}${j.oom_killed ? '  OOM killed' : ''}`,
    `Driver:    ${s.driver}${s.image ? `  image ${s.image}` : ''}${s.network ? `  network ${s.network}` : ''}`,
    `Command:   ${s.command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`,
    `Resources: ${s.gpus} GPU${s.gpus === 1 ? '' : 's'}${s.cpus !== undefined ? `, ${s.cpus} CPUs` : ''}${s.memory_bytes !== undefined ? `, ${(s.memory_bytes / 2 ** 30).toFixed(2)} GiB` : ''}${j.gpus.length ? `  assigned ${j.gpus.join(', ')}` : ''}`,
    `Priority:  ${s.priority}  restart ${s.restart.policy === 'never' ? 'never' : `on-failure:${s.restart.max_retries}`}  attempt ${j.attempt}${s.timeout_s ? `  timeout ${s.timeout_s}s` : ''}`,
    `Submitted: ${iso(j.submitted_at)} by ${j.submitted_by} (${formatAge(now - j.submitted_at)} ago)`,
    `Started:   ${iso(j.started_at)}`,
    `Finished:  ${iso(j.finished_at)}`,
  ];
  if (j.slurm) lines.push(`Slurm:     job ${j.slurm.job_id}  partition ${j.slurm.partition ?? '-'}  state ${j.slurm.state ?? '-'}${j.slurm.reason ? `  reason ${j.slurm.reason}` : ''}${j.slurm.nodes ? `  nodes ${j.slurm.nodes}` : ''}`);
  if (s.slurm) lines.push(`Slurm opt: ${Object.entries(s.slurm).map(([k, v]) => `${k}=${v}`).join('  ')}`);
  if (s.workdir) lines.push(`Workdir:   ${s.workdir}`);
  if (Object.keys(s.env).length) lines.push(`Env:       ${Object.keys(s.env).sort().join(', ')}`);
  if (s.mounts.length) lines.push(`Mounts:    ${s.mounts.map((m) => `${m.source}:${m.target}${m.readonly ? ':ro' : ''}`).join(', ')}`);
  if (Object.keys(s.labels).length) lines.push(`Labels:    ${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (j.history.length) {
    lines.push('History:');
    for (const h of j.history) lines.push(`  ${iso(h.ts)}  ${h.state.padEnd(9)}  ${h.reason ?? ''}`.trimEnd());
  }
  return lines.join('\n');
}

/** "[node/name]" (or the id when the job has no name). */
export const logPrefix = (node: string, j: Pick<Job, 'id' | 'name'>) => `[${node}/${j.name ?? j.id}]`;

/** One output line; system lines (from the agent, not the job) are marked with "--". */
export function formatLogLine(l: LogLine, prefix: string | null): string {
  const body = l.stream === 'system' ? `-- ${l.line}` : l.line;
  return prefix ? `${prefix} ${body}` : body;
}

/** The final line of `job wait` for one job. */
export function finalLine(node: string, j: Job): string {
  return `${node}/${j.id}${j.name ? ` (${j.name})` : ''}: ${j.state}${j.exit_code !== null ? ` (exit ${j.exit_code})` : ''}${j.reason ? ` — ${j.reason}` : ''}`;
}
