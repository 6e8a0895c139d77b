// Pure rendering of the :auto view (every automation of the fleet: its trigger, state and last run) and of one
// automation's runs (Enter): keys, cells, tones, filter text, summary counts.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { isTerminalRun, type Automation, type AutomationRun, type AutoRunState, type AutoTrigger } from '../../shared/protocol/automation.js';
import type { Tone } from '../theme.js';
import { fmtAge } from './job-row.js';
import type { Column } from './table.js';

/** Columns of the :auto view; LAST RUN (where the newest run stopped, and why) takes the spare width and goes last. */
export const AUTO_COLUMNS: Column[] = [
  { header: 'NODE', width: 10, priority: 4 },
  { header: 'NAME', width: 14, priority: 10 },
  { header: 'MODEL', width: 10, priority: 7 },
  { header: 'TRIGGER', width: 24, priority: 6 },
  { header: 'STATE', width: 7, priority: 8 },
  { header: 'RUNS', width: 4, align: 'right', priority: 3 },
  { header: 'AGE', width: 5, align: 'right', priority: 2 },
  { header: 'LAST RUN', width: 20, flex: true, priority: 9 },
];

/** Columns of one automation's runs. */
export const RUN_COLUMNS: Column[] = [
  { header: 'RUN', width: 12, priority: 8 },
  { header: 'STATE', width: 11, priority: 10 },
  { header: 'TRIGGER', width: 10, priority: 7 },
  { header: 'VERSION', width: 12, priority: 6 },
  { header: 'AGE', width: 5, align: 'right', priority: 5 },
  { header: 'WHY', width: 16, flex: true, priority: 9 },
];

/** An automation with the node that stores it, and its runs there (newest first). */
export interface AutoEntry { node: string; automation: Automation; runs: AutomationRun[] }

/** Item key across the fleet: "node/name" (names are unique per agent only). */
export const autoKey = (e: Pick<AutoEntry, 'node' | 'automation'>) => `${e.node}/${e.automation.name}`;

/** The trigger in the words of `fleetml auto create --on`. */
export function triggerText(t: AutoTrigger): string {
  switch (t.kind) {
    case 'drift': return 'drift';
    case 'performance': return `performance:${t.metric}${t.op}${t.bound}`;
    case 'schedule': return `schedule:${t.cron}`;
    case 'manual': return 'manual';
  }
}

/** Every automation of the fleet with its runs, by node then name (stable order). */
export function allAutomations(nodes: readonly FleetNode[]): AutoEntry[] {
  return nodes.flatMap((n) => (n.automations ?? []).map((automation) => ({
    node: n.name, automation,
    runs: (n.autoRuns ?? []).filter((r) => r.automation === automation.name).sort((a, b) => b.created_at - a.created_at),
  }))).sort((a, b) => a.node.localeCompare(b.node) || a.automation.name.localeCompare(b.automation.name));
}

/** The automation a "node/name" key names. */
export function findAuto(nodes: readonly FleetNode[], key: string | null): AutoEntry | undefined {
  if (!key) return undefined;
  const i = key.indexOf('/');
  if (i <= 0) return undefined;
  return allAutomations(nodes).find((e) => e.node === key.slice(0, i) && e.automation.name === key.slice(i + 1));
}

/** Run state in words: rolling_out → "rolling out". */
export const runStateText = (s: AutoRunState) => s.replace('_', ' ');

/** Tone of a run state: succeeded green, in flight yellow, failed or rolled back red, suppressed dim. */
export function runTone(s: AutoRunState): Tone | undefined {
  switch (s) {
    case 'succeeded': return 'ok';
    case 'failed': case 'rolled_back': return 'bad';
    case 'suppressed': return 'dim';
    default: return 'warn';
  }
}

/** Where a run stands in one line: its state, the version it made, and why. */
export function runLine(r: AutomationRun): string {
  const v = r.version ? ` ${r.version}` : '';
  return `${runStateText(r.state)}${v}${r.reason ? `: ${r.reason}` : ''}${r.repeats > 1 ? ` (×${r.repeats})` : ''}`;
}

/** Cells of one automation row. */
export function autoRow(e: AutoEntry, now: number): string[] {
  const last = e.runs[0];
  return [e.node, e.automation.name, e.automation.model, triggerText(e.automation.spec.trigger), e.automation.state, String(e.runs.length),
    last ? fmtAge(now - last.created_at) : '–', last ? runLine(last) : 'no run yet'];
}

/** Row tone: a paused automation dim, else its last run's. */
export function autoTone(e: AutoEntry): Tone | undefined {
  if (e.automation.state === 'paused') return 'dim';
  return e.runs[0] ? runTone(e.runs[0].state) : undefined;
}

/** Text the `/` filter matches: node, name, model, trigger, state, last run. */
export function autoFilterText(e: AutoEntry): string {
  return [e.node, e.automation.name, e.automation.model, triggerText(e.automation.spec.trigger), e.automation.state, e.runs[0] ? runLine(e.runs[0]) : ''].join(' ');
}

/** Summary counts: automations, paused, runs in flight, and how the finished ones ended. */
export function autoCounts(entries: readonly AutoEntry[]): string {
  const runs = entries.flatMap((e) => e.runs);
  const n = (f: (r: AutomationRun) => boolean) => runs.filter(f).length;
  const paused = entries.filter((e) => e.automation.state === 'paused').length;
  const parts = [`${entries.length} automation${entries.length === 1 ? '' : 's'}`];
  if (paused) parts.push(`${paused} paused`);
  parts.push(`${n((r) => !isTerminalRun(r))} running`, `${n((r) => r.state === 'succeeded')} succeeded`, `${n((r) => r.state === 'failed' || r.state === 'rolled_back')} failed/rolled back`, `${n((r) => r.state === 'suppressed')} suppressed`);
  return parts.join(' · ');
}

/** Cells of one run row. */
export function runRow(r: AutomationRun, now: number): string[] {
  return [r.id.length > 12 ? r.id.slice(0, 8) : r.id, runStateText(r.state), r.trigger.kind, r.version ?? '–', fmtAge(now - r.created_at), [r.reason ?? '', r.repeats > 1 ? `(×${r.repeats})` : ''].filter(Boolean).join(' ') || r.trigger.detail];
}
