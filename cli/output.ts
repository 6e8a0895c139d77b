/** Output format every client command accepts with -o. */
export type OutputFormat = 'table' | 'json';

/** Parse -o; anything else is a usage error that says what is accepted. */
export function parseOutput(v: string | undefined): OutputFormat {
  if (v === undefined || v === 'table' || v === 'wide') return 'table';
  if (v === 'json') return 'json';
  throw new UsageError(`unknown output format "${v}": use -o table or -o json`);
}

/** An error caused by how the command was called (exit code 2). */
export class UsageError extends Error {}

/** Render rows as an aligned text table (no colours: scripts and pipes read it too). */
export function formatTable(headers: string[], rows: string[][]): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : (c ?? '').padEnd(w[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Print JSON for scripts: stable, two-space indented, newline-terminated. */
export function printJson(v: unknown): void { process.stdout.write(JSON.stringify(v, null, 2) + '\n'); }

/** Human formatting helpers shared by the CLI tables. */
export const fmt = {
  pct: (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${Math.round(v)}%`),
  gib: (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${(v / 2 ** 30).toFixed(1)}Gi`),
  num: (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '-' : `${Math.round(v)}${unit}`),
};
