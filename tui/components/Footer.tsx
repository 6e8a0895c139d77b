import { footerText, type FooterCondition, type KeyBinding } from '../keymap.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** Props of Footer. */
export interface FooterProps {
  bindings: readonly KeyBinding[];
  width: number;
  theme: Theme;
  /** Whether a hint's condition holds for the selected item (all by default). */
  holds?: (c: FooterCondition) => boolean;
}

/** The bottom line: key hints generated from the bindings in effect. */
export function Footer({ bindings, width, theme, holds }: FooterProps) {
  return <Line text={footerText(bindings, width, holds)} width={width} theme={theme} tone="dim" />;
}
