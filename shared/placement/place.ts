// Placement: which node a job goes to. Pure: data in (a request, the nodes' `node.resources`), decision out.
//
// Decision procedure (deterministic: nodes are considered in name order, every tie is broken by name):
//   1. Skip a node whose labels do not match the selector (every selector key must be present with that value),
//      or whose driver (when the request names one) is unavailable.
//   2. A node FITS NOW when gpus_free ≥ gpus, cpus_free ≥ cpus and memory_free_bytes ≥ memory_bytes.
//      Among those:
//        binpack — the FEWEST free GPUs left after the job (fill nodes up, keep whole nodes free for big jobs);
//                  ties: least free CPU left, then name.
//        spread  — the MOST free GPUs left after the job (spread the load); ties: most free CPU left, then name.
//   3. Nothing fits now, but a node COULD FIT WHEN IDLE (its capacity — GPU count, cpus_total, memory_total_bytes —
//      covers the request): the job is QUEUED on the best such node, which is the one with the fewest queued jobs,
//      then the smallest GPU shortfall (closest to fitting), then the name. The agent's queue starts it later.
//      reason: "queued on X: needs 2 GPUs, 0 free".
//   4. No node can ever fit: node null, with one `why` per node (label mismatch, not enough capacity, …).
// A job for the slurm driver is judged by the Slurm cluster behind the node (node.resources `slurm`), not the node's
// own GPUs: its capacity is the partition's largest node (jobs are single-node), what is free is the most free GPUs
// on one node, and its queue is the agent's jobs pending in Slurm. Slurm then places the job itself.
// A request with `defaultDriver` (the user named no driver) takes the node's default driver when that is slurm.

import type { DriverName, NodeResources } from '../protocol/jobs.js';

/** What placement needs to know about a job. */
export interface PlacementRequest {
  gpus: number;
  /** CPU cores (fractions allowed); unchecked when absent. */
  cpus?: number;
  /** Memory in bytes; unchecked when absent. */
  memory_bytes?: number;
  /** Labels a node must carry (all of them, exact values). */
  selector: Record<string, string>;
  /** When given, nodes whose driver is missing or unavailable are skipped. */
  driver?: DriverName;
  /** The user named no driver: a node whose default_driver is slurm runs the job on Slurm. */
  defaultDriver?: boolean;
  /** Slurm partition asked for (slurm driver); else the cluster's default. */
  partition?: string;
}

/** The numbers placement judges a node by, for one request: the node's own, or its Slurm cluster's. */
interface Cap { gpus: number; gpusFree: number; cpus: number; cpusFree: number; mem: number; memFree: number; queued: number; unknown: string | null }

/** The driver the request gets on this node. */
export function effectiveDriver(r: PlacementRequest, n: NodeResources): DriverName | undefined {
  return r.defaultDriver && n.default_driver === 'slurm' ? 'slurm' : r.driver;
}

function capOf(r: PlacementRequest, n: NodeResources): Cap {
  if (effectiveDriver(r, n) !== 'slurm') {
    return { gpus: n.gpus.length, gpusFree: n.gpus_free, cpus: n.cpus_total, cpusFree: n.cpus_free, mem: n.memory_total_bytes, memFree: n.memory_free_bytes, queued: n.queued, unknown: null };
  }
  const sl = n.slurm;
  const name = r.partition ?? sl?.default_partition ?? null;
  const p = sl?.partitions.find((x) => x.name === name);
  if (!sl || !p) {
    const unknown = !sl ? 'its Slurm cluster has not been read yet' : `Slurm partition ${name ?? '(default)'} not found`;
    return { gpus: Infinity, gpusFree: 0, cpus: Infinity, cpusFree: 0, mem: Infinity, memFree: 0, queued: sl?.pending ?? 0, unknown };
  }
  return { gpus: p.gpus_per_node_max, gpusFree: p.gpus_free_per_node_max, cpus: p.cpus_total, cpusFree: p.cpus_free, mem: p.memory_total_bytes, memFree: p.memory_total_bytes, queued: sl.pending, unknown: null };
}

/** Placement strategy: binpack (default of the CLI) fills nodes; spread balances them. */
export type PlacementStrategy = 'binpack' | 'spread';

/** Why one node was not chosen (or could not be). */
export interface PlacementCandidate { node: string; why: string }

/** The outcome: a node (placed now, or queued there), or null with the reason of every node. */
export type PlacementDecision =
  | { node: string; reason: string; queued: boolean }
  | { node: null; reason: string; candidates: PlacementCandidate[] };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const fmtCpu = (n: number) => String(Math.round(n * 100) / 100);
const fmtMem = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

/** Selector mismatch in words, or null when the node matches. */
function selectorMismatch(sel: Record<string, string>, keys: readonly string[], labels: Record<string, string>): string | null {
  const bad: string[] = [];
  for (const k of keys) {
    if (!Object.hasOwn(labels, k)) bad.push(`${k}=${sel[k]} wanted, label missing`);
    else if (labels[k] !== sel[k]) bad.push(`${k}=${sel[k]} wanted, has ${k}=${labels[k]}`);
  }
  return bad.length ? `labels do not match: ${bad.join('; ')}` : null;
}

/** Whether the request fits within the node's total capacity (numbers only: the hot path builds no strings). */
function fitsWhenIdle(r: PlacementRequest, c: Cap): boolean {
  return r.gpus <= c.gpus && (r.cpus === undefined || r.cpus <= c.cpus) && (r.memory_bytes === undefined || r.memory_bytes <= c.mem);
}

