import { spawn } from 'node:child_process';
import { cliPath } from '../../scripts/lib/agent-process.js';

/** Run the built `fleetml` CLI; resolves with exit code and output (never rejects on a non-zero exit). */
export function fleetml(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { env: { ...process.env, FLEETML_URL: '', FLEETML_TOKEN: '', FLEETML_INVENTORY: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}
