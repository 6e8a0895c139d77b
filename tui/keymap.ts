// Keybindings are data: the input handler, the footer and the help screen are all derived from KEYMAP.
// `--readonly` drops every binding flagged `dangerous` (k9s convention), so the key neither works nor shows.
import type { Key } from 'ink';

/** Built-in actions; views added later may declare their own ids. */
export type CoreAction =
  | 'quit' | 'help' | 'command' | 'filter' | 'drill' | 'back'
  | 'up' | 'down' | 'pageUp' | 'pageDown' | 'top' | 'bottom';

/** An action id: a core action or one a plugged-in view declares. */
export type ActionId = CoreAction | (string & {});

/** One keybinding. */
export interface KeyBinding {
  /** Normalised key names (see keyName): "q", "ctrl+c", "enter", "esc", "up", "pgdn", "G", … */
  keys: string[];
  /** Shown in the footer and in help. */
  description: string;
  /** What the key does. */
  action: ActionId;
  /** Changes the fleet (delete, cancel, drain…): removed in read-only mode. */
  dangerous?: boolean;
  /** View ids where the binding applies; all views when omitted. */
  views?: string[];
  /** Show in the one-line footer (help always lists every binding). */
  footer?: boolean;
  /** Needs FleetActions (logs, cancel, submit): removed when the console was started without them. */
  usesActions?: boolean;
  /**
   * Shown in the footer only while this condition holds for the selected item (e.g. a rollout that can still be
   * paused). The key still answers when it does not, with a message saying why nothing happens.
   */
  when?: FooterCondition;
}

/** Conditions a footer hint may depend on (computed by the views from the selected item). */
export type FooterCondition =
  | 'rollout:pausable' | 'rollout:resumable' | 'rollout:promotable' | 'rollout:abortable'
  /** The job in view is queued, starting or running (cancel applies). */
  | 'job:cancellable'
  /** The job in view has started, so it has (or is writing) output (logs apply). */
  | 'job:hasOutput'
  /** The version in view is not loaded, on a reachable node. */
  | 'model:loadable'
  /** The version in view is loaded, on a reachable node. */
  | 'model:unloadable'
  /** The version in view is on a node the console can reach (alias, rollout). */
  | 'model:reachable';

/** Views whose rows sort by column (shift+letter); each sort key below lists the ones that have that column. */
const LISTS = ['jobs', 'models', 'drift', 'rollouts', 'auto'];

/** The default keymap of the console. */
export const KEYMAP: readonly KeyBinding[] = [
  { keys: [':'], description: 'command', action: 'command', footer: true },
  { keys: ['/'], description: 'filter', action: 'filter', footer: true },
  { keys: ['enter'], description: 'open', action: 'drill', footer: true, views: ['cluster', 'jobs', 'models', 'drift', 'rollouts', 'auto'] },
  // Jobs (views: jobs list, job detail, logs). View-scoped keys come before the global ones so the footer shows them.
  { keys: ['l'], description: 'logs', action: 'logs', footer: true, views: ['jobs', 'job-detail'], usesActions: true, when: 'job:hasOutput' },
  { keys: ['ctrl+d'], description: 'cancel', action: 'cancelJob', footer: true, views: ['jobs', 'job-detail', 'logs'], dangerous: true, usesActions: true, when: 'job:cancellable' },
  { keys: ['n'], description: 'new job', action: 'newJob', footer: true, views: ['jobs'], dangerous: true, usesActions: true },
  { keys: ['f'], description: 'states: all/active/finished/failed', action: 'stateFilter', views: ['jobs'] },
  { keys: ['s'], description: 'autoscroll', action: 'autoscroll', footer: true, views: ['logs'] },
  { keys: ['w'], description: 'wrap', action: 'wrap', footer: true, views: ['logs'] },
  { keys: ['t'], description: 'timestamps', action: 'timestamps', footer: true, views: ['logs'] },
  // Drift (views: models list and detail, the :drift list, one version's drift). Reads only: never dangerous.
  { keys: ['d'], description: 'drift', action: 'drift', footer: true, views: ['models', 'model-detail'], usesActions: true },
  // Models (views: the models list and one version). Each changes the node: dangerous, gone in read-only mode; load,
  // unload and the traffic split ask y/n first, the rollout form is its own confirmation (Enter starts it).
  { keys: ['l'], description: 'load', action: 'loadModel', footer: true, views: ['models', 'model-detail'], dangerous: true, usesActions: true, when: 'model:loadable' },
  { keys: ['u'], description: 'unload', action: 'unloadModel', footer: true, views: ['models', 'model-detail'], dangerous: true, usesActions: true, when: 'model:unloadable' },
  { keys: ['a'], description: 'traffic', action: 'aliasModel', footer: true, views: ['models', 'model-detail'], dangerous: true, usesActions: true, when: 'model:reachable' },
  { keys: ['r'], description: 'rollout', action: 'startRollout', footer: true, views: ['models', 'model-detail'], dangerous: true, usesActions: true, when: 'model:reachable' },
  { keys: ['w'], description: 'window 5m/1h/24h', action: 'driftWindow', footer: true, views: ['drift-model'] },
  // Rollouts (views: the :rollouts list and one rollout). Every key changes the fleet: dangerous, gone in read-only
  // mode; promote and abort ask y/n first.
  { keys: ['p'], description: 'pause', action: 'pauseRollout', footer: true, views: ['rollouts', 'rollout-detail'], dangerous: true, usesActions: true, when: 'rollout:pausable' },
  { keys: ['r'], description: 'resume', action: 'resumeRollout', footer: true, views: ['rollouts', 'rollout-detail'], dangerous: true, usesActions: true, when: 'rollout:resumable' },
  { keys: ['P'], description: 'promote', action: 'promoteRollout', footer: true, views: ['rollouts', 'rollout-detail'], dangerous: true, usesActions: true, when: 'rollout:promotable' },
  { keys: ['ctrl+a'], description: 'abort', action: 'abortRollout', footer: true, views: ['rollouts', 'rollout-detail'], dangerous: true, usesActions: true, when: 'rollout:abortable' },
  // Sort by column (k9s: shift+letter; the same key again reverses). Not N/O/S/A/V/R/E anywhere else; G is bottom, P promote.
  { keys: ['N'], description: 'sort by name (again: reverse)', action: 'sort:name', views: LISTS },
  { keys: ['O'], description: 'sort by node (again: reverse)', action: 'sort:node', views: LISTS },
  { keys: ['S'], description: 'sort by state (again: reverse)', action: 'sort:state', views: ['jobs', 'drift', 'rollouts', 'auto'] },
  { keys: ['A'], description: 'sort by age (again: reverse)', action: 'sort:age', views: ['jobs', 'models', 'rollouts', 'auto'] },
  { keys: ['V'], description: 'sort by version (again: reverse)', action: 'sort:version', views: ['models', 'drift'] },
  { keys: ['R'], description: 'sort by requests/s (again: reverse)', action: 'sort:rate', views: ['models'] },
  { keys: ['E'], description: 'sort by errors (again: reverse)', action: 'sort:errors', views: ['models'] },
  { keys: ['esc'], description: 'back', action: 'back', footer: true },
  { keys: ['?'], description: 'help', action: 'help', footer: true },
  { keys: ['q', 'ctrl+c'], description: 'quit', action: 'quit', footer: true },
  { keys: ['up', 'k'], description: 'up', action: 'up' },
  { keys: ['down', 'j'], description: 'down', action: 'down' },
  { keys: ['pgup', 'ctrl+b'], description: 'page up', action: 'pageUp' },
  { keys: ['pgdn', 'ctrl+f'], description: 'page down', action: 'pageDown' },
  { keys: ['home', 'g'], description: 'top', action: 'top' },
  { keys: ['end', 'G'], description: 'bottom', action: 'bottom' },
];

