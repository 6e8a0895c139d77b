// Reading JSON columns back with the schema they were written under (the codec is the type): a stored value is
// decoded, so defaults apply and what crosses to clients has the declared shape.
//
// A row that no longer matches (written by an older agent under a looser schema, or edited by hand) is still read,
// as it is, and a warning names the table, the row and what is off, once per row: a stored record is never lost
// or hidden because a schema grew stricter.
import type { z } from 'zod';

/** Where decode warnings go (the agent's logger in production; tests may pass their own). */
export type DecodeWarn = (fields: Record<string, unknown>, msg: string) => void;

const warned = new Set<string>();

/** JSON.parse a stored column and decode it with `schema`; see the file comment for rows that do not match. */
export function decodeStored<S extends z.ZodType>(schema: S, text: string, where: { table: string; id: string; column: string }, warn?: DecodeWarn): z.output<S> {
  const value: unknown = JSON.parse(text);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const key = `${where.table}/${where.id}/${where.column}`;
  if (warn && !warned.has(key) && warned.size < 10_000) {
    warned.add(key);
    warn({ ...where, issues: r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) }, 'a stored value does not match its schema; it is read as stored');
  }
  return value as z.output<S>;
}
