import { Box } from 'ink';
import { modelFormFields, type ModelForm } from '../model-form.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** The lines of a model form: title, one per field (the focused one marked, with its hint), the error, the key hints. */
export function modelFormLines(form: ModelForm): { text: string; focus?: boolean; tone?: 'bad' | 'dim' | 'accent' }[] {
  const title = form.kind === 'alias' ? `TRAFFIC SPLIT · ${form.name} on ${form.node}` : `NEW ROLLOUT · ${form.name} from ${form.node} (coordinator)`;
  const lines: { text: string; focus?: boolean; tone?: 'bad' | 'dim' | 'accent' }[] = [{ text: title, tone: 'accent' }];
  modelFormFields(form).forEach((f, i) => {
    const focus = i === form.focus;
    const v = form.values[f.id] ?? '';
    const shown = f.choices ? `‹ ${v} ›` : focus ? `${v}█` : v;
    lines.push({ text: `${focus ? '>' : ' '} ${f.label.padEnd(9)} ${shown}${focus && f.hint ? `  (${f.hint})` : ''}`, focus });
  });
  if (form.busy) lines.push({ text: 'starting…', tone: 'accent' });
  else if (form.error) lines.push({ text: `error: ${form.error}`, tone: 'bad' });
  lines.push({ text: `<tab>/<shift+tab> field  <←/→> choose  <enter> ${form.kind === 'alias' ? 'apply (asks y/n)' : 'start'}  <esc> cancel`, tone: 'dim' });
  return lines;
}

/** The traffic-split / rollout form, drawn in the body; when taller than `height`, the focused field stays in view. */
export function ModelFormView({ form, height, width, theme }: { form: ModelForm; height: number; width: number; theme: Theme }) {
  const all = modelFormLines(form);
  const h = Math.max(0, height);
  const start = Math.max(0, Math.min(form.focus + 1, all.length - h));
  return (
    <Box flexDirection="column">
      {all.slice(start, start + h).map((l, i) => <Line key={i} text={l.text} width={width} theme={theme} tone={l.tone} inverse={l.focus} />)}
    </Box>
  );
}
