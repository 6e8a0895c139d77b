// Pure rendering of automation rows (the :auto view): every automation of the fleet with its newest run, keys, cells,
// tones, filter text, and the one-line summary.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { Automation, AutomationRun, AutoRunState } from '../../shared/protocol/automation.js';
import type { Tone } from '../theme.js';
import { fmtAge } from './job-row.js';
import type { Column } from './table.js';

/** Columns of the automations view; LAST RUN takes the spare width. */
export const AUTO_COLUMNS: Column[] = [
  { header: 'NODE', width: 10, priority: 6 },
  { header: 'NAME', width: 16, priority: 10 },
  { header: 'MODEL', width: 12, priority: 9 },
  { header: 'TRIGGER', width: 14, priority: 7 },
  { header: 'STATE', width: 7, priority: 8 },
  { header: 'RUN', width: 11, priority: 10 },
  { header: 'AGE', width: 5, align: 'right', priority: 5 },
  { header: 'LAST RUN', width: 16, flex: true, priority: 3 },
];

/** An automation with its node and the run to show: the one in flight, else the newest (suppressed triggers included). */
export interface AutoEntry { node: string; automation: Automation; last: AutomationRun | null }

/** Item key across the fleet: "node/name". */
export const autoKey = (e: AutoEntry) => `${e.node}/${e.automation.name}`;

/** Every automation of the fleet, by node then name. */
export function allAutomations(nodes: readonly FleetNode[]): AutoEntry[] {
  return nodes.flatMap((n) => (n.autos?.automations ?? []).map((automation) => ({
    node: n.name, automation, last: pickRun((n.autos?.runs ?? []).filter((r) => r.automation === automation.name)),
  }))).sort((a, b) => a.node.localeCompare(b.node) || a.automation.name.localeCompare(b.automation.name));
}

const FLYING: readonly AutoRunState[] = ['queued', 'training', 'registering', 'gating', 'rolling_out'];
/** The run a row shows: one in flight (a storm of suppressed triggers must not hide it), else the newest; runs newest first. */
const pickRun = (runs: readonly AutomationRun[]): AutomationRun | null => runs.find((r) => FLYING.includes(r.state)) ?? runs[0] ?? null;

/** The trigger as `--on` spells it. */
export function triggerLabel(a: Automation): string {
  const t = a.spec.trigger;
  return t.kind === 'performance' ? `perf:${t.metric}${t.op}${t.bound}` : t.kind === 'schedule' ? `cron ${t.cron}` : t.kind;
}

/** Tone of a run state: in flight yellow, succeeded green, failed/rolled back red, suppressed dim. */
export function runTone(s: AutoRunState): Tone | undefined {
  switch (s) {
    case 'succeeded': return 'ok';
    case 'failed': case 'rolled_back': return 'bad';
    case 'suppressed': return 'dim';
    default: return 'warn';
  }
}

/** Cells of one row, aligned with AUTO_COLUMNS; `now` in ms. */
export function autoRow(e: AutoEntry, now: number): string[] {
  const r = e.last;
  return [e.node, e.automation.name, e.automation.model, triggerLabel(e.automation), e.automation.state, r ? r.state.toUpperCase() : '–',
    r ? fmtAge(now - r.updated_at) : '–', r ? `${r.id}: ${r.reason ?? ''}${r.repeats ? ` (×${r.repeats + 1})` : ''}` : 'no runs yet'];
}

/** Tone of a row: paused dim, else its newest run's. */
export const autoTone = (e: AutoEntry): Tone | undefined => (e.automation.state === 'paused' ? 'dim' : e.last ? runTone(e.last.state) : undefined);

/** Text the `/` filter matches. */
export const autoFilterText = (e: AutoEntry) => [e.node, e.automation.name, e.automation.model, triggerLabel(e.automation), e.automation.state, e.last?.state ?? ''].join(' ');

/** "3 automations · 1 run in flight · 1 paused · 1 last run failed". */
export function autoCounts(es: readonly AutoEntry[]): string {
  const parts = [`${es.length} automation${es.length === 1 ? '' : 's'}`];
  const flying = es.filter((e) => e.last && FLYING.includes(e.last.state)).length;
  const paused = es.filter((e) => e.automation.state === 'paused').length;
  const bad = es.filter((e) => e.last && (e.last.state === 'failed' || e.last.state === 'rolled_back')).length;
  if (flying) parts.push(`${flying} run${flying === 1 ? '' : 's'} in flight`);
  if (paused) parts.push(`${paused} paused`);
  if (bad) parts.push(`${bad} last run failed/rolled back`);
  return parts.join(' · ');
}