/** Whether the request fits in what is free right now. */
function fitsNow(r: PlacementRequest, c: Cap): boolean {
  return r.gpus <= c.gpusFree && (r.cpus === undefined || r.cpus <= c.cpusFree) && (r.memory_bytes === undefined || r.memory_bytes <= c.memFree);
}

/** What the request exceeds in the node's total capacity (it can never run there). */
function capacityShortfall(r: PlacementRequest, c: Cap, slurm: boolean): string {
  const parts: string[] = [];
  if (r.gpus > c.gpus) parts.push(`needs ${plural(r.gpus, 'GPU')}, ${slurm ? `Slurm nodes have at most ${c.gpus}` : `has ${c.gpus}`}`);
  if (r.cpus !== undefined && r.cpus > c.cpus) parts.push(`needs ${fmtCpu(r.cpus)} CPUs, has ${fmtCpu(c.cpus)}`);
  if (r.memory_bytes !== undefined && r.memory_bytes > c.mem) parts.push(`needs ${fmtMem(r.memory_bytes)} memory, has ${fmtMem(c.mem)}`);
  return `never fits: ${parts.join(', ')}`;
}

/** What the request exceeds in what is free right now. */
function freeShortfall(r: PlacementRequest, c: Cap, slurm: boolean): string {
  if (c.unknown) return c.unknown;
  const parts: string[] = [];
  if (r.gpus > c.gpusFree) parts.push(`needs ${plural(r.gpus, 'GPU')}, ${c.gpusFree} free${slurm ? ' on one Slurm node' : ''}`);
  if (r.cpus !== undefined && r.cpus > c.cpusFree) parts.push(`needs ${fmtCpu(r.cpus)} CPUs, ${fmtCpu(c.cpusFree)} free`);
  if (r.memory_bytes !== undefined && r.memory_bytes > c.memFree) parts.push(`needs ${fmtMem(r.memory_bytes)} memory, ${fmtMem(c.memFree)} free`);
  return parts.join(', ');
}

function driverProblem(r: PlacementRequest, n: NodeResources): string | null {
  const driver = effectiveDriver(r, n);
  if (!driver) return null;
  const d = n.drivers.find((x) => x.name === driver);
  if (!d) return `driver ${driver} not offered`;
  if (!d.available) return `driver ${driver} unavailable${d.reason ? ` (${d.reason})` : ''}`;
  return null;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Choose a node for a job (see the procedure at the top of this file). Pure and deterministic: the order of
 * `nodes` does not matter. Input is not modified.
 */
export function place(spec: PlacementRequest, nodes: readonly NodeResources[], opts: { strategy: PlacementStrategy }): PlacementDecision {
  const selKeys = Object.keys(spec.selector).sort();
  const fitting: Array<{ n: NodeResources; gpusLeft: number; cpusLeft: number }> = [];
  const waiting: Array<{ n: NodeResources; c: Cap }> = [];
  const candidates: PlacementCandidate[] = [];

  // one pass in input order; every choice below breaks ties by name, so the input order never matters
  for (const n of nodes) {
    const excluded = selectorMismatch(spec.selector, selKeys, n.labels) ?? driverProblem(spec, n);
    if (excluded) { candidates.push({ node: n.node, why: excluded }); continue; }
    const c = capOf(spec, n);
    if (!fitsWhenIdle(spec, c)) { candidates.push({ node: n.node, why: capacityShortfall(spec, c, effectiveDriver(spec, n) === 'slurm') }); continue; }
    // the why of a node that could fit later is only put into words when it is needed (the queue reason)
    if (!fitsNow(spec, c)) { waiting.push({ n, c }); continue; }
    fitting.push({ n, gpusLeft: c.gpusFree - spec.gpus, cpusLeft: c.cpusFree - (spec.cpus ?? 0) });
  }

  if (fitting.length) {
    const sign = opts.strategy === 'binpack' ? 1 : -1;
    fitting.sort((a, b) => sign * (a.gpusLeft - b.gpusLeft) || sign * (a.cpusLeft - b.cpusLeft) || byName(a.n.node, b.n.node));
    const best = fitting[0];
    const others = fitting.slice(1, 4).map((f) => `${f.n.node}: ${f.gpusLeft} left`);
    const more = fitting.length > 4 ? `, +${fitting.length - 4} more` : '';
    const label = opts.strategy === 'binpack' ? 'bin-pack' : 'spread';
    const reason = `${label}: ${best.n.node} has ${plural(best.gpusLeft, 'free GPU')} left after this job`
      + (others.length ? ` (${others.join(', ')}${more})` : ' (the only node that fits now)');
    return { node: best.n.node, reason, queued: false };
  }

  if (waiting.length) {
    let best = waiting[0];
    for (const w of waiting) {
      const c = w.c.queued - best.c.queued || best.c.gpusFree - w.c.gpusFree || byName(w.n.node, best.n.node);
      if (c < 0) best = w;
    }
    const slurm = effectiveDriver(spec, best.n) === 'slurm';
    const where = slurm ? `queued on ${best.n.node} (Slurm)` : `queued on ${best.n.node}`;
    return { node: best.n.node, reason: `${where}: ${freeShortfall(spec, best.c, slurm)}${best.c.queued ? ` (${best.c.queued} queued ahead)` : ''}`, queued: true };
  }

  const reason = nodes.length === 0
    ? 'no nodes to place on'
    : `no node can ever run this job (${plural(nodes.length, 'node')} checked)`;
  return { node: null, reason, candidates: candidates.sort((a, b) => byName(a.node, b.node)) };
}
