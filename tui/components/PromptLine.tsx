import type { UiState } from '../state.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** Props of PromptLine. */
export interface PromptLineProps {
  state: UiState;
  /** Shown when no prompt or message is active (view title, filter). */
  status: string;
  width: number;
  theme: Theme;
}

/** The line under the header: the `:` or `/` prompt while typing, a y/n question, else the last message, else the view status. */
export function PromptLine({ state, status, width, theme }: PromptLineProps) {
  if (state.prompt === 'command') return <Line text={`:${state.input}█`} width={width} theme={theme} tone="accent" />;
  if (state.prompt === 'filter') {
    const f = state.stack[state.stack.length - 1].filter;
    return <Line text={`/${f}█`} width={width} theme={theme} tone="accent" />;
  }
  if (state.dialog?.kind === 'confirm') return <Line text={state.dialog.text} width={width} theme={theme} tone="warn" bold />;
  if (state.message) return <Line text={state.message} width={width} theme={theme} tone={state.messageTone ?? 'bad'} />;
  return <Line text={status} width={width} theme={theme} tone="dim" />;
}
