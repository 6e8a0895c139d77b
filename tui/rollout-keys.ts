// Keys of the rollout views as a pure function from (action id, state, data) to reducer actions: pause and resume act
// at once; promote and abort ask y/n first. All four change the fleet, so read-only mode drops them (keymap: dangerous).
import type { FleetNode } from '../shared/client/fleet-types.js';
import { rolloutTitle, stepOf } from '../shared/protocol/rollout-view.js';
import { isTerminalRollout, rolloutAllows } from '../shared/protocol/rollout.js';
import type { ActionId, FooterCondition } from './keymap.js';
import { findRolloutEntry, shortRolloutId } from './render/rollout-row.js';
import { currentFrame, type RolloutOp, type UiAction, type UiState } from './state.js';

const OPS: Record<string, RolloutOp> = { pauseRollout: 'pause', resumeRollout: 'resume', promoteRollout: 'promote', abortRollout: 'abort' };

/**
 * Reducer actions for a rollout action id, or null when the id is not one of them. The rollout is the selected row
 * (`item`, "node/id") in :rollouts, the frame's own in the detail view. States that cannot take the action get a
 * message instead of a call (the coordinator would refuse it anyway).
 */
export function rolloutActions(id: ActionId | null, s: UiState, ctx: { nodes: readonly FleetNode[]; item: string | undefined }): UiAction[] | null {
  const op = id ? OPS[id] : undefined;
  if (!op) return null;
  const f = currentFrame(s);
  const key = f.view === 'rollouts' ? ctx.item ?? null : f.arg;
  const e = findRolloutEntry(ctx.nodes, key);
  if (!e) return key ? [{ type: 'message', text: `rollout ${key} is not known (yet); wait for its coordinator to report it` }] : [{ type: 'message', text: 'select a rollout first' }];
  const r = e.rollout;
  const name = `rollout ${shortRolloutId(r.id)} (${rolloutTitle(r)})`;
  if (isTerminalRollout(r)) return [{ type: 'message', text: `${name} is ${r.state.replace('_', ' ')}; nothing to ${op}` }];
  if (op === 'pause' && r.state === 'paused') return [{ type: 'message', text: `${name} is paused already; <r> resumes it` }];
  if (op === 'resume' && r.state !== 'paused') return [{ type: 'message', text: `${name} is ${r.state}, not paused; nothing to resume` }];
  const effect = { kind: 'rollout' as const, op, node: e.node, id: r.id };
  if (op === 'pause' || op === 'resume') return [{ type: 'run', effect }];
  const text = op === 'promote'
    ? `Promote ${r.name} ${r.to} to 100% on every node (now ${stepOf(r)})? y/n`
    : `Abort ${r.name} → ${r.to} and restore the previous routing? y/n`;
  return [{ type: 'openDialog', dialog: { kind: 'confirm', text, effect } }];
}

/**
 * Which rollout hints the footer shows for the rollout in view (the selected row of :rollouts, the frame's own in
 * the detail view): none for a finished one, pause or resume as its state allows, promote and abort while it runs.
 */
export function rolloutFooter(s: UiState, ctx: { nodes: readonly FleetNode[]; item: string | undefined }): (c: FooterCondition) => boolean {
  const f = currentFrame(s);
  if (f.view !== 'rollouts' && f.view !== 'rollout-detail') return () => true;
  const r = findRolloutEntry(ctx.nodes, f.view === 'rollouts' ? ctx.item ?? null : f.arg)?.rollout;
  if (!r) return () => false;
  return (c) => (c in CONDITION_OP ? rolloutAllows(r, CONDITION_OP[c as RolloutCondition]) : false);
}

/** The hand action each footer condition stands for (the coordinator's own rule, shared/protocol/rollout.ts). */
type RolloutCondition = Extract<FooterCondition, `rollout:${string}`>;
const CONDITION_OP: Record<RolloutCondition, RolloutOp> = { 'rollout:pausable': 'pause', 'rollout:resumable': 'resume', 'rollout:promotable': 'promote', 'rollout:abortable': 'abort' };
