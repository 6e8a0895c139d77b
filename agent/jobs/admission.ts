// Admission: which queued jobs start now. Pure: data in, decision out.
//
// Order: priority (high first), then submission time (old first). A job that fits starts and takes its resources.
// A job that does not fit waits with a reason ("needs 2 GPUs, 1 free"), and smaller jobs behind it may start
// ahead of it (backfill) — until it has waited longer than `starvationMs`: from then on what is free is held back
// for it (a reservation, as Slurm's backfill does), so it starts as running jobs finish; jobs behind it may still
// use what its reservation leaves (e.g. CPU-only jobs while it waits for GPUs).

/** A queued job's request. */
export interface QueuedRequest { id: string; gpus: number; cpus: number; memoryBytes: number; priority: number; submittedAt: number }
/** What is free now. GPU UUIDs in the order they should be handed out (index order). */
export interface FreeResources { gpus: string[]; cpus: number; memoryBytes: number }
/** The decision: jobs to start with their GPUs, and why the others wait. */
export interface Admission { start: Array<{ id: string; gpus: string[] }>; waiting: Array<{ id: string; reason: string }> }

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
const n = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** Why a request does not fit into what is free, or null when it fits. */
export function misfit(r: QueuedRequest, f: FreeResources): string | null {
  if (r.gpus > f.gpus.length) return `needs ${r.gpus} GPU${r.gpus === 1 ? '' : 's'}, ${f.gpus.length} free`;
  if (r.cpus > f.cpus + 1e-9) return `needs ${n(r.cpus)} CPUs, ${n(Math.max(0, f.cpus))} free`;
  if (r.memoryBytes > f.memoryBytes) return `needs ${gib(r.memoryBytes)} memory, ${gib(Math.max(0, f.memoryBytes))} free`;
  return null;
}

/** Decide which queued jobs start now. */
export function admit(queue: QueuedRequest[], free: FreeResources, now: number, starvationMs: number): Admission {
  const order = [...queue].sort((a, b) => b.priority - a.priority || a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1));
  const left: FreeResources = { gpus: [...free.gpus], cpus: free.cpus, memoryBytes: free.memoryBytes };
  const out: Admission = { start: [], waiting: [] };
  let reservedFor: QueuedRequest | null = null;
  for (const r of order) {
    const why = misfit(r, left);
    if (why === null) {
      out.start.push({ id: r.id, gpus: left.gpus.splice(0, r.gpus) });
      left.cpus -= r.cpus;
      left.memoryBytes -= r.memoryBytes;
      continue;
    }
    out.waiting.push({ id: r.id, reason: reservedFor ? `${why} (held for ${reservedFor.id}, queued ${Math.round((now - reservedFor.submittedAt) / 1000)} s)` : why });
    if (!reservedFor && now - r.submittedAt >= starvationMs) {
      reservedFor = r;
      left.gpus.splice(0, Math.min(r.gpus, left.gpus.length));
      left.cpus = Math.max(0, left.cpus - r.cpus);
      left.memoryBytes = Math.max(0, left.memoryBytes - r.memoryBytes);
    }
  }
  return out;
}
