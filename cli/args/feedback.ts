// Parsing of `fleetml feedback send --file`: labels by request id, as CSV with a header (columns id and label, in any
// order; other columns ignored) or as JSON lines ({"id": "...", "label": 1}). Pure: text in, labels out.
import { InferRequestId, MAX_LABELS_PER_CALL } from '../../shared/protocol/feedback.js';
import { UsageError } from '../output.js';

/** One label to send. */
export interface Label { id: string; label: number }

/** A CSV cell without its surrounding quotes ("" inside quotes is a quote). */
const cell = (s: string) => { const t = s.trim(); return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t; };

function check(id: unknown, label: unknown, where: string): Label {
  if (typeof id !== 'string' || !InferRequestId.safeParse(id).success) throw new UsageError(`${where}: the id ${JSON.stringify(id)?.slice(0, 140)} is not a request id (1-128 printable characters, no spaces)`);
  const n = typeof label === 'string' && label.trim() !== '' ? Number(label) : label;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new UsageError(`${where}: the label ${JSON.stringify(label)?.slice(0, 40)} is not a number (classes are 0, 1, 2, …; regression targets any number)`);
  return { id, label: n };
}

/** Parse labels from CSV (with a header naming id and label) or JSON lines; `source` names the file in errors. */
export function parseLabels(text: string, source: string): Label[] {
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new UsageError(`${source} holds no labels: give CSV with a header "id,label", or JSON lines {"id": "...", "label": 1}`);
  const out: Label[] = [];
  if (lines[first].trim().startsWith('{')) {
    for (let i = first; i < lines.length; i++) {
      if (lines[i].trim() === '') continue;
      let o: unknown;
      try { o = JSON.parse(lines[i]); } catch (e) { throw new UsageError(`${source} line ${i + 1}: not JSON (${(e as Error).message})`); }
      if (typeof o !== 'object' || o === null) throw new UsageError(`${source} line ${i + 1}: expected an object {"id": "...", "label": 1}`);
      out.push(check((o as Record<string, unknown>).id, (o as Record<string, unknown>).label, `${source} line ${i + 1}`));
    }
    return out;
  }
  const header = lines[first].split(',').map((h) => cell(h).toLowerCase());
  const idAt = header.indexOf('id'); const labelAt = header.indexOf('label');
  if (idAt < 0 || labelAt < 0) throw new UsageError(`${source}: the CSV header must name the columns id and label (got "${lines[first].slice(0, 80)}")`);
  for (let i = first + 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const cells = lines[i].split(',');
    out.push(check(cell(cells[idAt] ?? ''), cell(cells[labelAt] ?? ''), `${source} line ${i + 1}`));
  }
  return out;
}

/** Labels in calls of at most MAX_LABELS_PER_CALL (the model.feedback bound). */
export function chunkLabels<T>(labels: readonly T[], size = MAX_LABELS_PER_CALL): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < labels.length; i += size) out.push(labels.slice(i, i + size));
  return out;
}
