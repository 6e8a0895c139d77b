// The batch script and the sbatch options of one job attempt. Pure: spec in, text and argv out.
//
// What maps to what (docs/slurm.md):
//   gpus N          → --gres=<jobs.slurm.gres>:N   (Slurm binds them and sets CUDA_VISIBLE_DEVICES in the job)
//   cpus C          → --cpus-per-task=ceil(C)
//   memory_bytes    → --mem=<MiB, rounded up>M
//   timeout_s       → --time=<minutes, rounded up> (Slurm's limit, enforced while the agent is down too; the agent
//                     itself stops the job at timeout_s after it started running)
//   env             → `export` lines in the script; sbatch --export=NONE, so the agent's own environment never
//                     reaches the job (the job gets its user's login environment, as a user's own sbatch would)
//   workdir         → --chdir (default: the attempt's folder under jobs.slurm.work_dir)
//   name            → --job-name (default: the fleetml job id)
//   slurm.partition/account/qos/constraint (else jobs.slurm.*) → --partition/--account/--qos/--constraint
//   image           → pyxis: --container-image=IMAGE; apptainer: `apptainer exec IMAGE command…` (--nv with GPUs)
// Always: --nodes=1 --ntasks=1 (one task on one node), --output/--error to the attempt's stdout.log/stderr.log
// (--open-mode=append: a requeued run appends, so the agent's read offsets stay valid),
// and --comment=fleetml:<job id>:<attempt>, by which a job submitted just before an agent crash is found again.

import type { JobSpec } from '../../../shared/protocol/jobs.js';

/** Where and how a slurm job attempt runs. */
export interface BatchContext {
  jobId: string;
  attempt: number;
  spec: JobSpec;
  /** Variables fleetml adds (FLEETML_JOB_ID, …); GPU visibility variables are left to Slurm. */
  env: Record<string, string>;
  /** The attempt's folder (shared with the compute nodes): script, stdout.log, stderr.log, exit. */
  dir: string;
  defaults: { partition: string | null; account: string | null; qos: string | null; gres: string; container: 'pyxis' | 'apptainer' | null };
}

/** The comment that marks a job as this attempt's (squeue %k). */
export const commentOf = (jobId: string, attempt: number) => `fleetml:${jobId}:${attempt}`;

/** Single-quoted for sh: 'it'\''s'. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Variables Slurm sets for the GPUs it binds: fleetml's own values (for the node-local queue) must not override them. */
const SLURM_OWNED = new Set(['CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES']);

/** Why the spec cannot be turned into a batch job here, or null. */
export function batchProblem(spec: JobSpec, container: BatchContext['defaults']['container']): string | null {
  if (spec.mounts.length > 0) return 'the slurm driver does not take mounts: a Slurm job sees the compute node\'s file system (use paths on the shared file system)';
  if (spec.network) return 'the slurm driver does not take "network" (the job uses the compute node\'s network)';
  if (spec.image && !container) return `the job has an image but this agent's Slurm cluster has no container runtime configured (jobs.slurm.container: pyxis or apptainer; docs/slurm.md)`;
  if (spec.workdir !== undefined && !spec.workdir.startsWith('/')) return `workdir must be an absolute path (got ${spec.workdir})`;
  return null;
}

/** The batch script: environment, the command, and an exit record the agent reads if Slurm no longer knows the job. */
export function batchScript(c: BatchContext): string {
  const lines = ['#!/bin/sh', `# fleetml job ${c.jobId} attempt ${c.attempt} (written by the agent; docs/slurm.md)`];
  const env = { ...c.spec.env, ...c.env };
  for (const [k, v] of Object.entries(env)) if (!SLURM_OWNED.has(k)) lines.push(`export ${k}=${shQuote(v)}`);
  // sbatch --export=NONE sets SLURM_EXPORT_ENV=NONE in the job, which srun steps would inherit: they get the job's env
  lines.push('export SLURM_EXPORT_ENV=ALL');
  let argv = c.spec.command;
  if (c.spec.image && c.defaults.container === 'apptainer') argv = ['apptainer', 'exec', ...(c.spec.gpus > 0 ? ['--nv'] : []), c.spec.image, ...argv];
  lines.push(argv.map(shQuote).join(' '));
  const exit = shQuote(`${c.dir}/exit`);
  const tmp = shQuote(`${c.dir}/exit.tmp`);
  lines.push('c=$?', `printf 'exit %s\\n' "$c" > ${tmp} && mv -f ${tmp} ${exit}`, 'exit $c', '');
  return lines.join('\n');
}

/** sbatch's options for the attempt (the script path goes last). */
export function sbatchArgs(c: BatchContext, scriptPath: string): string[] {
  const s = c.spec;
  const o = s.slurm ?? {};
  const a = ['--parsable', '--export=NONE', '--nodes=1', '--ntasks=1', `--job-name=${s.name ?? c.jobId}`, `--comment=${commentOf(c.jobId, c.attempt)}`,
    `--output=${c.dir}/stdout.log`, `--error=${c.dir}/stderr.log`, '--open-mode=append', `--chdir=${s.workdir ?? c.dir}`];
  const partition = o.partition ?? c.defaults.partition;
  const account = o.account ?? c.defaults.account;
  const qos = o.qos ?? c.defaults.qos;
  if (partition) a.push(`--partition=${partition}`);
  if (account) a.push(`--account=${account}`);
  if (qos) a.push(`--qos=${qos}`);
  if (o.constraint) a.push(`--constraint=${o.constraint}`);
  if (s.gpus > 0) a.push(`--gres=${c.defaults.gres}:${s.gpus}`);
  if (s.cpus !== undefined && s.cpus > 0) a.push(`--cpus-per-task=${Math.ceil(s.cpus)}`);
  if (s.memory_bytes !== undefined) a.push(`--mem=${Math.ceil(s.memory_bytes / 2 ** 20)}M`);
  if (s.timeout_s !== undefined) a.push(`--time=${Math.ceil(s.timeout_s / 60)}`);
  if (s.image && c.defaults.container === 'pyxis') a.push(`--container-image=${s.image}`);
  a.push(scriptPath);
  return a;
}
