// Rows of a node the console cannot reach: the data is what the node last said, kept on screen but marked stale
// (dimmed, with the time of the node's last update) so it is never read as live. Pure: the caller passes the clock.
import type { FleetNode } from '../../shared/client/fleet-types.js';

const p2 = (n: number) => String(n).padStart(2, '0');

/**
 * A clock time in local time: "14:02", or "12-02 14:02" when it is not on the day of `now` (a node down since
 * yesterday must not read as down since this afternoon).
 */
export function fmtClock(ts: number, now: number): string {
  const d = new Date(ts);
  const n = new Date(now);
  const time = `${p2(d.getHours())}:${p2(d.getMinutes())}`;
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? time : `${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${time}`;
}

/** Is this node's data stale: the console is not connected to it now (down, refused, incompatible, reconnecting)? */
export function isStale(n: Pick<FleetNode, 'conn'>): boolean {
  return n.conn !== 'up';
}

/** The stale mark of a node's rows: "stale 14:02" (its last update), "stale" when it never sent one; null when live. */
export function staleMark(n: Pick<FleetNode, 'conn' | 'lastSeen'> | undefined, now: number): string | null {
  if (!n || !isStale(n)) return null;
  return n.lastSeen !== null ? `stale ${fmtClock(n.lastSeen, now)}` : 'stale';
}

/** The names of nodes whose rows are stale (among those that have rows at all), for a summary line. */
export function staleNote(nodes: readonly FleetNode[], hasRows: (n: FleetNode) => boolean, now: number): string | null {
  const down = nodes.filter((n) => isStale(n) && hasRows(n));
  if (down.length === 0) return null;
  const what = down.map((n) => `${n.name}${n.lastSeen !== null ? ` (since ${fmtClock(n.lastSeen, now)})` : ''}`).join(', ');
  return `unreachable: ${what}: rows dimmed, marked stale`;
}

/** A cell with the stale mark in front ("stale 14:02 · needs 2 GPUs"), or the cell alone when live. */
export function withStale(mark: string | null, cell: string): string {
  if (!mark) return cell;
  return cell ? `${mark} · ${cell}` : mark;
}
