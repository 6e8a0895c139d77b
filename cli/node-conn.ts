// Connections of one `fleetml …` command to its targets (jobs, models, drift, rollouts), and finding a job across them.
// Every agent is asked in parallel; an agent that is down is listed and skipped, never fatal by itself.
import { AgentClient, RpcCallError } from '../shared/client/agent-client.js';
import type { Target } from '../shared/client/inventory.js';
import { resolveTargets } from '../shared/client/targets.js';
import { requireSingleTarget, type NodeChoice } from './args/model.js';
import type { Job } from '../shared/protocol/jobs.js';
import { parseJobRef } from './args/job.js';
import { UsageError } from './output.js';

/** One target of the command: its connected client, or why it has none. */
export interface NodeConn { name: string; url: string; client: AgentClient | null; error: string | null }

/** Connect to every target in parallel (no reconnect: a CLI command is short). Names come from the agent for --url targets. */
export async function connectAll(targets: readonly Target[], timeoutMs = 5000): Promise<NodeConn[]> {
  return Promise.all(targets.map(async (t): Promise<NodeConn> => {
    const c = new AgentClient({ url: t.url, token: t.token, ca: t.ca, reconnect: false, connectTimeoutMs: timeoutMs, callTimeoutMs: Math.max(timeoutMs, 15_000) });
    try {
      const hello = await c.connect();
      return { name: t.unnamed ? hello.node : t.name, url: t.url, client: c, error: null };
    } catch (e) {
      await c.close().catch(() => undefined);
      return { name: t.name, url: t.url, client: null, error: (e as Error).message };
    }
  }));
}

/** Close every connection. */
export async function closeAll(conns: readonly NodeConn[]): Promise<void> {
  await Promise.all(conns.map((c) => c.client?.close().catch(() => undefined)));
}

/** The connections that are up. */
/** A target with a connected client. */
export type UpConn = NodeConn & { client: AgentClient };

/** Open connections to some targets, run fn, always close them. */
export async function withTargets<T>(targets: readonly Target[], fn: (conns: NodeConn[]) => Promise<T>): Promise<T> {
  const conns = await connectAll(targets);
  try { return await fn(conns); } finally { await closeAll(conns); }
}

/** The targets of the command's options (--url/--token, inventory, environment), connected for fn, always closed. */
export function withConns<T>(o: { url?: string; token?: string; inventory?: string }, fn: (conns: NodeConn[]) => Promise<T>): Promise<T> {
  return withTargets(resolveTargets(o).targets, fn);
}

/** The nodes a changing command acts on: --node, --all (reachable ones; the others are reported), or the only target. */
export function chooseNodes(conns: readonly NodeConn[], choice: NodeChoice, verb: string): UpConn[] {
  if (choice.kind === 'node') return [pickNode(conns, choice.node) as UpConn];
  if (choice.kind === 'default') requireSingleTarget(conns.map((c) => c.name), verb);
  const up = upConns(conns);
  if (!up.length) throw new Error(`no agent reachable${downNote(conns)}; check them with: fleetml nodes`);
  return up;
}

export const upConns = (conns: readonly NodeConn[]) => conns.filter((c): c is NodeConn & { client: AgentClient } => c.client !== null);

/** "unreachable: a (why), b (why)" or "" — appended to errors so the user knows what was not searched. */
export function downNote(conns: readonly NodeConn[]): string {
  const down = conns.filter((c) => !c.client);
  return down.length ? ` (not reachable: ${down.map((c) => `${c.name}: ${c.error}`).join('; ')})` : '';
}

/** Restrict to one node by name; an unknown name is a usage error listing the known ones. */
export function pickNode(conns: readonly NodeConn[], name: string): NodeConn {
  const c = conns.find((x) => x.name === name);
  if (!c) throw new UsageError(`no node named "${name}" among ${conns.map((x) => x.name).join(', ')}; list them with: fleetml nodes`);
  if (!c.client) throw new Error(`node ${name} is not reachable: ${c.error}`);
  return c;
}

const isNotFound = (e: unknown) => e instanceof RpcCallError && e.codeName === 'NOT_FOUND';

/** Call fn on every reachable connection in parallel; failures are collected per node. */
export async function onEach<T>(conns: readonly NodeConn[], fn: (c: AgentClient, name: string) => Promise<T>): Promise<Array<{ node: string; value?: T; error?: string }>> {
  return Promise.all(upConns(conns).map(async (c) => {
    try { return { node: c.name, value: await fn(c.client, c.name) }; } catch (e) { return { node: c.name, error: (e as Error).message }; }
  }));
}

/**
 * Find the job a command-line reference names: an exact id (job.get on every node), else a unique id prefix or a
 * unique job name (job.list on every node). "NODE/ID" looks on that node only.
 */
export async function findJob(conns: readonly NodeConn[], refText: string): Promise<{ conn: NodeConn & { client: AgentClient }; job: Job }> {
  const { node, ref } = parseJobRef(refText);
  const scope = node ? [pickNode(conns, node)] : conns;
  const up = upConns(scope);
  if (!up.length) throw new Error(`no agent reachable to look for job ${refText}${downNote(scope)}`);

  const exact = await Promise.all(up.map(async (c) => {
    try { return { c, job: (await c.client.call('job.get', { id: ref })).job }; } catch (e) { if (isNotFound(e)) return null; throw new Error(`${c.name}: ${(e as Error).message}`); }
  }));
  const hit = exact.find((x) => x !== null);
  if (hit) return { conn: hit.c, job: hit.job };

  const lists = await Promise.all(up.map(async (c) => ({ c, jobs: (await c.client.call('job.list', { limit: 10_000 })).jobs })));
  const matches = lists.flatMap(({ c, jobs }) => jobs.filter((j) => j.id.startsWith(ref) || j.name === ref).map((job) => ({ conn: c, job })));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    const shown = matches.slice(0, 8).map((m) => `${m.conn.name}/${m.job.id}${m.job.name ? ` (${m.job.name})` : ''}`).join(', ');
    throw new UsageError(`"${refText}" matches ${matches.length} jobs: ${shown}${matches.length > 8 ? ', …' : ''}; give more of the id or use NODE/ID`);
  }
  throw new UsageError(`no job "${refText}" on ${up.map((c) => c.name).join(', ')}${downNote(scope)}; list jobs with: fleetml job list`);
}
