// Pure rendering of job output for the logs view: a bounded buffer, sanitising, timestamps, wrap,
// and the window of screen rows that ends at an anchor line. Never returns more rows than asked for.
import type { LogLine } from '../../shared/protocol/jobs.js';
import type { Tone } from '../theme.js';

/** Lines the console keeps per followed job; older ones are dropped (the agent keeps the full log). */
export const LOG_BUFFER_LINES = 5000;

/** `buf` plus `add`, keeping only the newest `max` lines. Returns the new array and how many were dropped. */
export function appendBounded<T>(buf: readonly T[], add: readonly T[], max = LOG_BUFFER_LINES): { lines: T[]; dropped: number } {
  const all = buf.concat(add);
  const dropped = Math.max(0, all.length - max);
  return { lines: dropped ? all.slice(dropped) : all, dropped };
}

/** Process output may carry colours, cursor moves, tabs and CRs: any of them would break the frame. */
export function sanitize(s: string): string {
  return s
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '') // CSI sequences (colours, cursor moves)
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '') // OSC (titles, links)
    .replace(/\t/g, '    ')
    .replace(/[\x00-\x1f\x7f]/g, '');
}

/** Time of a log line: "13:04:05.123" (local time). */
export function fmtLogTime(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Stream marks: stderr lines start with "!" (and are dimmed), agent messages with "*". */
const MARK: Record<LogLine['stream'], string> = { stdout: '', stderr: '! ', system: '* ' };
const TONE: Record<LogLine['stream'], Tone | undefined> = { stdout: undefined, stderr: 'dim', system: 'accent' };

/** One log line as text: optional timestamp, stream mark, sanitised content. */
export function formatLogLine(l: LogLine, timestamps: boolean): string {
  return `${timestamps ? `${fmtLogTime(l.ts)} ` : ''}${MARK[l.stream]}${sanitize(l.line)}`;
}

/** One screen row of the logs view. */
export interface LogRow {
  text: string;
  tone?: Tone;
}

/** Options of logWindow. */
export interface LogWindowOptions {
  width: number;
  height: number;
  /** Wrap long lines onto several rows (default: cut at the width). */
  wrap: boolean;
  timestamps: boolean;
  /** Index of the last line to show (its last row is the bottom row); null: the newest line (follow). */
  anchor: number | null;
}

/** Split text into rows of at most `width` characters (an empty line is one empty row). */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  if (text.length <= w) return [text];
  const rows: string[] = [];
  for (let i = 0; i < text.length; i += w) rows.push(text.slice(i, i + w));
  return rows;
}

/** The rows that fit in `height`, ending with the anchor line; long lines are wrapped or cut. */
export function logWindow(lines: readonly LogLine[], o: LogWindowOptions): LogRow[] {
  const h = Math.max(0, o.height);
  if (h === 0 || lines.length === 0) return [];
  const last = o.anchor === null ? lines.length - 1 : Math.max(0, Math.min(lines.length - 1, o.anchor));
  const rows: LogRow[] = [];
  for (let i = last; i >= 0 && rows.length < h; i--) {
    const l = lines[i];
    const text = formatLogLine(l, o.timestamps);
    const parts = o.wrap ? wrapText(text, o.width) : [text.length > o.width ? `${text.slice(0, Math.max(0, o.width - 1))}…` : text];
    for (let k = parts.length - 1; k >= 0 && rows.length < h; k--) rows.push({ text: parts[k], tone: TONE[l.stream] });
  }
  return rows.reverse();
}
