import { footerText, type KeyBinding } from '../keymap.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** Props of Footer. */
export interface FooterProps {
  bindings: readonly KeyBinding[];
  width: number;
  theme: Theme;
}

/** The bottom line: key hints generated from the bindings in effect. */
export function Footer({ bindings, width, theme }: FooterProps) {
  return <Line text={footerText(bindings, width)} width={width} theme={theme} tone="dim" />;
}
