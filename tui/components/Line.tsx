import { Text } from 'ink';
import { truncate } from '../render/format.js';
import { toneColor, type Theme, type Tone } from '../theme.js';

/** Props of Line. */
export interface LineProps {
  text: string;
  width: number;
  theme: Theme;
  tone?: Tone;
  bold?: boolean;
  inverse?: boolean;
}

/** Exactly one terminal line: cut to `width`, never wrapped (a wrapped line would grow the frame). */
export function Line({ text, width, theme, tone, bold, inverse }: LineProps) {
  return (
    <Text wrap="truncate-end" color={toneColor(theme, tone)} bold={bold} inverse={inverse}>
      {truncate(text, width) || ' '}
    </Text>
  );
}
