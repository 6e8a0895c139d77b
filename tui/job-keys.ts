// Keys of the jobs capability as pure functions from (key, state, data) to reducer actions:
// the jobs/detail/logs bindings, and the keys of an open dialog (confirmation, submit form).
import type { Key } from 'ink';
import type { FleetNode } from '../shared/client/fleet-types.js';
import { TERMINAL_STATES } from '../shared/protocol/jobs.js';
import { formToSpec, focusedField, isChoice, newJobForm } from './job-form.js';
import type { ActionId } from './keymap.js';
import { findJob, nextStateFilter, shortJobId } from './render/job-row.js';
import { currentFrame, flag, type Dialog, type UiAction, type UiState } from './state.js';

/** Default of each logs-view toggle. */
export const LOG_FLAG_DEFAULTS = { autoscroll: true, wrap: false, timestamps: false } as const;

/** What the jobs keys need besides the state. */
export interface JobKeyContext {
  nodes: readonly FleetNode[];
  /** The selected item of the current view ("node/id" in the jobs view), or undefined. */
  item: string | undefined;
  /** Row count of the current view (log lines in the logs view). */
  count: number;
  /** Rows a page key moves. */
  page: number;
}

/** The job a key applies to: the selected row in the jobs view, the frame's job in the detail and logs views. */
function targetKey(s: UiState, ctx: JobKeyContext): string | null {
  const f = currentFrame(s);
  return f.view === 'jobs' ? ctx.item ?? null : f.arg;
}

/** Reducer actions for a jobs-capability action id, or null when the id is not one of them. */
export function jobActions(id: ActionId | null, s: UiState, ctx: JobKeyContext): UiAction[] | null {
  const f = currentFrame(s);
  switch (id) {
    case 'stateFilter':
      return [{ type: 'setStateFilter', value: nextStateFilter(f.stateFilter) }];
    case 'logs': {
      const key = targetKey(s, ctx);
      return key ? [{ type: 'push', view: 'logs', arg: key }] : [];
    }
    case 'cancelJob': {
      const key = targetKey(s, ctx);
      const job = findJob(ctx.nodes, key);
      if (!job) return key ? [{ type: 'message', text: `job ${key} is not known (yet); wait for the node to report it` }] : [];
      if (TERMINAL_STATES.includes(job.state)) return [{ type: 'message', text: `job ${shortJobId(job.id)} already ${job.state}; nothing to cancel` }];
      const text = `Cancel job ${shortJobId(job.id)}${job.name ? ` (${job.name})` : ''} on ${job.node}? y/n`;
      return [{ type: 'openDialog', dialog: { kind: 'confirm', text, effect: { kind: 'cancelJob', node: job.node, id: job.id } } }];
    }
    case 'newJob':
      if (ctx.nodes.length === 0) return [{ type: 'message', text: 'no nodes to run a job on; add one with `fleetml cluster add NAME URL`' }];
      return [{ type: 'openDialog', dialog: { kind: 'form', form: newJobForm(ctx.nodes) } }];
    case 'autoscroll': {
      const on = !flag(f, 'autoscroll', LOG_FLAG_DEFAULTS.autoscroll);
      // Turning autoscroll off keeps the newest line at the bottom: the view stays where it is.
      return [{ type: 'setFlag', name: 'autoscroll', value: on }, ...(on ? [] : [{ type: 'moveTo' as const, index: ctx.count - 1, count: ctx.count }])];
    }
    case 'wrap':
    case 'timestamps': {
      const name = id as 'wrap' | 'timestamps';
      return [{ type: 'setFlag', name, value: !flag(f, name, LOG_FLAG_DEFAULTS[name]) }];
    }
    case 'up':
    case 'pageUp':
    case 'top':
      // Scrolling back in a followed log stops following, from the newest line (k9s does the same).
      if (f.view === 'logs' && flag(f, 'autoscroll', LOG_FLAG_DEFAULTS.autoscroll)) {
        const n = ctx.count;
        const to = id === 'top' ? 0 : n - 1 - (id === 'up' ? 1 : ctx.page);
        return [{ type: 'setFlag', name: 'autoscroll', value: false }, { type: 'moveTo', index: to, count: n }];
      }
      return null;
    default:
      return null;
  }
}

/** Reducer actions for a key while a dialog is open (the dialog takes every key but ctrl-c). */
export function dialogActions(name: string, input: string, key: Key, d: Dialog): UiAction[] {
  if (d.kind === 'confirm') {
    if (name === 'y' || name === 'Y') return [{ type: 'run', effect: d.effect }];
    if (name === 'n' || name === 'N' || name === 'esc') return [{ type: 'closeDialog' }];
    return [];
  }
  if (d.kind !== 'form') return []; // the model forms have their own keys (model-keys.ts)
  const form = d.form;
  if (name === 'esc') return [{ type: 'closeDialog' }];
  if (form.busy) return [];
  const choice = isChoice(focusedField(form));
  switch (name) {
    case 'tab':
    case 'down':
      return [{ type: 'form', action: { type: 'focus', delta: 1 } }];
    case 'shift+tab':
    case 'up':
      return [{ type: 'form', action: { type: 'focus', delta: -1 } }];
    case 'left':
      return [{ type: 'form', action: { type: 'cycle', delta: -1 } }];
    case 'right':
      return [{ type: 'form', action: { type: 'cycle', delta: 1 } }];
    case 'backspace':
      return [{ type: 'form', action: { type: 'erase' } }];
    case 'enter': {
      const r = formToSpec(form);
      if (!r.ok) return [{ type: 'form', action: { type: 'error', text: r.error } }];
      return [{ type: 'run', effect: { kind: 'submitJob', node: r.node, spec: r.spec } }];
    }
  }
  if (key.ctrl || key.meta || !input || /[\x00-\x1f\x7f]/.test(input)) return [];
  if (choice) return input === ' ' ? [{ type: 'form', action: { type: 'cycle', delta: 1 } }] : [];
  return [{ type: 'form', action: { type: 'input', text: input } }];
}

