// The harness the TUI view tests share: render the App against fake agents, read its frame, send it keys.
import { render } from 'ink-testing-library';
import { expect, onTestFinished } from 'vitest';
import { App } from '../../tui/App.js';
import { FakeFleetSource } from './fixtures.js';

export type AppProps = Parameters<typeof App>[0];
export interface TermSize { rows: number; columns: number }

/** Lets Ink handle input and redraw. */
export const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

export const ENTER = '\r';
export const ESC = '\x1b';
export const TAB = '\t';
export const SHIFT_TAB = '\x1b[Z';
export const DOWN = '\x1b[B';
export const RIGHT = '\x1b[C';
export const CTRL_A = '\x01';
export const CTRL_D = '\x04';

let mounted: (() => void)[] = [];

/** Unmounts every App rendered so far; runs by itself when each test finishes. */
export function unmountAll(): void {
  for (const u of mounted) u();
  mounted = [];
}

/**
 * Renders the App (by default: the fixture fleet, no colour, title "lab"; `props` win) in a terminal of `size`, and waits for
 * the first frame. Returns ink-testing-library's handle plus `frame()` (the last frame, '' if none), `type(...keys)` (each key
 * then a tick) and `fits()` (expects the frame to stay inside the terminal).
 */
export async function renderApp(props: Partial<AppProps> = {}, size: TermSize = { rows: 24, columns: 80 }) {
  const source = props.source ?? new FakeFleetSource();
  const r = render(<App source={source} size={size} color={false} title="lab" {...props} />);
  mounted.push(r.unmount);
  onTestFinished(unmountAll);
  await tick();
  const type = async (...keys: string[]) => {
    for (const k of keys) {
      r.stdin.write(k);
      await tick();
    }
  };
  const frame = () => r.lastFrame() ?? '';
  const fits = () => {
    const lines = frame().split('\n');
    expect(lines.length).toBeLessThanOrEqual(size.rows - 1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(size.columns);
  };
  return { ...r, source, type, frame, fits };
}
