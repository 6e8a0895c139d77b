// Polls node.resources of every node that is up: the drivers a node offers (and its default) for the submit form, and
// the Slurm cluster behind a slurm-driver node for the node view. node.resources has no push topic, and FleetNode does
// not carry it (yet), so the console polls it itself, slowly.
//
// Invariants (STYLE rule 13):
// - never two polls in flight: a round starts only when the previous one has settled (one timer, re-armed after);
// - a node whose poll fails is skipped for pollMs × 2^failures (up to maxBackoffMs); its last good answer is kept;
// - dispose() stops it for good: no timer left, and a round that settles later publishes nothing.
import type { FleetActions } from '../shared/client/fleet-types.js';
import type { NodeResources } from '../shared/protocol/jobs.js';

/** Default time between two rounds (ms): capacity changes slowly and jobs are pushed anyway. */
export const RESOURCE_POLL_MS = 5000;
/** Longest wait before retrying a node whose polls fail (ms); an older agent without node.resources lands here. */
export const RESOURCE_BACKOFF_MAX_MS = 60_000;

/** Reads one node's node.resources; rejects with the agent's message. */
export type ResourceReader = (node: string) => Promise<NodeResources>;

/**
 * A reader through the fleet client's per-node connection (FleetClient.client(name)), or undefined when `actions`
 * is not one (tests, a console without connections): the form then offers every driver.
 */
export function resourceReaderOf(actions: FleetActions | undefined): ResourceReader | undefined {
  const c = actions as (FleetActions & { client?: (name: string) => { call(m: 'node.resources', p: Record<string, never>): Promise<NodeResources> } | undefined }) | undefined;
  if (typeof c?.client !== 'function') return undefined;
  return async (node) => {
    const agent = c.client!(node);
    if (!agent) throw new Error(`no connection to ${node}`);
    return agent.call('node.resources', {});
  };
}

/** Options of ResourcePoller. */
export interface ResourcePollerOptions {
  /** Time between rounds; default RESOURCE_POLL_MS. */
  pollMs?: number;
  /** Cap of a failing node's wait; default RESOURCE_BACKOFF_MAX_MS. */
  maxBackoffMs?: number;
  now?: () => number;
}

/** Polls node.resources of the nodes `names()` returns (read at each round) and publishes every answer so far. */
export class ResourcePoller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = false;
  private disposed = false;
  private res: Record<string, NodeResources> = {};
  private readonly failures = new Map<string, { count: number; until: number }>();
  private readonly pollMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;

  constructor(private readonly reader: ResourceReader, private readonly names: () => string[], private readonly publish: (r: Record<string, NodeResources>) => void, o: ResourcePollerOptions = {}) {
    this.pollMs = o.pollMs ?? RESOURCE_POLL_MS;
    this.maxBackoffMs = o.maxBackoffMs ?? RESOURCE_BACKOFF_MAX_MS;
    this.now = o.now ?? Date.now;
  }

  /** Poll now, then every pollMs. */
  start(): void {
    void this.poll();
  }

  /** A node came up: poll soon rather than at the next round (no-op while a round is in flight). */
  nudge(): void {
    if (this.inFlight || this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.poll();
  }

  /** Stop polling; a round in flight publishes nothing when it settles. */
  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** How long a node with `count` consecutive failures waits before its next try. */
  backoff(count: number): number {
    return Math.min(this.maxBackoffMs, this.pollMs * 2 ** count);
  }

  private async poll(): Promise<void> {
    if (this.inFlight || this.disposed) return;
    this.inFlight = true;
    this.timer = null;
    const now = this.now();
    const due = this.names().filter((n) => (this.failures.get(n)?.until ?? 0) <= now);
    const got = await Promise.allSettled(due.map((n) => this.reader(n)));
    this.inFlight = false;
    if (this.disposed) return;
    let changed = false;
    got.forEach((r, i) => {
      const name = due[i];
      if (r.status === 'fulfilled') {
        this.failures.delete(name);
        this.res = { ...this.res, [name]: r.value };
        changed = true;
      } else {
        const count = (this.failures.get(name)?.count ?? 0) + 1;
        this.failures.set(name, { count, until: this.now() + this.backoff(count) });
      }
    });
    if (changed) this.publish(this.res);
    this.timer = setTimeout(() => void this.poll(), this.pollMs);
  }
}
