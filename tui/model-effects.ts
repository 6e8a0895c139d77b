// Running the models view's effects through FleetActions, and the one line each outcome reports.
import type { FleetActions } from '../shared/client/fleet-types.js';
import { shortRolloutId } from './render/rollout-row.js';
import type { Effect } from './state.js';

/** The effects of the models view. */
export type ModelEffect = Extract<Effect, { kind: 'model' | 'alias' | 'startRollout' }>;

/** Is this one of the models view's effects? */
export function isModelEffect(e: Effect): e is ModelEffect {
  return e.kind === 'model' || e.kind === 'alias' || e.kind === 'startRollout';
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Run a models effect; resolves (never rejects) with the message line, or the node's refusal as `error`. */
export async function runModelEffect(actions: FleetActions, e: ModelEffect): Promise<{ message?: string; error?: string }> {
  try {
    if (e.kind === 'model') {
      const m = e.op === 'load' ? await actions.loadModel(e.node, e.name, e.version) : await actions.unloadModel(e.node, e.name, e.version);
      return { message: `${e.op === 'load' ? 'loaded' : 'unloaded'} ${m.name}@${m.version} on ${e.node}${m.loaded && m.provider ? ` (${m.provider})` : ''}` };
    }
    if (e.kind === 'alias') {
      const a = await actions.aliasModel(e.node, e.name, e.targets, e.reason);
      return { message: `${a.name} on ${e.node} now routes ${a.targets.map((t) => `${t.version} ${t.weight}%`).join(' · ')}` };
    }
    const r = await actions.startRollout(e.node, e.params);
    return { message: `started rollout ${shortRolloutId(r.id)}: ${r.name} → ${r.to} (${r.strategy}) coordinated by ${e.node}; :rollouts follows it` };
  } catch (err) {
    const what = e.kind === 'model' ? e.op : e.kind === 'alias' ? 'traffic split' : 'rollout start';
    return { error: `${what} refused by ${e.node}: ${errText(err)}` };
  }
}
