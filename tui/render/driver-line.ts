// Pure rendering of the task drivers' health (node.stats `drivers`) for the node view: one warning line, shown only
// while a driver cannot run tasks (e.g. the container engine went away), so that an operator sees it next to the host.
import type { DriverHealth } from '../../shared/protocol/jobs.js';
import { fmtUptime, truncate } from './format.js';

/** "DRIVERS docker unavailable for 12s: container engine not reachable … · slurm …", or null when all are available
 * (or the agent is older than protocol 1.7 and sends none). `now` is the agent clock of the sample. */
export function driverAlertLine(drivers: readonly DriverHealth[] | undefined, now: number, width: number): string | null {
  const down = (drivers ?? []).filter((d) => !d.available);
  if (down.length === 0) return null;
  const part = (d: DriverHealth) => `${d.name} unavailable${d.since ? ` for ${fmtUptime(Math.max(0, (now - d.since) / 1000))}` : ''}${d.reason ? `: ${d.reason}` : ''}`;
  return truncate(`DRIVERS ${down.map(part).join(' · ')}`, width);
}
