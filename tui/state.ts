// UI state of the console as a pure reducer: view stack, selection, filter, prompt, help, read-only.
// Invariants: the stack is never empty (its bottom is the root view); selection is an index that the
// views clamp to their row count, because the reducer does not see the data.
import type { JobSpecInput } from '../shared/protocol/jobs.js';
import type { CommandResult } from './commands.js';
import { reduceForm, type FormAction, type JobForm } from './job-form.js';
import { reduceModelForm, type ModelForm } from './model-form.js';
import type { AliasTarget } from '../shared/protocol/models.js';
import type { RolloutStartParams } from '../shared/protocol/rollout.js';
import type { JobStateFilter } from './render/job-row.js';
import type { Tone } from './theme.js';
import { nextSort, type SortSpec } from './render/sort.js';

/** One entry of the view stack. */
export interface Frame {
  /** View id from the registry. */
  view: string;
  /** View argument (node name for the node view). */
  arg: string | null;
  /** Selected row index (clamped by the view). */
  selected: number;
  /** Filter text; a leading "!" inverts it. */
  filter: string;
  /** View toggles (logs: wrap, timestamps, autoscroll); absent means the view's default. */
  flags?: Readonly<Record<string, boolean>>;
  /** Jobs view: which states are shown; absent means all. */
  stateFilter?: JobStateFilter;
  /** Drift-model view: the window shown ("5m", "1h", "24h"); absent means the default (1h). */
  window?: string;
  /** List views: the column sort (shift+letter); absent means the view's default order. */
  sort?: SortSpec;
}

/** What the rollout keys ask a coordinator to do. */
export type { RolloutOp } from '../shared/protocol/rollout.js';
import type { RolloutOp } from '../shared/protocol/rollout.js';

/** A change to the fleet the UI asks for; App runs it through FleetActions (the reducer only records it). */
export type Effect =
  | { kind: 'cancelJob'; node: string; id: string }
  | { kind: 'submitJob'; node: string; spec: JobSpecInput }
  | { kind: 'rollout'; op: RolloutOp; node: string; id: string }
  /** Load or unload one model version on its node (model.load / model.unload). */
  | { kind: 'model'; op: 'load' | 'unload'; node: string; name: string; version: string }
  /** Route a model name on a node (model.alias). */
  | { kind: 'alias'; node: string; name: string; targets: AliasTarget[]; reason?: string }
  /** Start a rollout coordinated by `node` (rollout.start). */
  | { kind: 'startRollout'; node: string; params: RolloutStartParams };

/** A modal on top of the view: a y/n confirmation, or the job submit form. */
export type Dialog =
  | { kind: 'confirm'; text: string; effect: Effect }
  | { kind: 'form'; form: JobForm }
  /** The traffic-split or rollout form of the models view. */
  | { kind: 'modelForm'; form: ModelForm };

/** What the prompt line is collecting. */
export type PromptMode = 'command' | 'filter';

/** The whole UI state. */
export interface UiState {
  stack: Frame[];
  prompt: PromptMode | null;
  /** Text typed at the `:` prompt (the `/` prompt edits the frame's filter directly). */
  input: string;
  help: boolean;
  readonly: boolean;
  /** One-line message (errors from commands), cleared by the next key. */
  message: string | null;
  /** Tone of the message; default 'bad'. */
  messageTone?: Tone;
  /** Open modal, or null. Keys go to it first. */
  dialog: Dialog | null;
  quit: boolean;
}

