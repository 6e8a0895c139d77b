import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The one-node Slurm cluster of scripts/slurm-cluster.sh (started by .ci/run; by hand: bash scripts/slurm-cluster.sh start).

const script = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'scripts', 'slurm-cluster.sh');

/** Whether the test cluster runs (its status command), and why not. */
export function slurmStatus(): Promise<{ running: boolean; detail: string }> {
  return new Promise((resolve) => {
    execFile('bash', [script, 'status'], { timeout: 20_000 }, (e, stdout) => resolve({ running: !e, detail: String(stdout).trim() || (e?.message ?? '') }));
  });
}

/** True when a missing cluster must fail the suite rather than skip it (CI starts one). */
export const slurmRequired = (): boolean => !!process.env.CI;

/** Run a Slurm command (squeue, scontrol, …) and return its stdout. */
export function slurmCmd(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, { timeout: 20_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || e.message}`)) : resolve(String(stdout)))));
}

/** Slurm's JobState of a job (scontrol), or null when the controller does not know it. */
export async function slurmState(id: string): Promise<string | null> {
  const out = await slurmCmd('scontrol', ['-o', 'show', 'job', id]).catch(() => '');
  return /JobState=(\S+)/.exec(out)?.[1] ?? null;
}

/** An agent config file (YAML is JSON) with the slurm driver on, polling fast, its attempts under `workDir`. */
export function slurmAgentConfig(dir: string, workDir: string, extra: Record<string, unknown> = {}, jobs: Record<string, unknown> = {}): string {
  const file = join(dir, 'agent-slurm.yaml');
  writeFileSync(file, JSON.stringify({ jobs: { drivers: ['slurm', 'process'], process_user: null, ...jobs, slurm: { work_dir: workDir, poll_ms: 200, ...extra } } }));
  return file;
}
