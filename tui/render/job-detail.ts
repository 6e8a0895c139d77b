// Pure rendering of the job detail view: the spec, where it runs, and its state history.
import type { Job } from '../../shared/protocol/jobs.js';
import type { Tone } from '../theme.js';
import { fmtBytes } from './format.js';
import { fmtAge, jobReason, jobTone } from './job-row.js';

/** One line of the detail view. */
export interface DetailLine {
  text: string;
  tone?: Tone;
  bold?: boolean;
}

/** A local wall-clock time "2024-05-01 13:04:05" (the console shows the operator's time zone). */
export function fmtTime(ts: number | null): string {
  if (ts === null) return '–';
  const d = new Date(ts);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Quote an argument for display the way a shell would need it ("a b" → 'a b'). */
export function quoteArg(a: string): string {
  if (a !== '' && /^[A-Za-z0-9_./:=@%+,-]+$/.test(a)) return a;
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

const KEY_W = 11;
const field = (k: string, v: string): DetailLine => ({ text: `  ${k.padEnd(KEY_W)} ${v}` });

/**
 * The Slurm section of a slurm-driver job: Slurm's id, partition, state, reason and nodes as last seen, and what the
 * spec asked of Slurm (account, qos, constraint). Before sbatch answered there is no Slurm id yet.
 */
export function slurmLines(j: Job): DetailLine[] {
  const sl = j.slurm;
  const asked = Object.entries(j.spec.slurm ?? {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  const out: DetailLine[] = [{ text: 'SLURM', bold: true }];
  if (!sl) {
    out.push(field('job id', 'not submitted yet'));
  } else {
    out.push(field('job id', sl.job_id));
    out.push(field('partition', sl.partition ?? '–'));
    out.push({ ...field('state', sl.state ?? '–'), tone: sl.state === 'PENDING' ? 'warn' : undefined });
    out.push(field('reason', sl.reason ?? '–'));
    out.push(field('nodes', sl.nodes ?? '–'));
  }
  if (asked.length) out.push(field('asked', asked.join(' · ')));
  return out;
}

/** The lines of the job detail view, top to bottom; `now` in ms. Environment values are never shown (secrets). */
export function jobDetailLines(j: Job, now: number): DetailLine[] {
  const s = j.spec;
  const out: DetailLine[] = [];
  out.push({ text: `${j.name ?? j.id} on ${j.node}: ${j.state.toUpperCase()}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}`, bold: true, tone: jobTone(j) });
  out.push(field('id', j.id));
  const reason = jobReason(j);
  if (reason) out.push({ ...field('reason', reason), tone: jobTone(j) });
  if (j.exit_code !== null || j.oom_killed) out.push(field('exit', `${j.exit_code ?? '–'}${j.oom_killed ? ' (OOM killed)' : ''}`));
  out.push(field('driver', s.image ? `${s.driver} · image ${s.image}` : s.driver));
  out.push(field('command', s.command.map(quoteArg).join(' ')));
  if (s.workdir) out.push(field('workdir', s.workdir));
  const env = Object.keys(s.env ?? {});
  if (env.length) out.push(field('env', env.join(', ')));
  for (const m of s.mounts ?? []) out.push(field('mount', `${m.source} → ${m.target}${m.readonly ? ' (ro)' : ''}`));
  const res = [`gpus ${s.gpus ?? 0}`];
  if (s.cpus !== undefined) res.push(`cpus ${s.cpus}`);
  if (s.memory_bytes !== undefined) res.push(`memory ${fmtBytes(s.memory_bytes)}`);
  out.push(field('resources', res.join(' · ')));
  const restart = !s.restart || s.restart.policy === 'never' ? 'never' : `on-failure ×${s.restart.max_retries}`;
  out.push(field('policy', `priority ${s.priority ?? 0} · timeout ${s.timeout_s ? `${s.timeout_s}s` : 'none'} · restart ${restart}${s.network ? ` · network ${s.network}` : ''}`));
  const labels = Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  if (labels.length) out.push(field('labels', labels.join(' ')));
  out.push(field('gpu uuids', j.gpus.length ? j.gpus.join(', ') : 'none assigned'));
  out.push(field('submitted', `${fmtTime(j.submitted_at)} (${fmtAge(now - j.submitted_at)} ago) by ${j.submitted_by}`));
  if (j.started_at !== null) out.push(field('started', fmtTime(j.started_at)));
  if (j.finished_at !== null) out.push(field('finished', `${fmtTime(j.finished_at)}${j.started_at !== null ? ` (ran ${fmtAge(j.finished_at - j.started_at)})` : ''}`));
  if (s.driver === 'slurm') out.push(...slurmLines(j));
  out.push({ text: 'HISTORY', bold: true });
  for (const e of j.history) out.push({ text: `  ${fmtTime(e.ts)}  ${e.state.padEnd(9)} ${e.reason ?? ''}`.trimEnd() });
  return out;
}