/** Normalise an Ink keypress to a key name used in KeyBinding.keys ("ctrl+c", "enter", "esc", "G", …). */
export function keyName(input: string, key: Partial<Key>): string {
  if (key.return) return 'enter';
  if (key.escape) return 'esc';
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pgup';
  if (key.pageDown) return 'pgdn';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.tab) return key.shift ? 'shift+tab' : 'tab';
  if (key.backspace || key.delete) return 'backspace';
  if (key.ctrl) return `ctrl+${input.toLowerCase()}`;
  return input;
}

/** Filter for the bindings in effect. */
export interface BindingContext {
  /** Current view id. */
  view: string;
  /** Read-only mode: dangerous bindings are removed. */
  readonly: boolean;
  /** FleetActions are available; when false, bindings that use them are removed. Default true. */
  actions?: boolean;
}

/** The bindings in effect for a view; dangerous ones vanish in read-only mode, action ones without actions. */
export function activeBindings(keymap: readonly KeyBinding[], ctx: BindingContext): KeyBinding[] {
  return keymap.filter((b) => !(ctx.readonly && b.dangerous) && !(ctx.actions === false && b.usesActions) && (!b.views || b.views.includes(ctx.view)));
}

/** The action a key name triggers among `bindings`, or null. */
export function resolveKey(name: string, bindings: readonly KeyBinding[]): ActionId | null {
  return bindings.find((b) => b.keys.includes(name))?.action ?? null;
}

/** Key names as the user reads them ("<enter>", "q/<ctrl+c>"). */
export function keyLabel(b: KeyBinding): string {
  return b.keys.map((k) => (k.length > 1 ? `<${k}>` : k)).join('/');
}

/** Help rows [keys, description], generated from the bindings; dangerous ones are marked. */
export function helpRows(bindings: readonly KeyBinding[]): [string, string][] {
  return bindings.map((b) => [keyLabel(b), b.dangerous ? `${b.description} (dangerous)` : b.description]);
}

/**
 * The one-line footer ("<:> command  </> filter …") cut to `width` at a whole hint; a hint with a `when` shows only
 * while `holds` says its condition is met (all of them by default).
 */
export function footerText(bindings: readonly KeyBinding[], width: number, holds: (c: FooterCondition) => boolean = () => true): string {
  let out = '';
  for (const b of bindings.filter((x) => x.footer && (!x.when || holds(x.when)))) {
    const hint = `<${b.keys[0]}> ${b.description}`;
    const next = out ? `${out}  ${hint}` : hint;
    if (next.length > width) break;
    out = next;
  }
  return out;
}
