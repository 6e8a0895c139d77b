import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { GpuProcessAttribution, containerOf, sessionOf } from '../../agent/jobs/attribution.js';
import type { NodeStats } from '../../shared/protocol/index.js';

describe('GPU process attribution', () => {
  it('reads the session of a /proc stat line whose command has spaces and parentheses', () => {
    expect(sessionOf('4242 (my (odd) cmd) S 1 4242 4240 0 -1 4194560 0 0')).toBe(4240);
  });
  it('finds the container id in cgroup v1 and v2 paths', () => {
    const id = 'a'.repeat(64);
    expect(containerOf(`12:memory:/docker/${id}\n11:cpu:/docker/${id}\n`)).toBe(id);
    expect(containerOf(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(containerOf('0::/user.slice/user-0.slice\n')).toBeNull();
  });
  it('attributes a process in a job session to that job, and others to none', async () => {
    const child = spawn('sleep', ['5'], { detached: true, stdio: 'ignore' }); // its own session, like the process driver
    await new Promise((r) => setTimeout(r, 100));
    const a = new GpuProcessAttribution(() => [{ jobId: 'j_1', handle: { driver: 'process', jobId: 'j_1', attempt: 1, state: { pid: child.pid, pgid: child.pid } } }]);
    expect(a.jobOf(child.pid!)).toBe('j_1');
    expect(a.jobOf(process.pid)).toBeNull();
    const s = { ts: Date.now(), gpu: { gpus: [{ processes: [{ pid: child.pid, job_id: null }, { pid: process.pid, job_id: null }] }] } } as unknown as NodeStats;
    a.decorate(s);
    expect(s.gpu.gpus[0].processes.map((p) => p.job_id)).toEqual(['j_1', null]);
    child.kill('SIGKILL');
  });
});