/** Every state change the UI can make. */
export type UiAction =
  | { type: 'move'; delta: number; count: number }
  | { type: 'moveTo'; index: number; count: number }
  | { type: 'push'; view: string; arg: string | null }
  | { type: 'back' }
  | { type: 'openPrompt'; mode: PromptMode }
  | { type: 'type'; text: string }
  | { type: 'backspace' }
  | { type: 'cancelPrompt' }
  | { type: 'submitPrompt'; command?: CommandResult }
  | { type: 'toggleHelp' }
  | { type: 'closeHelp' }
  | { type: 'message'; text: string | null; tone?: Tone }
  | { type: 'setFlag'; name: string; value: boolean }
  | { type: 'setStateFilter'; value: JobStateFilter }
  | { type: 'setWindow'; value: string }
  /** Sort the list by a sort id ("name", "age", …): ascending, or reversed when it is already sorted by it. */
  | { type: 'sort'; by: string }
  | { type: 'openDialog'; dialog: Dialog }
  | { type: 'closeDialog' }
  | { type: 'form'; action: FormAction }
  /** An edit of the open model form. */
  | { type: 'modelForm'; action: FormAction }
  /** Start an effect: closes a confirmation, marks the form busy. App performs it. */
  | { type: 'run'; effect: Effect }
  /** An effect finished: `error` set when it failed. */
  | { type: 'effectDone'; effect: Effect['kind']; error?: string; message?: string }
  | { type: 'quit' };

/** A fresh frame for a view. */
export function frame(view: string, arg: string | null = null): Frame {
  return { view, arg, selected: 0, filter: '' };
}

/** Initial state: the root view alone on the stack. */
export function initialState(opts: { root: string; readonly?: boolean }): UiState {
  return { stack: [frame(opts.root)], prompt: null, input: '', help: false, readonly: !!opts.readonly, message: null, dialog: null, quit: false };
}

/** The frame on top of the stack. */
export function currentFrame(s: UiState): Frame {
  return s.stack[s.stack.length - 1];
}

/** Replace the top frame. */
function withTop(s: UiState, f: (fr: Frame) => Frame): UiState {
  return { ...s, stack: [...s.stack.slice(0, -1), f(currentFrame(s))] };
}

/** Clamp a selection into [0, count-1] (0 when empty). */
export function clampIndex(i: number, count: number): number {
  return count <= 0 ? 0 : Math.max(0, Math.min(count - 1, i));
}

/** Switch views from the command line: the root alone, or root + the target (so Esc returns to root). */
function navigate(s: UiState, view: string, arg: string | null): UiState {
  const root = s.stack[0]; // keeps its selection and filter
  const stack = view === root.view && arg === null ? [root] : [root, frame(view, arg)];
  return { ...s, stack, help: false };
}

