import type { Command } from 'commander';
import { resolveTargets, type TargetOptions } from '../../shared/client/targets.js';
import { fetchNodes, type NodeReport } from '../fetch-nodes.js';
import { fmt, formatTable, parseOutput, printJson, UsageError } from '../output.js';
import { targetOptions } from '../common.js';
import { gpuModels } from '../../shared/util/gpu-models.js';

function gpuSummary(r: NodeReport): string {
  const g = r.stats?.gpu;
  if (!g) return '-';
  if (g.status !== 'ok') return `${g.status}${g.reason ? ` (${g.reason})` : ''}`;
  const utils = g.gpus.map((x) => x.gpu_util_pct).filter((v): v is number => v !== null);
  const avg = utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null;
  return `${gpuModels(g.gpus.map((x) => x.name))} ${fmt.pct(avg)}${g.simulated ? ' (simulated)' : ''}`;
}

/** `fleetml nodes` and `fleetml node show NAME`: declarations; the actions follow. */
export function registerNodeCommands(program: Command): void {
  targetOptions(program.command('nodes').description('cluster overview: one row per agent (-o json for scripts)'))
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(nodesAction);

  const node = program.command('node').description('one node');
  targetOptions(node.command('show <name>').description('details of one node: host, GPUs, GPU processes, drivers and, on a Slurm login node, the cluster\'s partitions and free GPUs'))
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(nodeShowAction);
}

/** Options of `fleetml nodes` and `fleetml node show`: the targets and -o. */
export interface NodeOpts extends TargetOptions { output?: string }

/** `fleetml nodes`: one row per agent of the targets. */
export async function nodesAction(o: NodeOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { targets } = resolveTargets(o);
  const reports = await fetchNodes(targets);
  if (out === 'json') return printJson(reports);
  console.log(formatTable(['NAME', 'STATE', 'CPU', 'MEM', 'GPUS', 'URL'], reports.map((r) => [
    r.info?.name && r.info.name !== r.name ? `${r.name} (agent ${r.info.name})` : r.name,
    r.state,
    fmt.pct(r.stats?.host.cpu.util_pct),
    r.stats ? `${fmt.gib(r.stats.host.memory.used_bytes)}/${fmt.gib(r.stats.host.memory.total_bytes)}` : '-',
    r.state === 'up' ? gpuSummary(r) : (r.error ?? '-'),
    r.url,
  ])));
}

