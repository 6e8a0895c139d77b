// Benchmark 9: idle agent at 1 Hz telemetry vs Debian's prometheus-node-exporter scraped at 1 Hz, same run, same window.
// CPU of each process = utime + stime (+ cutime + cstime of what it spawned and reaped) from /proc/<pid>/stat at both
// ends of the window. node_exporter does nothing unless scraped, so the bench scrapes it once a second (what a 1 s
// Prometheus scrape would cost it); the agent samples on its own timer and has no client. A fourth row is the agent
// with its own /metrics scraped at 1 Hz, the like-for-like comparison with node_exporter.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../scripts/lib/agent-process.js';
import { packageRoot } from '../shared/util/package-root.js';
import { IDLE_FIXTURE } from './agent-idle.js';
import { fmt, freePort, measureProc, sleep, table, type ProcUsage } from './util.js';

/** Where Debian's package puts the binary; FLEETML_NODE_EXPORTER overrides it. */
export const NODE_EXPORTER_BIN = '/usr/bin/prometheus-node-exporter';

/** Window and warm-up of the comparison, ms. FLEETML_BENCH_IDLE_WINDOW_S shortens (or lengthens) the window. */
export interface ExporterOptions { warmupMs: number; windowMs: number; ticks: number }

/** One measured process: its CPU over the window, or why it has no figure. */
export interface ExporterRow { name: string; usage: ProcUsage | null; skipped: string | null; scrapes: number; scrapeErrors: number }

/** Window from FLEETML_BENCH_IDLE_WINDOW_S (seconds, > 0), else the default. */
export function windowFromEnv(defaultMs: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.FLEETML_BENCH_IDLE_WINDOW_S);
  return Number.isFinite(v) && v > 0 ? v * 1000 : defaultMs;
}

function executable(path: string): boolean {
  try { accessSync(path, constants.X_OK); return true; } catch { return false; }
}

/** Start node_exporter on a loopback port (no systemd); resolves once /metrics answers. */
async function startNodeExporter(bin: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode}`);
    try { const r = await fetch(url); await r.arrayBuffer(); if (r.ok) return { child, url }; } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${bin} did not answer on ${url} within 10 s`); }
    await sleep(100);
  }
}

/** Scrape url once a second until the signal aborts; counts scrapes and failures. Never overlaps. */
function scrapeEverySecond(url: string, headers: Record<string, string>, signal: AbortSignal, count: { scrapes: number; scrapeErrors: number }): Promise<void> {
  return (async () => {
    while (!signal.aborted) {
      const t0 = performance.now();
      try {
        const r = await fetch(url, { headers, signal });
        await r.arrayBuffer();
        if (r.ok) count.scrapes++; else count.scrapeErrors++;
      } catch { if (!signal.aborted) count.scrapeErrors++; }
      await sleep(Math.max(0, 1000 - (performance.now() - t0)));
    }
  })();
}

/**
 * Start node_exporter (when installed) and three agents, warm up, then measure all of them over the same window while
 * the bench scrapes node_exporter and the third agent at 1 Hz. Rows without a process say why (skipped).
 */
