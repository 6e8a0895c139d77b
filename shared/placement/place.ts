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
function fitsWhenIdle(r: PlacementRequest, n: NodeResources): boolean {
  return r.gpus <= n.gpus.length && (r.cpus === undefined || r.cpus <= n.cpus_total) && (r.memory_bytes === undefined || r.memory_bytes <= n.memory_total_bytes);
}

/** Whether the request fits in what is free right now. */
function fitsNow(r: PlacementRequest, n: NodeResources): boolean {
  return r.gpus <= n.gpus_free && (r.cpus === undefined || r.cpus <= n.cpus_free) && (r.memory_bytes === undefined || r.memory_bytes <= n.memory_free_bytes);
}

/** What the request exceeds in the node's total capacity (it can never run there). */
function capacityShortfall(r: PlacementRequest, n: NodeResources): string {
  const parts: string[] = [];
  if (r.gpus > n.gpus.length) parts.push(`needs ${plural(r.gpus, 'GPU')}, has ${n.gpus.length}`);
  if (r.cpus !== undefined && r.cpus > n.cpus_total) parts.push(`needs ${fmtCpu(r.cpus)} CPUs, has ${fmtCpu(n.cpus_total)}`);
  if (r.memory_bytes !== undefined && r.memory_bytes > n.memory_total_bytes) parts.push(`needs ${fmtMem(r.memory_bytes)} memory, has ${fmtMem(n.memory_total_bytes)}`);
  return `never fits: ${parts.join(', ')}`;
}

/** What the request exceeds in what is free right now. */
function freeShortfall(r: PlacementRequest, n: NodeResources): string {
  const parts: string[] = [];
  if (r.gpus > n.gpus_free) parts.push(`needs ${plural(r.gpus, 'GPU')}, ${n.gpus_free} free`);
  if (r.cpus !== undefined && r.cpus > n.cpus_free) parts.push(`needs ${fmtCpu(r.cpus)} CPUs, ${fmtCpu(n.cpus_free)} free`);
  if (r.memory_bytes !== undefined && r.memory_bytes > n.memory_free_bytes) parts.push(`needs ${fmtMem(r.memory_bytes)} memory, ${fmtMem(n.memory_free_bytes)} free`);
  return parts.join(', ');
}

function driverProblem(r: PlacementRequest, n: NodeResources): string | null {
  if (!r.driver) return null;
  const d = n.drivers.find((x) => x.name === r.driver);
  if (!d) return `driver ${r.driver} not offered`;
  if (!d.available) return `driver ${r.driver} unavailable${d.reason ? ` (${d.reason})` : ''}`;
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
  const waiting: NodeResources[] = [];
  const candidates: PlacementCandidate[] = [];

  // one pass in input order; every choice below breaks ties by name, so the input order never matters
  for (const n of nodes) {
    const excluded = selectorMismatch(spec.selector, selKeys, n.labels) ?? driverProblem(spec, n);
    if (excluded) { candidates.push({ node: n.node, why: excluded }); continue; }
    if (!fitsWhenIdle(spec, n)) { candidates.push({ node: n.node, why: capacityShortfall(spec, n) }); continue; }
    // the why of a node that could fit later is only put into words when it is needed (the queue reason)
    if (!fitsNow(spec, n)) { waiting.push(n); continue; }
    fitting.push({ n, gpusLeft: n.gpus_free - spec.gpus, cpusLeft: n.cpus_free - (spec.cpus ?? 0) });
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
    for (const n of waiting) {
      const c = n.queued - best.queued || best.gpus_free - n.gpus_free || byName(n.node, best.node);
      if (c < 0) best = n;
    }
    return { node: best.node, reason: `queued on ${best.node}: ${freeShortfall(spec, best)}${best.queued ? ` (${best.queued} queued ahead)` : ''}`, queued: true };
  }

  const reason = nodes.length === 0
    ? 'no nodes to place on'
    : `no node can ever run this job (${plural(nodes.length, 'node')} checked)`;
  return { node: null, reason, candidates: candidates.sort((a, b) => byName(a.node, b.node)) };
}