/** The UI reducer. Pure: same state and action, same result. */
export function reduce(s: UiState, a: UiAction): UiState {
  switch (a.type) {
    case 'move':
      return withTop(s, (f) => ({ ...f, selected: clampIndex(clampIndex(f.selected, a.count) + a.delta, a.count) }));
    case 'moveTo':
      return withTop(s, (f) => ({ ...f, selected: clampIndex(a.index, a.count) }));
    case 'push':
      return { ...s, stack: [...s.stack, frame(a.view, a.arg)], help: false };
    case 'back': {
      if (s.dialog) return { ...s, dialog: null };
      if (s.help) return { ...s, help: false };
      const top = currentFrame(s);
      if (top.filter) return withTop(s, (f) => ({ ...f, filter: '', selected: 0 }));
      return s.stack.length > 1 ? { ...s, stack: s.stack.slice(0, -1) } : s;
    }
    case 'openPrompt': {
      const base = { ...s, prompt: a.mode, input: '', message: null, help: false };
      return a.mode === 'filter' ? withTop(base, (f) => ({ ...f, filter: '', selected: 0 })) : base;
    }
    case 'type':
      if (s.prompt === 'filter') return withTop(s, (f) => ({ ...f, filter: f.filter + a.text, selected: 0 }));
      if (s.prompt === 'command') return { ...s, input: s.input + a.text };
      return s;
    case 'backspace':
      if (s.prompt === 'filter') return withTop(s, (f) => ({ ...f, filter: f.filter.slice(0, -1), selected: 0 }));
      if (s.prompt === 'command') return { ...s, input: s.input.slice(0, -1) };
      return s;
    case 'cancelPrompt': {
      const closed = { ...s, prompt: null, input: '' };
      return s.prompt === 'filter' ? withTop(closed, (f) => ({ ...f, filter: '', selected: 0 })) : closed;
    }
    case 'submitPrompt': {
      const closed: UiState = { ...s, prompt: null, input: '' };
      const c = a.command;
      if (s.prompt !== 'command' || !c) return closed;
      if (c.kind === 'quit') return { ...closed, quit: true };
      if (c.kind === 'error') return { ...closed, message: c.message, messageTone: 'bad' };
      if (c.kind === 'view') return navigate(closed, c.view, c.arg);
      return closed;
    }
    case 'toggleHelp':
      return { ...s, help: !s.help };
    case 'closeHelp':
      return { ...s, help: false };
    case 'message':
      return { ...s, message: a.text, messageTone: a.tone };
    case 'setFlag':
      return withTop(s, (f) => ({ ...f, flags: { ...f.flags, [a.name]: a.value } }));
    case 'setStateFilter':
      return withTop(s, (f) => ({ ...f, stateFilter: a.value, selected: 0 }));
    case 'setWindow':
      return withTop(s, (f) => ({ ...f, window: a.value }));
    case 'sort':
      return withTop(s, (f) => ({ ...f, sort: nextSort(f.sort, a.by), selected: 0 }));
    case 'openDialog':
      return { ...s, dialog: a.dialog, help: false, message: null };
    case 'closeDialog':
      return { ...s, dialog: null };
    case 'form':
      return s.dialog?.kind === 'form' ? { ...s, dialog: { kind: 'form', form: reduceForm(s.dialog.form, a.action) } } : s;
    case 'modelForm':
      return s.dialog?.kind === 'modelForm' ? { ...s, dialog: { kind: 'modelForm', form: reduceModelForm(s.dialog.form, a.action) } } : s;
    case 'run':
      if (s.dialog?.kind === 'modelForm') return { ...s, dialog: { kind: 'modelForm', form: reduceModelForm(s.dialog.form, { type: 'busy', value: true }) } };
      if (s.dialog?.kind === 'form') return { ...s, dialog: { kind: 'form', form: reduceForm(s.dialog.form, { type: 'busy', value: true }) } };
      return { ...s, dialog: null };
    case 'effectDone': {
      // A refused submit keeps the form open with the agent's message; everything else reports on the message line.
      if (a.effect === 'submitJob' && s.dialog?.kind === 'form') {
        if (a.error) return { ...s, dialog: { kind: 'form', form: reduceForm(s.dialog.form, { type: 'error', text: a.error }) } };
        return { ...s, dialog: null, message: a.message ?? null, messageTone: 'ok' };
      }
      // Likewise a refused rollout start keeps its form open with the coordinator's message.
      if (a.effect === 'startRollout' && s.dialog?.kind === 'modelForm') {
        if (a.error) return { ...s, dialog: { kind: 'modelForm', form: reduceModelForm(s.dialog.form, { type: 'error', text: a.error }) } };
        return { ...s, dialog: null, message: a.message ?? null, messageTone: 'ok' };
      }
      return { ...s, message: a.error ?? a.message ?? null, messageTone: a.error ? 'bad' : 'ok' };
    }
    case 'quit':
      return { ...s, quit: true };
  }
}

/** A view toggle of a frame, or `dflt` when never set. */
export function flag(f: Frame, name: string, dflt: boolean): boolean {
  return f.flags?.[name] ?? dflt;
}

/** Does `text` pass `filter`? Case-insensitive substring; a leading "!" inverts; empty passes all. */
export function matchFilter(text: string, filter: string): boolean {
  const invert = filter.startsWith('!');
  const needle = (invert ? filter.slice(1) : filter).trim().toLowerCase();
  if (!needle) return true;
  const hit = text.toLowerCase().includes(needle);
  return invert ? !hit : hit;
}