export async function runIdleVsExporter(o: ExporterOptions): Promise<ExporterRow[]> {
  const bin = process.env.FLEETML_NODE_EXPORTER ?? NODE_EXPORTER_BIN;
  const dataRoot = mkdtempSync(join(tmpdir(), 'fleetml-bench-exp-'));
  const agents: AgentProcess[] = [];
  let exporter: ChildProcess | null = null;
  const abort = new AbortController();
  const scrapers: Promise<void>[] = [];
  type Target = { name: string; pid: number | null; skipped: string | null; scrape?: { url: string; headers: Record<string, string> } };
  const targets: Target[] = [];
  try {
    const exporterName = 'prometheus-node-exporter, scraped at 1 Hz';
    if (!executable(bin)) {
      targets.push({ name: exporterName, pid: null, skipped: `${bin} not found: apt-get install -y --no-install-recommends prometheus-node-exporter (or set FLEETML_NODE_EXPORTER)` });
    } else {
      try {
        const e = await startNodeExporter(bin);
        exporter = e.child;
        targets.push({ name: exporterName, pid: e.child.pid ?? null, skipped: null, scrape: { url: e.url, headers: {} } });
      } catch (err) {
        targets.push({ name: exporterName, pid: null, skipped: (err as Error).message });
      }
    }
    const sim = ['--gpu-source', 'sim', '--gpu-fixture', join(packageRoot(), IDLE_FIXTURE)];
    const specs = [
      { name: 'agent, --gpu-source sim (2 GPUs), no client', args: sim, scrape: false },
      { name: 'agent, --gpu-source none, no client', args: ['--gpu-source', 'none'], scrape: false },
      { name: 'agent, --gpu-source sim, /metrics scraped at 1 Hz', args: sim, scrape: true },
    ];
    for (const [i, s] of specs.entries()) {
      try {
        const a = await spawnAgent({ dataDir: join(dataRoot, `agent-${i}`), port: await freePort(), name: `bench-exp-${i}`, args: [...s.args, '--telemetry-interval', '1000'] });
        agents.push(a);
        targets.push({ name: s.name, pid: a.child.pid ?? null, skipped: null, scrape: s.scrape ? { url: `${a.httpUrl}/metrics`, headers: { authorization: `Bearer ${a.token}` } } : undefined });
      } catch (e) {
        targets.push({ name: s.name, pid: null, skipped: (e as Error).message.split('\n')[0] });
      }
    }
    const counts = targets.map(() => ({ scrapes: 0, scrapeErrors: 0 }));
    targets.forEach((t, i) => { if (t.scrape && t.pid !== null) scrapers.push(scrapeEverySecond(t.scrape.url, t.scrape.headers, abort.signal, counts[i])); });
    await sleep(o.warmupMs);
    for (const c of counts) { c.scrapes = 0; c.scrapeErrors = 0; }
    const rows = await Promise.all(targets.map(async (t, i): Promise<ExporterRow> => {
      if (t.pid === null) return { name: t.name, usage: null, skipped: t.skipped ?? 'not started', scrapes: 0, scrapeErrors: 0 };
      try { return { name: t.name, usage: await measureProc(t.pid, o.windowMs, o.ticks), skipped: null, ...counts[i] }; } catch (e) {
        return { name: t.name, usage: null, skipped: (e as Error).message, scrapes: 0, scrapeErrors: 0 };
      }
    }));
    return rows;
  } finally {
    abort.abort();
    await Promise.allSettled(scrapers);
    await Promise.all(agents.map((a) => a.stop()));
    exporter?.kill();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

/** Total CPU (own + reaped children) of a row, % of one core. */
const totalPct = (u: ProcUsage) => u.cpuPct + u.childCpuPct;

/** Table with every row's CPU and its ratio to node_exporter's (first row); a skipped row says why. */
export function exporterTable(rows: ExporterRow[]): string {
  const ne = rows[0]?.usage ? totalPct(rows[0].usage) : null;
  const body = table(
    ['process', '% of 1 core', '+ children', '= total', '÷ node_exporter', 'CPU ms / window s', 'scrapes (errors)', 'RSS avg MiB'],
    rows.map((r) => {
      if (!r.usage) return [r.name, `SKIPPED: ${r.skipped}`, '', '', '', '', '', ''];
      const u = r.usage;
      const t = totalPct(u);
      return [r.name, fmt(u.cpuPct, 2), fmt(u.childCpuPct, 2), fmt(t, 2), ne && ne > 0 ? `${fmt(t / ne, 2)}×` : '-',
        `${fmt(u.cpuMs, 0)} / ${fmt(u.windowMs / 1000, 1)}`, r.scrapes || r.scrapeErrors ? `${r.scrapes} (${r.scrapeErrors})` : '-', fmt(u.rssAvgMiB, 1)];
    }),
  );
  const agent = rows[1]?.usage;
  const verdict = ne !== null && agent
    ? `\nidle agent (sim) ${fmt(totalPct(agent), 2)} % vs node_exporter ${fmt(ne, 2)} % of one core: ${totalPct(agent) <= ne ? 'at or below' : 'ABOVE'} node_exporter`
    : '';
  return body + verdict;
}
