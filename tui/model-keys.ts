// Keys of the models views as pure functions from (action id, state, data) to reducer actions: load and unload ask
// y/n, `a` opens the traffic-split form (Enter asks y/n), `r` the rollout form (Enter starts it). All change the node,
// so read-only mode drops them (keymap: dangerous); a console without FleetActions does not offer them.
import type { Key } from 'ink';
import type { FleetNode } from '../shared/client/fleet-types.js';
import type { ActionId } from './keymap.js';
import { aliasFormToParams, modelFormFields, newAliasForm, newRolloutForm, rolloutFormToParams, type ModelForm } from './model-form.js';
import { findModel } from './render/model-row.js';
import { isStale } from './render/stale.js';
import { currentFrame, type UiAction, type UiState } from './state.js';

const MODEL_ACTIONS = new Set(['loadModel', 'unloadModel', 'aliasModel', 'startRollout']);

/** "a 90% · b 10%" */
const splitText = (ts: readonly { version: string; weight: number }[]) => ts.map((t) => `${t.version} ${t.weight}%`).join(' · ');

/**
 * Reducer actions for a models action id, or null when the id is not one of them. The version is the selected row
 * (`item`, "node/name@version") in :models, the frame's own in the detail view. A version on a node the console cannot
 * reach, or one already (un)loaded, gets a message instead of a call.
 */
export function modelActions(id: ActionId | null, s: UiState, ctx: { nodes: readonly FleetNode[]; item: string | undefined }): UiAction[] | null {
  if (!id || !MODEL_ACTIONS.has(id)) return null;
  const f = currentFrame(s);
  const key = f.view === 'models' ? ctx.item ?? null : f.arg;
  const e = findModel(ctx.nodes, key);
  if (!e) return [{ type: 'message', text: key ? `model ${key} is not known (yet); wait for its node to report it` : 'select a model version first' }];
  const node = ctx.nodes.find((n) => n.name === e.node);
  const m = e.model;
  const what = `${m.name}@${m.version} on ${e.node}`;
  if (node && isStale(node)) return [{ type: 'message', text: `${e.node} is unreachable (${node.conn}); ${what} cannot change until it is back` }];
  switch (id) {
    case 'loadModel':
      if (m.loaded) return [{ type: 'message', text: `${what} is loaded already; <u> unloads it` }];
      return [{ type: 'openDialog', dialog: { kind: 'confirm', text: `Load ${what} (into memory, warmed up)? y/n`, effect: { kind: 'model', op: 'load', node: e.node, name: m.name, version: m.version } } }];
    case 'unloadModel': {
      if (!m.loaded) return [{ type: 'message', text: `${what} is not loaded; <l> loads it` }];
      const serving = node?.aliases?.find((a) => a.name === m.name)?.targets.some((t) => t.version === m.version && t.weight > 0);
      const warn = serving ? ' It serves traffic: its next request loads it again.' : '';
      return [{ type: 'openDialog', dialog: { kind: 'confirm', text: `Unload ${what}?${warn} y/n`, effect: { kind: 'model', op: 'unload', node: e.node, name: m.name, version: m.version } } }];
    }
    case 'aliasModel':
      return [{ type: 'openDialog', dialog: { kind: 'modelForm', form: newAliasForm(e.node, m.name, m.version, node?.aliases?.find((a) => a.name === m.name)?.targets) } }];
    default:
      return [{ type: 'openDialog', dialog: { kind: 'modelForm', form: newRolloutForm(e.node, m.name, m.version) } }];
  }
}

/** Reducer actions for a key while a model form is open (it takes every key but ctrl-c). */
export function modelFormActions(name: string, input: string, key: Key, form: ModelForm): UiAction[] {
  if (name === 'esc') return [{ type: 'closeDialog' }];
  if (form.busy) return [];
  const field = modelFormFields(form)[form.focus];
  switch (name) {
    case 'tab': case 'down': return [{ type: 'modelForm', action: { type: 'focus', delta: 1 } }];
    case 'shift+tab': case 'up': return [{ type: 'modelForm', action: { type: 'focus', delta: -1 } }];
    case 'left': return [{ type: 'modelForm', action: { type: 'cycle', delta: -1 } }];
    case 'right': return [{ type: 'modelForm', action: { type: 'cycle', delta: 1 } }];
    case 'backspace': return [{ type: 'modelForm', action: { type: 'erase' } }];
    case 'enter': {
      if (form.kind === 'alias') {
        const r = aliasFormToParams(form);
        if (!r.ok) return [{ type: 'modelForm', action: { type: 'error', text: r.error } }];
        const text = `Route ${form.name} on ${form.node}: ${splitText(r.targets)}? y/n`;
        return [{ type: 'openDialog', dialog: { kind: 'confirm', text, effect: { kind: 'alias', node: form.node, name: form.name, targets: r.targets, ...(r.reason ? { reason: r.reason } : {}) } } }];
      }
      const r = rolloutFormToParams(form);
      if (!r.ok) return [{ type: 'modelForm', action: { type: 'error', text: r.error } }];
      return [{ type: 'run', effect: { kind: 'startRollout', node: form.node, params: r.params } }];
    }
  }
  if (key.ctrl || key.meta || !input || /[\x00-\x1f\x7f]/.test(input)) return [];
  if (field.choices) return input === ' ' ? [{ type: 'modelForm', action: { type: 'cycle', delta: 1 } }] : [];
  return [{ type: 'modelForm', action: { type: 'input', text: input } }];
}
