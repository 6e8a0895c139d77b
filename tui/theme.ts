// Colours in one place. NO_COLOR (https://no-color.org: set and non-empty) turns every colour off;
// selection then stays visible through the ">" marker and inverse video, which are not colours.

/** Semantic tones used by views; mapped to Ink colour names only when colours are on. */
export type Tone = 'ok' | 'warn' | 'bad' | 'dim' | 'accent' | 'sim';

const COLORS: Record<Tone, string> = { ok: 'green', warn: 'yellow', bad: 'red', dim: 'gray', accent: 'cyan', sim: 'magenta' };

/** Resolved theme passed down to components. */
export interface Theme {
  /** False when NO_COLOR is set. */
  color: boolean;
}

/** True unless NO_COLOR is set to a non-empty value. */
export function colorEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return !env.NO_COLOR;
}

/** The Ink colour for a tone, or undefined when colours are off or no tone is given. */
export function toneColor(theme: Theme, tone: Tone | undefined): string | undefined {
  return theme.color && tone ? COLORS[tone] : undefined;
}
