// fleetml benchmarks: `npm run bench` (builds, then runs dist/bench/run.js). See docs/benchmarks.md.
//
//   node dist/bench/run.js [--only idle,sample,fanout,placement,jobs,serving,drift,automation,slurm,exporter] [--fanout 10,100,300] [--quick] [--json FILE]
//
// 1. idle   — a real agent process (sim GPUs; gpu none) at 1 Hz vs an idle `node` process: % of a core, RSS.
// 2. sample — one telemetry sample in process: host, GPU sim, full Collector tick, JSON encoding.
// 3. fanout — one FleetClient subscribed to N simulated agents in a child process: client CPU, end-to-end delay.
// 4. placement, 5. jobs, 6. serving — see their files.
// 8. automation — trigger to retraining job running vs a plain job.submit (bench/automation.ts).
// 9. slurm  — submit-to-running/finished through the slurm driver (poll_ms 1000 and 200) vs sbatch + squeue of the
//             same command (bench/slurm.ts); skipped when no Slurm cluster runs.
// 10. exporter — idle agent CPU at 1 Hz vs prometheus-node-exporter scraped at 1 Hz, same run (bench/idle-vs-exporter.ts).
// 7. drift  — latency and agent CPU added per inference by drift capture (ON vs OFF, same run), and the time of a
//             drift.report over 100,000 captured rows × 51 features (24 h of 5-minute buckets).
// Loopback only; every loop is bounded (a few minutes in all with the defaults).
import { writeFileSync } from 'node:fs';
import { runAgentIdle, idleTable, type IdleRow } from './agent-idle.js';
import { runSampleCost, sampleCostTables, type SampleCostResult } from './sample-cost.js';
import { runClientIdle, runFanout, fanoutTable, type FanoutRow } from './fanout.js';
import { runPlacementBench } from './placement.js';
import { runJobLatencyBench } from './job-latency.js';
import { runServingBench } from './serving.js';
import { runDriftBench } from './drift.js';
import { runAutomationBench } from './automation.js';
import { runSlurmBench, slurmRuns } from './slurm.js';
import { exporterTable, runIdleVsExporter, windowFromEnv } from './idle-vs-exporter.js';
import { clockTicks, fmt, machine, summary } from './util.js';

interface Args { only: Set<string>; fanout: number[]; quick: boolean; json: string | null }

