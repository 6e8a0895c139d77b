import { Box, useApp, useInput, type Key } from 'ink';
import { useEffect, useMemo, useReducer, useRef } from 'react';
import type { FleetActions, FleetNode, FleetSource } from '../shared/client/fleet-types.js';
import { parseCommand } from './commands.js';
import { Footer } from './components/Footer.js';
import { Header } from './components/Header.js';
import { HelpView } from './components/HelpView.js';
import { JobFormView } from './components/JobFormView.js';
import { Line } from './components/Line.js';
import { PromptLine } from './components/PromptLine.js';
import { driftActions, frameWindow } from './drift-keys.js';
import type { DriftFeed } from './drift-poller.js';
import { dialogActions, jobActions } from './job-keys.js';
import { rolloutActions } from './rollout-keys.js';
import { footerHolds } from './footer-conditions.js';
import { modelActions, modelFormActions } from './model-keys.js';
import { isModelEffect, runModelEffect } from './model-effects.js';
import { sortActions } from './sort-keys.js';
import { ModelFormView } from './components/ModelFormView.js';
import { rolloutTitle, stepOf } from '../shared/protocol/rollout-view.js';
import { shortRolloutId } from './render/rollout-row.js';
import { KEYMAP, activeBindings, keyName, resolveKey, type KeyBinding } from './keymap.js';
import { shortJobId } from './render/job-row.js';
import { clampIndex, currentFrame, initialState, reduce, type Effect, type UiAction, type UiState } from './state.js';
import { colorEnabled, type Theme } from './theme.js';
import { useFleet, useTerminalSize, type TermSize } from './use-fleet.js';
import { useDriftFeed } from './use-drift.js';
import { useJobLogs, type LogFeed } from './use-job-logs.js';
import { resourceReaderOf, type ResourceReader } from './resource-poller.js';
import { useNodeResources } from './use-node-resources.js';
import { VIEWS, viewSpec } from './views/registry.js';
import type { ViewSpec } from './views/types.js';

/** Props of App. */
export interface AppProps {
  /** The fleet to show (read-only, observable). */
  source: FleetSource;
  /** What the console may ask the fleet to do (submit, cancel, follow logs). Default none: keys that need it are hidden. */
  actions?: FleetActions;
  /** Reads node.resources (the submit form's drivers, the node view's Slurm line). Default: through `actions` when it is
   * the fleet client (FleetClient.client), else none (the form offers every driver). */
  resources?: ResourceReader;
  /** Hide and disable dangerous bindings. Default false. */
  readonly?: boolean;
  /** Cluster name in the header. Default "cluster". */
  title?: string;
  /** Called once when the user quits (q, ctrl-c, :q). */
  onQuit?: () => void;
  /** Terminal size override (tests); default: measured from stdout, updated on resize. */
  size?: TermSize;
  /** Colours on/off; default: on unless NO_COLOR is set. */
  color?: boolean;
  /** Keymap; default KEYMAP. */
  keymap?: readonly KeyBinding[];
  /** View registry; default VIEWS (the first is the root). */
  views?: readonly ViewSpec[];
}

/** Smallest terminal the console draws in; below it a one-line notice is shown. */
const MIN_ROWS = 6;
const MIN_COLS = 40;

