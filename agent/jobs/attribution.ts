import { readFileSync } from 'node:fs';
import type { NodeStats } from '../../shared/protocol/index.js';
import type { TaskHandle } from '../runtime/driver.js';

/** Session id (field 6) of a /proc/<pid>/stat line; the command name may hold spaces and parentheses. */
export function sessionOf(statText: string): number | null {
  const close = statText.lastIndexOf(')');
  if (close < 0) return null;
  const f = statText.slice(close + 2).split(' ');
  const sid = Number(f[3]); // after ")": state ppid pgrp session
  return Number.isFinite(sid) ? sid : null;
}

/** Container id found in /proc/<pid>/cgroup text (cgroup v1 or v2, docker or containerd style paths). */
export function containerOf(cgroupText: string): string | null {
  const m = /(?:docker[-/]|\/)([0-9a-f]{64})(?:\.scope)?\s*$/m.exec(cgroupText);
  return m ? m[1] : null;
}

const read = (p: string) => { try { return readFileSync(p, 'utf8'); } catch { return null; } };

/**
 * Attributes GPU processes to jobs: a process belongs to a process-driver job when it is in the session the
 * job's wrapper leads (setsid), and to a docker job when its cgroup is the job's container. Results are cached
 * per pid for `ttlMs` (pids of GPU processes are few and long-lived).
 */
export class GpuProcessAttribution {
  private cache = new Map<number, { job: string | null; at: number }>();
  constructor(private readonly handles: () => Array<{ jobId: string; handle: TaskHandle }>, private readonly ttlMs = 10_000) {}

  /** Which job a pid belongs to, or null. */
  jobOf(pid: number, now = Date.now()): string | null {
    const c = this.cache.get(pid);
    if (c && now - c.at < this.ttlMs) return c.job;
    const hs = this.handles();
    let job: string | null = null;
    if (hs.length) {
      const stat = read(`/proc/${pid}/stat`);
      const sid = stat ? sessionOf(stat) : null;
      const cg = hs.some((h) => h.handle.driver === 'docker') ? read(`/proc/${pid}/cgroup`) : null;
      const cid = cg ? containerOf(cg) : null;
      for (const { jobId, handle } of hs) {
        const st = handle.state as { pid?: number; pgid?: number; containerId?: string };
        if (handle.driver === 'process' && sid !== null && (sid === st.pid || sid === st.pgid)) { job = jobId; break; }
        if (handle.driver === 'docker' && cid && st.containerId && cid.startsWith(String(st.containerId).slice(0, 12))) { job = jobId; break; }
      }
    }
    this.cache.set(pid, { job, at: now });
    if (this.cache.size > 4096) this.cache.delete(this.cache.keys().next().value as number);
    return job;
  }

  /** Fill job_id of every GPU process of a sample (in place). */
  decorate(s: NodeStats): void {
    for (const g of s.gpu.gpus) for (const p of g.processes) p.job_id = this.jobOf(p.pid, s.ts);
  }
}
