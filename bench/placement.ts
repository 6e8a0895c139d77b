// Placement benchmark: 10,000 jobs (1–8 GPUs each, seeded) placed one after the other with `place` over 100
// simulated nodes (a seeded mix of 4- and 8-GPU nodes). Jobs never finish: the fleet fills up, and once nothing
// fits the decision is to queue (the node's queue length grows). Measures the cost of one decision and how well
// each strategy fills the GPUs, against an upper bound and an offline first-fit-decreasing (FFD) baseline.
//
// Run alone: node dist/bench/placement.js (after a build); bench/run.ts calls runPlacementBench().
import { pathToFileURL } from 'node:url';
import { place, type PlacementStrategy } from '../shared/placement/place.js';
import type { NodeResources } from '../shared/protocol/jobs.js';
import { fmt, table } from './util.js';
import { mulberry32 } from '../shared/util/prng.js';

/** Parameters of the run (defaults: the numbers in docs/benchmarks.md). */
export interface PlacementBenchOptions { jobs?: number; nodes?: number; seed?: number }


function fleet(n: number, rand: () => number): NodeResources[] {
  return Array.from({ length: n }, (_, i): NodeResources => {
    const gpus = rand() < 0.5 ? 4 : 8;
    return {
      node: `node-${String(i).padStart(3, '0')}`, labels: {},
      gpus: Array.from({ length: gpus }, (_, k) => ({ uuid: `GPU-${i}-${k}`, index: k, name: 'H100', fb_total_bytes: 80 * 2 ** 30, job_id: null, busy_external: false })),
      gpus_free: gpus, cpus_total: gpus * 16, cpus_free: gpus * 16, memory_total_bytes: gpus * 128 * 2 ** 30, memory_free_bytes: gpus * 128 * 2 ** 30,
      queued: 0, running: 0, drivers: [{ name: 'process', available: true, reason: null }], simulated: true,
    };
  });
}

interface Row { name: string; totalMs: number; placed: number; queued: number; used: number; firstQueueAt: number | null; usedAtFirstQueue: number | null }

/** Online: each job in arrival order with `place`, updating the fleet as it goes. */
function runStrategy(strategy: PlacementStrategy, requests: number[], base: NodeResources[]): Row {
  const nodes = base.map((n) => ({ ...n }));
  const byName = new Map(nodes.map((n) => [n.node, n]));
  let placed = 0, queued = 0, used = 0, firstQueueAt: number | null = null, usedAtFirstQueue: number | null = null;
  const t0 = performance.now();
  for (let i = 0; i < requests.length; i++) {
    const d = place({ gpus: requests[i], selector: {} }, nodes, { strategy });
    if (d.node === null) throw new Error(`job ${i} (${requests[i]} GPUs) cannot be placed: ${d.reason}`);
    const n = byName.get(d.node)!;
    if (d.queued) {
      n.queued++; queued++;
      if (firstQueueAt === null) { firstQueueAt = i + 1; usedAtFirstQueue = used; }
    } else {
      n.gpus_free -= requests[i]; n.running++; placed++; used += requests[i];
    }
  }
  return { name: strategy === 'binpack' ? 'place, binpack' : 'place, spread', totalMs: performance.now() - t0, placed, queued, used, firstQueueAt, usedAtFirstQueue };
}

/** Online first-fit in arrival order (nodes by name), for comparison. */
function firstFit(requests: number[], base: NodeResources[], sorted: boolean): Row {
  const free = base.map((n) => n.gpus_free);
  const order = sorted ? [...requests].sort((a, b) => b - a) : requests;
  let placed = 0, used = 0, firstQueueAt: number | null = null, usedAtFirstQueue: number | null = null;
  const t0 = performance.now();
  for (let i = 0; i < order.length; i++) {
    const k = free.findIndex((f) => f >= order[i]);
    // "first queued" means nothing in sorted order: only reported for the online variant
    if (k < 0) { if (firstQueueAt === null && !sorted) { firstQueueAt = i + 1; usedAtFirstQueue = used; } continue; }
    free[k] -= order[i]; placed++; used += order[i];
  }
  return { name: sorted ? 'first-fit decreasing (offline)' : 'first-fit (online)', totalMs: performance.now() - t0, placed, queued: order.length - placed, used, firstQueueAt, usedAtFirstQueue };
}

/** Run the benchmark; returns the printed report (a header line and a table). */
export async function runPlacementBench(o: PlacementBenchOptions = {}): Promise<string> {
  const jobs = o.jobs ?? 10_000, nNodes = o.nodes ?? 100, seed = o.seed ?? 42;
  const rand = mulberry32(seed);
  const base = fleet(nNodes, rand);
  const requests = Array.from({ length: jobs }, () => 1 + Math.floor(rand() * 8));
  const totalGpus = base.reduce((s, n) => s + n.gpus.length, 0);
  const requested = requests.reduce((s, r) => s + r, 0);
  const bound = Math.min(totalGpus, requested);

  // warm-up (JIT) on a short prefix, not reported
  runStrategy('binpack', requests.slice(0, 500), base);
  runStrategy('spread', requests.slice(0, 500), base);

  const render = (reqs: number[], bound: number) => table(
    ['placer', 'total ms', 'µs/job', 'placed', 'queued', 'GPUs used', '% of bound', 'first queued at job', 'GPUs used then'],
    [runStrategy('binpack', reqs, base), runStrategy('spread', reqs, base), firstFit(reqs, base, false), firstFit(reqs, base, true)].map((r) => [
      r.name, fmt(r.totalMs, 1), fmt((r.totalMs * 1000) / reqs.length, 2), String(r.placed), String(r.queued), String(r.used),
      fmt((100 * r.used) / bound, 1), r.firstQueueAt === null ? '-' : `#${r.firstQueueAt}`, r.usedAtFirstQueue === null ? '-' : `${r.usedAtFirstQueue} (${fmt((100 * r.usedAtFirstQueue) / totalGpus, 1)}%)`]),
  );
  const header = `${jobs} jobs (1–8 GPUs, seed ${seed}, ${requested} GPUs requested) over ${nNodes} nodes `
    + `(${base.filter((n) => n.gpus.length === 4).length}× 4 GPUs, ${base.filter((n) => n.gpus.length === 8).length}× 8 GPUs = ${totalGpus} GPUs); `
    + `upper bound on GPUs used = min(${totalGpus}, ${requested}) = ${bound}`;
  // the same arrival order cut where the requests just fit the fleet: fragmentation shows as queued jobs
  let cut = 0, sum = 0;
  while (cut < requests.length && sum + requests[cut] <= totalGpus) sum += requests[cut++];
  const t = render(requests, bound);
  const t2 = render(requests.slice(0, cut), Math.min(totalGpus, sum));
  const header2 = `The first ${cut} jobs only (${sum} GPUs requested ≤ ${totalGpus}: all could run at once; upper bound ${sum})`;
  return `${header}\n\n${t}\n\n${header2}\n\n${t2}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runPlacementBench().then((s) => console.log(s), (e) => { console.error(e); process.exit(1); });
}
