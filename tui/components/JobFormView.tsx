import { Box } from 'ink';
import { FORM_FIELDS, isChoice, offerOf, type JobForm } from '../job-form.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** Props of JobFormView. */
export interface JobFormViewProps {
  form: JobForm;
  height: number;
  width: number;
  theme: Theme;
}

/** Hint after a field: always for a slurm driver (the node's partition and free GPUs), else only when focused. */
function fieldHint(form: JobForm, f: (typeof FORM_FIELDS)[number], focus: boolean): string {
  if (f === 'driver') {
    const offer = offerOf(form);
    if (form.values.driver === 'slurm' && offer.slurm) return `  ${offer.slurm}`;
    return focus && offer.drivers.length > 1 ? `  (${offer.drivers.join(', ')})` : '';
  }
  if (!focus) return '';
  return f === 'image' ? '  (docker and slurm only)' : f === 'command' ? '  (space-separated; quote with \' or ")' : '';
}

/** The lines of the submit form: title, one per field (the focused one marked), the error, the key hints. */
export function jobFormLines(form: JobForm): { text: string; focus?: boolean; tone?: 'bad' | 'dim' | 'accent' }[] {
  const lines: { text: string; focus?: boolean; tone?: 'bad' | 'dim' | 'accent' }[] = [{ text: 'NEW JOB', tone: 'accent' }];
  FORM_FIELDS.forEach((f, i) => {
    const focus = i === form.focus;
    const v = form.values[f];
    const placeholder = f === 'gpus' || f === 'priority' ? '0' : '';
    const shown = isChoice(f) ? `‹ ${v || '–'} ›` : focus ? `${v}█` : v || placeholder;
    lines.push({ text: `${focus ? '>' : ' '} ${f.padEnd(9)} ${shown}${fieldHint(form, f, focus)}`, focus });
  });
  if (form.busy) lines.push({ text: 'submitting…', tone: 'accent' });
  else if (form.error) lines.push({ text: `error: ${form.error}`, tone: 'bad' });
  lines.push({ text: '<tab>/<shift+tab> field  <←/→> choose  <enter> submit  <esc> cancel', tone: 'dim' });
  return lines;
}

/** The `n` submit form, drawn in the body; when taller than `height`, it scrolls so the focused field is the first line. */
export function JobFormView({ form, height, width, theme }: JobFormViewProps) {
  const all = jobFormLines(form);
  const h = Math.max(0, height);
  // Too short: keep the focused field, the error and the hints (the tail), drop from the top.
  const start = Math.max(0, Math.min(form.focus + 1, all.length - h)); // line focus+1 is the focused field
  const lines = all.slice(start, start + h);
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        <Line key={i} text={l.text} width={width} theme={theme} tone={l.tone} inverse={l.focus} />
      ))}
    </Box>
  );
}