/** Map a key to reducer actions (pure apart from reading the current view's items). */
function actionsFor(input: string, key: Key, s: UiState, bindings: readonly KeyBinding[], spec: ViewSpec, items: string[], page: number, routes: readonly ViewSpec[], nodes: readonly FleetNode[]): UiAction[] {
  const name = keyName(input, key);
  if (name === 'ctrl+c') return [{ type: 'quit' }];
  if (s.dialog?.kind === 'modelForm') return modelFormActions(name, input, key, s.dialog.form);
  if (s.dialog) return dialogActions(name, input, key, s.dialog);
  if (s.prompt) {
    if (name === 'esc') return [{ type: 'cancelPrompt' }];
    if (name === 'enter') return [{ type: 'submitPrompt', command: s.prompt === 'command' ? parseCommand(s.input, routes) : undefined }];
    if (name === 'backspace') return [{ type: 'backspace' }];
    if (!key.ctrl && !key.meta && input && !/[\x00-\x1f\x7f]/.test(input)) return [{ type: 'type', text: input }];
    return [];
  }
  const pre: UiAction[] = s.message ? [{ type: 'message', text: null }] : [];
  if (s.help && (name === 'esc' || name === '?')) return [...pre, { type: 'closeHelp' }];
  const count = items.length;
  const sel = clampIndex(currentFrame(s).selected, count);
  const id = resolveKey(name, bindings);
  const job = jobActions(id, s, { nodes, item: items[sel], count, page });
  if (job) return [...pre, ...job];
  const drift = driftActions(id, s, items[sel]);
  if (drift) return [...pre, ...drift];
  const rollout = rolloutActions(id, s, { nodes, item: items[sel] });
  if (rollout) return [...pre, ...rollout];
  const model = modelActions(id, s, { nodes, item: items[sel] });
  if (model) return [...pre, ...model];
  const sort = sortActions(id);
  if (sort) return [...pre, ...sort];
  switch (id) {
    case 'quit': return [{ type: 'quit' }];
    case 'help': return [...pre, { type: 'toggleHelp' }];
    case 'command': return [{ type: 'openPrompt', mode: 'command' }];
    case 'filter': return [{ type: 'openPrompt', mode: 'filter' }];
    case 'back': return [...pre, { type: 'back' }];
    case 'up': return [...pre, { type: 'move', delta: -1, count }];
    case 'down': return [...pre, { type: 'move', delta: 1, count }];
    case 'pageUp': return [...pre, { type: 'move', delta: -page, count }];
    case 'pageDown': return [...pre, { type: 'move', delta: page, count }];
    case 'top': return [...pre, { type: 'moveTo', index: 0, count }];
    case 'bottom': return [...pre, { type: 'moveTo', index: count - 1, count }];
    case 'drill': {
      const to = count > 0 && spec.drill ? spec.drill(items[sel], currentFrame(s)) : null;
      return to ? [...pre, { type: 'push', view: to.view, arg: to.arg }] : pre;
    }
    default: return pre;
  }
}

/** A keypress with no flag set (a plain character). */
function plainKey(key: Key): Key {
  return Object.fromEntries(Object.entries(key).map(([k, v]) => [k, typeof v === 'boolean' ? false : v])) as unknown as Key;
}

/**
 * One keypress per character of `input`. Keys typed faster than the terminal is read (over SSH, in tmux,
 * a paste) reach Ink as one chunk ("/gpu", ":node gpu01\r"); handled whole, that chunk matched no binding
 * and was dropped. A chunk that is a single key, or carries ctrl/meta, is passed through as is.
 */
export function splitKeys(input: string, key: Key): [string, Key][] {
  const chars = Array.from(input);
  if (chars.length <= 1 || key.ctrl || key.meta) return [[input, key]];
  const plain = plainKey(key);
  return chars.map((ch): [string, Key] => {
    if (ch === '\r' || ch === '\n') return ['', { ...plain, return: true }];
    if (ch === '\x7f' || ch === '\b') return ['', { ...plain, backspace: true }];
    if (ch === '\t') return ['', { ...plain, tab: true }];
    if (ch === '\x03') return ['c', { ...plain, ctrl: true }];
    return [ch, plain];
  });
}

/**
 * The console: header, prompt/status line, the current view, footer. Every frame is at most
 * rows-1 lines (a frame as tall as the terminal makes Ink clear the screen on each redraw).
 */
