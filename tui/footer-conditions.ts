// Which footer hints apply to the item in view: one function the footer asks about every `when` condition of the
// keymap (rollouts, jobs, models), computed from the selected row (or the frame's own item in a detail view).
import type { FleetNode } from '../shared/client/fleet-types.js';
import { TERMINAL_STATES } from '../shared/protocol/jobs.js';
import type { FooterCondition } from './keymap.js';
import { findJob } from './render/job-row.js';
import { findModel } from './render/model-row.js';
import { isStale } from './render/stale.js';
import { rolloutFooter } from './rollout-keys.js';
import { currentFrame, type UiState } from './state.js';

/** What the conditions need besides the state: the fleet and the selected item of the current view. */
export interface FooterContext { nodes: readonly FleetNode[]; item: string | undefined }

/** The job in view: the selected row of :jobs, the frame's own in the job detail and logs views. */
function jobInView(s: UiState, ctx: FooterContext) {
  const f = currentFrame(s);
  if (f.view === 'jobs') return findJob(ctx.nodes, ctx.item ?? null);
  if (f.view === 'job-detail' || f.view === 'logs') return findJob(ctx.nodes, f.arg);
  return undefined;
}

/** The model version in view (with its node): the selected row of :models, the frame's own in the model detail. */
function modelInView(s: UiState, ctx: FooterContext) {
  const f = currentFrame(s);
  const key = f.view === 'models' ? ctx.item ?? null : f.view === 'model-detail' ? f.arg : null;
  const e = findModel(ctx.nodes, key);
  return e ? { entry: e, node: ctx.nodes.find((n) => n.name === e.node) } : undefined;
}

/** Whether each footer condition holds for the item in view (false when there is no item of its kind). */
export function footerHolds(s: UiState, ctx: FooterContext): (c: FooterCondition) => boolean {
  const rollout = rolloutFooter(s, ctx);
  return (c) => {
    if (c.startsWith('rollout:')) return rollout(c);
    if (c.startsWith('job:')) {
      const j = jobInView(s, ctx);
      if (!j) return false;
      return c === 'job:cancellable' ? !TERMINAL_STATES.includes(j.state) : j.started_at !== null;
    }
    const m = modelInView(s, ctx);
    if (!m || !m.node || isStale(m.node)) return false;
    if (c === 'model:loadable') return !m.entry.model.loaded;
    if (c === 'model:unloadable') return m.entry.model.loaded;
    return true;
  };
}
