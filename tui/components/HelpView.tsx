import { Box } from 'ink';
import type { ViewRoute } from '../commands.js';
import { helpRows, type KeyBinding } from '../keymap.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** Props of HelpView. */
export interface HelpViewProps {
  bindings: readonly KeyBinding[];
  routes: readonly ViewRoute[];
  height: number;
  width: number;
  theme: Theme;
}

/** Help lines generated from the keymap and the view registry (pure; exported for tests). */
export function helpLines(bindings: readonly KeyBinding[], routes: readonly ViewRoute[]): string[] {
  const keys = helpRows(bindings).map(([k, d]) => `  ${k.padEnd(16)} ${d}`);
  const cmds = routes.map((r) => {
    const names = [r.id, ...r.aliases.filter((a) => a !== r.id)].map((a) => `:${a}`).join(' ');
    return `  ${(r.arg === 'required' ? `${names} ${(r.argName ?? 'ARG').toUpperCase().replace(/ /g, '_')}` : names).padEnd(28)} ${r.id} view`;
  });
  return ['KEYS', ...keys, 'COMMANDS', ...cmds, '  :q                           quit', 'FILTER  /text matches rows, /!text hides them; <esc> clears'];
}

/** The `?` screen, cut to `height` lines. */
export function HelpView({ bindings, routes, height, width, theme }: HelpViewProps) {
  const lines = helpLines(bindings, routes).slice(0, Math.max(0, height));
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        <Line key={i} text={l} width={width} theme={theme} bold={!l.startsWith(' ')} />
      ))}
    </Box>
  );
}
