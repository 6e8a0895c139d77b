import { Box, useApp, useInput, type Key } from 'ink';
import { useEffect, useMemo, useReducer } from 'react';
import type { FleetSource } from '../shared/client/fleet-types.js';
import { parseCommand } from './commands.js';
import { Footer } from './components/Footer.js';
import { Header } from './components/Header.js';
import { HelpView } from './components/HelpView.js';
import { Line } from './components/Line.js';
import { PromptLine } from './components/PromptLine.js';
import { KEYMAP, activeBindings, keyName, resolveKey, type KeyBinding } from './keymap.js';
import { clampIndex, currentFrame, initialState, reduce, type UiAction, type UiState } from './state.js';
import { colorEnabled, type Theme } from './theme.js';
import { useFleet, useTerminalSize, type TermSize } from './use-fleet.js';
import { VIEWS, viewSpec } from './views/registry.js';
import type { ViewSpec } from './views/types.js';

/** Props of App. */
export interface AppProps {
  /** The fleet to show (read-only, observable). */
  source: FleetSource;
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
function actionsFor(input: string, key: Key, s: UiState, bindings: readonly KeyBinding[], spec: ViewSpec, items: string[], page: number, routes: readonly ViewSpec[]): UiAction[] {
  const name = keyName(input, key);
  if (name === 'ctrl+c') return [{ type: 'quit' }];
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
  switch (resolveKey(name, bindings)) {
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

/**
 * The console: header, prompt/status line, the current view, footer. Every frame is at most
 * rows-1 lines (a frame as tall as the terminal makes Ink clear the screen on each redraw).
 */
export function App({ source, readonly = false, title = 'cluster', onQuit, size, color, keymap = KEYMAP, views = VIEWS }: AppProps) {
  const nodes = useFleet(source);
  const { rows, columns } = useTerminalSize(size);
  const { exit } = useApp();
  const [state, dispatch] = useReducer(reduce, undefined, () => initialState({ root: views[0].id, readonly }));
  const theme: Theme = useMemo(() => ({ color: color ?? colorEnabled() }), [color]);
  const frame = currentFrame(state);
  const spec = viewSpec(frame.view, views);
  const bindings = activeBindings(keymap, { view: spec.id, readonly: state.readonly });
  const items = spec.items(nodes, frame);
  const selected = clampIndex(frame.selected, items.length);
  const height = Math.max(1, rows - 1);
  const width = Math.max(1, columns);
  const bodyHeight = Math.max(0, height - 3);

  useInput((input, key) => {
    for (const a of actionsFor(input, key, state, bindings, spec, items, Math.max(1, bodyHeight - 2), views)) dispatch(a);
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
        {state.help ? (
          <HelpView bindings={bindings} routes={views} height={bodyHeight} width={width} theme={theme} />
        ) : (
          <View nodes={nodes} frame={frame} selected={selected} height={bodyHeight} width={width} theme={theme} />
        )}
      </Box>
      <Footer bindings={bindings} width={width} theme={theme} />
    </Box>
  );
}