/** `fleetml node show NAME`: host, GPUs and GPU processes of one node (exit 1 when it is not up). */
export async function nodeShowAction(name: string, o: NodeOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { targets } = resolveTargets(o);
  const reports = await fetchNodes(targets);
  const match = reports.find((r) => r.name === name) ?? reports.find((r) => r.info?.name === name);
  if (!match) throw new UsageError(`no node named "${name}" in ${targets.map((x) => x.name).join(', ')}; list them with: fleetml nodes`);
  if (out === 'json') return printJson(match);
  if (match.state !== 'up' || !match.info || !match.stats) { console.log(`${match.name}: ${match.state}: ${match.error}`); process.exitCode = 1; return; }
  const { info, stats } = match;
  console.log(`Name:     ${info.name}  (id ${info.node_id})`);
  console.log(`URL:      ${match.url}`);
  console.log(`Labels:   ${Object.entries(info.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}`);
  console.log(`Host:     ${info.host.hostname}  ${info.host.os.distro ?? info.host.os.platform} ${info.host.os.release ?? ''}  kernel ${info.host.os.kernel ?? '-'}`);
  console.log(`CPU:      ${info.host.cpu.model ?? '-'}  ${info.host.cpu.cores} cores  util ${fmt.pct(stats.host.cpu.util_pct)}  load ${stats.host.cpu.load1?.toFixed(2) ?? '-'}`);
  console.log(`Memory:   ${fmt.gib(stats.host.memory.used_bytes)} / ${fmt.gib(stats.host.memory.total_bytes)}  swap ${fmt.gib(stats.host.memory.swap_used_bytes)} / ${fmt.gib(stats.host.memory.swap_total_bytes)}`);
  console.log(`Agent:    ${info.agent_version}  protocol ${info.protocol_version}  up since ${new Date(info.started_at).toISOString()}`);
  console.log(`GPUs:     ${stats.gpu.status}${stats.gpu.reason ? ` (${stats.gpu.reason})` : ''}  source ${stats.gpu.source}${stats.gpu.simulated ? '  SIMULATED' : ''}  driver ${stats.gpu.driver_version ?? '-'}  CUDA ${stats.gpu.cuda_version ?? '-'}`);
  const sl = match.resources?.slurm;
  if (match.resources) console.log(`Drivers:  ${match.resources.drivers.map((d) => `${d.name}${d.available ? '' : ` (unavailable${d.since ? ` since ${new Date(d.since).toISOString()}` : ''}: ${d.reason ?? '?'})`}`).join(', ')}${match.resources.default_driver ? `  default ${match.resources.default_driver}` : ''}`);
  for (const d of match.resources?.drivers ?? []) {
    const sw = d.sweep;
    if (!sw) continue;
    // what the start-up sweep found: containers no job claims (removed, left in place, or another node's)
    if (sw.error) console.log(`Sweep:    ${d.name}: could not run (${sw.error})`);
    else if (sw.counts.removed || sw.counts.kept || sw.counts.foreign) {
      const names = (ts: typeof sw.removed) => ts.map((t) => t.name).join(' ');
      console.log(`Sweep:    ${d.name} at ${new Date(sw.at).toISOString()}: ${sw.counts.removed} removed${sw.counts.removed ? ` (${names(sw.removed)})` : ''}, ${sw.counts.kept} unclaimed left${sw.counts.kept ? ` (${names(sw.kept)})` : ''}, ${sw.counts.foreign} of other nodes left alone${sw.counts.foreign ? ` (${names(sw.foreign)})` : ''}`);
    }
  }
  if (sl) {
    console.log(`Slurm:    cluster ${sl.cluster ?? '-'}  default partition ${sl.default_partition ?? '-'}  this agent's jobs: ${sl.pending} pending, ${sl.running} running${sl.error ? `  (last read failed: ${sl.error})` : ''}${sl.updated_at ? `  read ${new Date(sl.updated_at).toISOString()}` : ''}`);
    if (sl.partitions.length) {
      console.log('');
      console.log(formatTable(['PARTITION', 'STATE', 'NODES', 'CPUS FREE', 'GPUS FREE', 'MAX GPUS/NODE', 'MEMORY'], sl.partitions.map((p) => [
        `${p.name}${p.default ? '*' : ''}`, p.state, `${p.nodes_up}/${p.nodes}`, `${p.cpus_free}/${p.cpus_total}`, `${p.gpus_free}/${p.gpus_total}`, String(p.gpus_per_node_max), fmt.gib(p.memory_total_bytes),
      ])));
    }
  }
  if (stats.gpu.gpus.length) {
    console.log('');
    console.log(formatTable(['GPU', 'NAME', 'UTIL', 'MEM', 'TEMP', 'POWER', 'SM MHz', 'UUID'], stats.gpu.gpus.map((g) => [
      String(g.index), g.name ?? '-', fmt.pct(g.gpu_util_pct), `${fmt.gib(g.fb_used_bytes)}/${fmt.gib(g.fb_total_bytes)}`,
      fmt.num(g.gpu_temp_c, 'C'), `${fmt.num(g.power_usage_w)}/${fmt.num(g.power_limit_w, 'W')}`, fmt.num(g.sm_clock_mhz), g.uuid,
    ])));
    const procs = stats.gpu.gpus.flatMap((g) => g.processes.map((p) => ({ g, p })));
    if (procs.length) {
      console.log('');
      console.log(formatTable(['GPU', 'PID', 'TYPE', 'MEMORY', 'PROCESS'], procs.map(({ g, p }) => [String(g.index), String(p.pid), p.type ?? '-', fmt.gib(p.used_gpu_memory_bytes), p.process_name ?? '-'])));
    }
  }
}