export function App({ source, actions, resources, readonly = false, title = 'cluster', onQuit, size, color, keymap = KEYMAP, views = VIEWS }: AppProps) {
  const reader = useMemo(() => resources ?? resourceReaderOf(actions), [resources, actions]);
  const nodes = useNodeResources(reader, useFleet(source));
  const { rows, columns } = useTerminalSize(size);
  const { exit } = useApp();
  const [state, dispatch] = useReducer(reduce, undefined, () => initialState({ root: views[0].id, readonly }));
  const theme: Theme = useMemo(() => ({ color: color ?? colorEnabled() }), [color]);
  const frame = currentFrame(state);
  const spec = viewSpec(frame.view, views);
  const canAct = !!actions;
  const bindings = activeBindings(keymap, { view: spec.id, readonly: state.readonly, actions: canAct });
  // The followed job's output; subscribed while the logs view is on top, disposed when it is left.
  const logs = useJobLogs(actions, frame.view === 'logs' ? frame.arg : null);
  // The open version's drift; polled while the drift-model view is on top, stopped when it is left.
  const drift = useDriftFeed(actions, frame.view === 'drift-model' ? frame.arg : null, frameWindow(state), frame.selected);
  const items = spec.items(nodes, frame, logs, drift);
  const selected = clampIndex(frame.selected, items.length);
  const height = Math.max(1, rows - 1);
  const width = Math.max(1, columns);
  const bodyHeight = Math.max(0, height - 3);

  // The state the next key applies to: the rendered state, plus what keys handled since then changed
  // (several keys can arrive before React renders again).
  const live = useRef(state);
  live.current = state;
  // The feeds the next key sees (items of the logs and drift-model views come from them).
  const feeds = useRef<{ logs: LogFeed; drift: DriftFeed }>({ logs, drift });
  feeds.current = { logs, drift };

  // Effects the reducer recorded ('run'); their outcome comes back as one 'effectDone'. Errors are the agent's message.
  const perform = (e: Effect) => {
    if (!actions) return dispatch({ type: 'effectDone', effect: e.kind, error: 'this console cannot change the fleet (started without a connection)' });
    if (e.kind === 'rollout') {
      const call = { pause: actions.pauseRollout, resume: actions.resumeRollout, promote: actions.promoteRollout, abort: actions.abortRollout }[e.op];
      call.call(actions, e.node, e.id).then(
        (r) => dispatch({ type: 'effectDone', effect: e.kind, message: `${e.op} sent: rollout ${shortRolloutId(r.id)} (${rolloutTitle(r)}) on ${e.node} is ${r.state} at step ${stepOf(r)}` }),
        (err: unknown) => dispatch({ type: 'effectDone', effect: e.kind, error: `${e.op} refused by ${e.node}: ${err instanceof Error ? err.message : String(err)}` }),
      );
      return;
    }
    if (isModelEffect(e)) {
      void runModelEffect(actions, e).then((r) => dispatch({ type: 'effectDone', effect: e.kind, ...r }));
      return;
    }
    const p = e.kind === 'cancelJob' ? actions.cancelJob(e.node, e.id) : actions.submitJob(e.node, e.spec);
    p.then(
      (job) => dispatch({ type: 'effectDone', effect: e.kind, message: e.kind === 'cancelJob' ? `cancelling job ${shortJobId(job.id)} on ${e.node} (${job.state})` : `submitted job ${shortJobId(job.id)} on ${e.node} (${job.state}${job.reason ? `: ${job.reason}` : ''})` }),
      (err: unknown) => dispatch({ type: 'effectDone', effect: e.kind, error: `${e.kind === 'cancelJob' ? 'cancel' : 'submit'} refused by ${e.node}: ${err instanceof Error ? err.message : String(err)}` }),
    );
  };
  useInput((input, key) => {
    let s = live.current;
    for (const [ch, k] of splitKeys(input, key)) {
      const f = currentFrame(s);
      const sp = viewSpec(f.view, views);
      const bs = activeBindings(keymap, { view: sp.id, readonly: s.readonly, actions: canAct });
      for (const a of actionsFor(ch, k, s, bs, sp, sp.items(nodes, f, feeds.current.logs, feeds.current.drift), Math.max(1, bodyHeight - 2), views, nodes)) {
        s = reduce(s, a);
        dispatch(a);
        if (a.type === 'run') perform(a.effect);
      }
    }
    live.current = s;
  });

  useEffect(() => {
    if (!state.quit) return;
    onQuit?.();
    exit();
  }, [state.quit]);

  if (rows < MIN_ROWS || columns < MIN_COLS) {
    return <Line text={`terminal too small (${columns}×${rows}); need ${MIN_COLS}×${MIN_ROWS}`} width={width} theme={theme} />;
  }
  const crumb = state.stack.map((f) => (f.arg ? f.arg : f.view)).join(' › ');
  const View = spec.Component;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header title={title} nodes={nodes} crumb={crumb} readonly={state.readonly} width={width} theme={theme} />
      <PromptLine state={state} status={spec.title(frame)} width={width} theme={theme} />
      <Box flexDirection="column" height={bodyHeight} overflow="hidden">
        {state.dialog?.kind === 'modelForm' ? (
          <ModelFormView form={state.dialog.form} height={bodyHeight} width={width} theme={theme} />
        ) : state.dialog?.kind === 'form' ? (
          <JobFormView form={state.dialog.form} height={bodyHeight} width={width} theme={theme} />
        ) : state.help ? (
          <HelpView bindings={bindings} routes={views} height={bodyHeight} width={width} theme={theme} />
        ) : (
          <View nodes={nodes} frame={frame} selected={selected} height={bodyHeight} width={width} theme={theme} logs={logs} drift={drift} />
        )}
      </Box>
      <Footer bindings={bindings} width={width} theme={theme} holds={footerHolds(state, { nodes, item: items[selected] })} />
    </Box>
  );
}