function parseArgs(argv: string[]): Args {
  const a: Args = { only: new Set(['idle', 'sample', 'fanout', 'placement', 'jobs', 'serving', 'drift', 'automation', 'slurm', 'exporter']), fanout: [10, 100, 300], quick: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { const x = argv[++i]; if (x === undefined) throw new Error(`${k} needs a value`); return x; };
    if (k === '--only') a.only = new Set(v().split(',').map((s) => s.trim()));
    else if (k === '--fanout') a.fanout = v().split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0);
    else if (k === '--quick') a.quick = true;
    else if (k === '--json') a.json = v();
    else if (k === '--help' || k === '-h') {
      console.log('usage: node dist/bench/run.js [--only idle,sample,fanout,placement,jobs,serving,drift,automation,slurm,exporter] [--fanout 10,100,300] [--quick] [--json FILE]');
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  for (const o of a.only) if (!['idle', 'sample', 'fanout', 'placement', 'jobs', 'serving', 'drift', 'automation', 'slurm', 'exporter'].includes(o)) throw new Error(`--only: unknown benchmark ${o}`);
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const ticks = clockTicks();
  const m = machine();
  const started = new Date();
  const t0 = performance.now();
  console.log('fleetml benchmarks');
  console.log(`date     ${started.toISOString()}`);
  console.log(`cpu      ${m.cpu} × ${m.cores} cores, ${fmt(m.memGiB, 1)} GiB RAM`);
  console.log(`system   ${m.kernel}, node ${m.node}, CLK_TCK ${ticks}, open-file limit ${m.nofile ?? '?'}`);
  if (args.quick) console.log('mode     --quick (short windows: numbers are rough)');

  const out: { date: string; machine: ReturnType<typeof machine>; idle?: IdleRow[]; sample?: SampleCostResult; fanout?: Array<Omit<FanoutRow, 'delays'> & { delay: ReturnType<typeof summary> }> } =
    { date: started.toISOString(), machine: m };

  if (args.only.has('idle')) {
    const o = args.quick ? { warmupMs: 2000, windowMs: 5000, ticks } : { warmupMs: 5000, windowMs: 20_000, ticks };
    console.log(`\n## 1. Agent idle cost at 1 Hz telemetry (warm-up ${o.warmupMs / 1000} s, window ${o.windowMs / 1000} s, /proc/<pid>/stat + VmRSS)\n`);
    const rows = await runAgentIdle(o);
    console.log(idleTable(rows));
    out.idle = rows;
  }

  if (args.only.has('sample')) {
    const n = args.quick ? 50 : 200;
    const nPaced = args.quick ? 10 : 30;
    console.log(`\n## 2. Cost of one telemetry sample (in process: ${n} runs back to back, ${nPaced} runs paced 250 ms apart)\n`);
    const r = await runSampleCost(n, nPaced);
    console.log(sampleCostTables(r));
    out.sample = r;
  }

  if (args.only.has('fanout')) {
    const o = args.quick ? { warmupMs: 1000, windowMs: 4000, connectTimeoutMs: 30_000, ticks } : { warmupMs: 2000, windowMs: 10_000, connectTimeoutMs: 30_000, ticks };
    console.log(`\n## 3. Fan-out: one FleetClient, N simulated agents in a child process, 1 sample/s each (window ${o.windowMs / 1000} s)\n`);
    // a throw-away run first: loads and JIT-compiles the client code, so the first reported N does not pay for it
    const w = await runFanout(10, { ...o, warmupMs: 1000, windowMs: 3000 });
    process.stderr.write(`  fanout warm-up (N=10, not reported): ${w.samples} samples${w.error ? `, ${w.error}` : ''}\n`);
    const rows: FanoutRow[] = [await runClientIdle(o)];
    for (const n of args.fanout) {
      const r = await runFanout(n, o);
      rows.push(r);
      process.stderr.write(`  fanout N=${n}: ${r.samples} samples${r.error ? `, ${r.error}` : ''}\n`);
    }
    console.log(`(sample frame: ${rows.find((r) => r.frameBytes)?.frameBytes ?? '?'} bytes; delay = client receive time − sample ts, ms resolution)`);
    console.log(fanoutTable(rows));
    out.fanout = rows.map(({ delays, ...r }) => ({ ...r, delay: summary(delays) }));
  }

  if (args.only.has('placement')) {
    console.log('\n## 4. Placement: 10,000 jobs over 100 simulated nodes (shared/placement)\n');
    console.log(await runPlacementBench());
  }

  if (args.only.has('jobs')) {
    console.log('\n## 5. Jobs: submit-to-running latency (process and docker drivers vs spawn / docker run)\n');
    console.log(await runJobLatencyBench({ runs: args.quick ? 5 : 20 }));
  }

  if (args.only.has('serving')) {
    console.log('\n## 6. Models: inference through the agent vs onnxruntime-node in process\n');
    console.log(await runServingBench({ quick: args.quick }));
  }

  if (args.only.has('drift')) {
    console.log('\n## 7. Drift: capture cost per inference (ON vs OFF) and drift.report over 100,000 rows × 51 features\n');
    console.log(await runDriftBench({ quick: args.quick }));
  }

  if (args.only.has('automation')) {
    console.log('\n## 8. Automations: trigger (auto.run) to the retraining job running, vs a plain job.submit\n');
    console.log(await runAutomationBench({ runs: args.quick ? 5 : 20 }));
  }

  if (args.only.has('slurm')) {
    const runs = slurmRuns(args.quick ? 3 : 10);
    console.log(`\n## 9. Slurm: submit-to-running through the slurm driver vs sbatch of the same command (${runs} interleaved rounds)\n`);
    console.log(await runSlurmBench({ runs }));
  }

  if (args.only.has('exporter')) {
    const o = { warmupMs: args.quick ? 3000 : 10_000, windowMs: windowFromEnv(args.quick ? 10_000 : 60_000), ticks };
    console.log(`\n## 10. Idle agent at 1 Hz vs prometheus-node-exporter scraped at 1 Hz (warm-up ${o.warmupMs / 1000} s, window ${o.windowMs / 1000} s, /proc/<pid>/stat)\n`);
    console.log(exporterTable(await runIdleVsExporter(o)));
  }

  console.log(`\ntotal ${fmt((performance.now() - t0) / 1000, 1)} s`);
  if (args.json) writeFileSync(args.json, JSON.stringify(out, null, 2));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
