// The effects of a rollout on its nodes, through a NodeCaller: routing set for the candidate weights (targets warmed
// by model.alias before the switch) and the previous routing restored. Both are idempotent (an alias is set to exact
// targets; loading is a no-op when loaded), which is what lets the coordinator re-apply a step after a restart.
import { RpcError } from '../../shared/protocol/index.js';
import type { MethodName, ResultOf, Rollout } from '../../shared/protocol/index.js';
import type { NodeCaller } from '../cluster/peers.js';
import { targetsFor } from './plan.js';
import type { NodeCall } from './types.js';

/** A NodeCall over a NodeCaller that tags failures with the node's name (RPC refusals keep their code; transport failures become plain errors). */
export function taggedCall(nodes: NodeCaller): NodeCall {
  return async <M extends MethodName>(node: string, by: string, method: M, params: unknown): Promise<ResultOf<M>> => {
    try { return await nodes.call(node, method, params, by); } catch (e) {
      if (e instanceof RpcError && e.data.code !== 'UNAVAILABLE' && e.data.code !== 'TIMEOUT') throw Object.assign(e, { node });
      throw Object.assign(new Error(`${method} on ${node}: ${(e as Error).message}`), { node });
    }
  };
}

/**
 * Sets each node's routing for the candidate weights. A node is marked touched and saved before its routing changes:
 * a crash during the call still leaves it on the restore list.
 */
export async function applyWeights(r: Rollout, weights: Record<string, number>, by: string, reason: string, call: NodeCall, save: (r: Rollout) => void): Promise<void> {
  for (const n of r.nodes) {
    const w = weights[n.name] ?? n.weight;
    if (n.state === 'skipped' || (n.touched && w === n.weight && n.state !== 'pending')) continue;
    n.state = 'warming'; n.touched = true;
    save(r);
    const shadow = r.strategy === 'shadow' ? (w > 0 || r.state !== 'running' ? null : r.to) : undefined;
    // a shadow step moves no traffic: the node keeps its routing (a split included) and gets the copy
    const targets = shadow && n.previous_targets?.length ? n.previous_targets : targetsFor(r.to, n.stable, w);
    await call(n.name, by, 'model.alias', { name: r.name, targets, reason, ...(shadow !== undefined ? { shadow } : {}) });
    n.weight = w; n.touched = true; n.state = 'serving'; n.error = null;
  }
}

/** Restores the routing of every node the rollout changed; returns the errors (a node that could not be restored). */
export async function restoreRouting(r: Rollout, by: string, reason: string, call: NodeCall): Promise<string[]> {
  const errors: string[] = [];
  for (const n of r.nodes.filter((x) => x.touched)) {
    const targets = n.previous_targets && n.previous_targets.length ? n.previous_targets : n.stable ? [{ version: n.stable, weight: 100 }] : null;
    if (!targets) { errors.push(`${n.name}: no previous version to restore`); continue; }
    try {
      await call(n.name, by, 'model.alias', { name: r.name, targets, reason, ...(r.strategy === 'shadow' ? { shadow: null } : {}) });
      n.weight = targets.find((t) => t.version === r.to)?.weight ?? 0; n.state = 'rolled_back'; n.error = null;
    } catch (e) { n.error = (e as Error).message.slice(0, 4096); errors.push(`${n.name}: ${(e as Error).message}`); }
  }
  return errors;
}
