// Benchmark 1: idle cost of a real agent process at 1 Hz telemetry, against an idle Node process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../scripts/lib/agent-process.js';
import { packageRoot } from '../shared/util/package-root.js';
import { fmt, freePort, measureProc, sleep, table, type ProcUsage } from './util.js';

/** The 2-GPU fixture replayed by the sim agent. */
export const IDLE_FIXTURE = 'test/fixtures/nvidia-smi/rtx-a5000-2gpu-590.44-procs-q-x.xml';

/** One measured process. */
export interface IdleRow { name: string; usage: ProcUsage | null; error: string | null }

/** Options: warm-up and window, ms. */
export interface IdleOptions { warmupMs: number; windowMs: number; ticks: number }

/**
 * Start the baseline and both agents, let them warm up, then measure all three over the same window
 * (they are idle, so measuring them side by side on 2 cores does not make them compete).
 */
export async function runAgentIdle(o: IdleOptions): Promise<IdleRow[]> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'fleetml-bench-'));
  const agents: AgentProcess[] = [];
  let baseline: ChildProcess | null = null;
  const rows: IdleRow[] = [];
  try {
    baseline = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
    const specs = [
      { name: 'agent, --gpu-source sim (2 GPUs)', args: ['--gpu-source', 'sim', '--gpu-fixture', join(packageRoot(), IDLE_FIXTURE)] },
      { name: 'agent, --gpu-source none', args: ['--gpu-source', 'none'] },
    ];
    const started: Array<{ name: string; pid: number | null; error: string | null }> = [
      { name: 'baseline: node -e "setInterval(()=>{},1000)"', pid: baseline.pid ?? null, error: null },
    ];
    for (const [i, s] of specs.entries()) {
      try {
        const a = await spawnAgent({ dataDir: join(dataRoot, `agent-${i}`), port: await freePort(), name: `bench-${i}`,
          args: [...s.args, '--telemetry-interval', '1000'] });
        agents.push(a);
        started.push({ name: s.name, pid: a.child.pid ?? null, error: null });
      } catch (e) {
        started.push({ name: s.name, pid: null, error: (e as Error).message.split('\n')[0] });
      }
    }
    await sleep(o.warmupMs);
    const results = await Promise.all(started.map(async (s) => {
      if (s.pid === null) return { name: s.name, usage: null, error: s.error ?? 'not started' };
      try { return { name: s.name, usage: await measureProc(s.pid, o.windowMs, o.ticks), error: null }; } catch (e) {
        return { name: s.name, usage: null, error: (e as Error).message };
      }
    }));
    rows.push(...results);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    baseline?.kill();
    rmSync(dataRoot, { recursive: true, force: true });
  }
  return rows;
}

/** Plain-text table against the baseline (first row): CPU above it (the idle baseline often rounds to 0 ticks,
 * so a ratio would divide by zero) and RSS as a ratio. "children" is the CPU of processes the agent spawned and
 * reaped in the window (cutime + cstime), which utime + stime leave out. */
export function idleTable(rows: IdleRow[]): string {
  const base = rows[0]?.usage;
  return table(
    ['process', '% of 1 core', '+ children', '= total', 'total - baseline', 'CPU ms / window s', 'RSS avg MiB', 'RSS max MiB', 'x baseline RSS'],
    rows.map((r) => {
      if (!r.usage) return [r.name, `FAILED: ${r.error}`, '', '', '', '', '', '', ''];
      const u = r.usage;
      const total = u.cpuPct + u.childCpuPct;
      const baseTotal = base ? base.cpuPct + base.childCpuPct : Number.NaN;
      return [r.name, fmt(u.cpuPct, 2), fmt(u.childCpuPct, 2), fmt(total, 2), r === rows[0] ? '-' : `+${fmt(total - baseTotal, 2)}`,
        `${fmt(u.cpuMs, 0)} / ${fmt(u.windowMs / 1000, 1)}`, fmt(u.rssAvgMiB, 1), fmt(u.rssMaxMiB, 1),
        r === rows[0] ? '1.0' : base ? fmt(u.rssAvgMiB / base.rssAvgMiB, 1) : '-'];
    }),
  );
}
