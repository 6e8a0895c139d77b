import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { TableRow } from '../components/Table.js';
import { ListScreen } from '../components/ListScreen.js';
import { AUTO_COLUMNS, RUN_COLUMNS, allAutomations, autoCounts, autoFilterText, autoKey, autoRow, autoTone, findAuto, runRow, runTone, triggerText, type AutoEntry } from '../render/auto-row.js';
import { byNumber, byText, sortRows, sortedColumns, type SortKeys } from '../render/sort.js';
import { staleMark, staleNote, withStale } from '../render/stale.js';
import { matchFilter, type Frame } from '../state.js';
import type { ViewProps } from './types.js';

/** Sorts of the :auto view (shift+O/N/S/A; age is the last run's); the default order is by node, then name. */
export const AUTO_SORTS: SortKeys<AutoEntry> = {
  node: { column: 0, compare: (a, b) => byText(a.node, b.node) },
  name: { column: 1, compare: (a, b) => byText(a.automation.name, b.automation.name) },
  state: { column: 4, compare: (a, b) => byText(a.automation.state, b.automation.state) },
  age: { column: 6, compare: (a, b) => byNumber(b.runs[0]?.created_at, a.runs[0]?.created_at) },
};

/** Automations of every agent after the frame's filter, by node then name (or in the frame's sort). */
export function visibleAutomations(nodes: readonly FleetNode[], frame: Frame): AutoEntry[] {
  return sortRows(allAutomations(nodes).filter((e) => matchFilter(autoFilterText(e), frame.filter)), frame.sort, AUTO_SORTS);
}

/** Every automation of the fleet (pushed by auto.events): its trigger, state and where its last run stopped; Enter opens its runs. */
export function AutoView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const shown = visibleAutomations(nodes, frame);
  const now = Date.now();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // An agent the console cannot reach: its automations stay, dimmed, "stale 14:02" before the last run.
  const rows: TableRow[] = shown.map((e) => {
    const cells = autoRow(e, now);
    const mark = staleMark(byName.get(e.node), now);
    if (!mark) return { key: autoKey(e), cells, tone: autoTone(e) };
    cells[7] = withStale(mark, cells[7]);
    return { key: autoKey(e), cells, tone: 'dim' };
  });
  const stale = staleNote(nodes, (n) => !!n.automations?.length, now);
  const silent = nodes.filter((n) => n.conn === 'up' && (n.automations ?? null) === null).map((n) => n.name);
  const summary = [autoCounts(shown), ...(silent.length ? [`no automations from ${silent.join(', ')} (older agent?)`] : []), ...(stale ? [stale] : []), ...(shown.length ? ['<enter> opens its runs'] : [])].join(' · ');
  const any = nodes.some((n) => n.automations?.length);
  const empty = !any ? 'no automations yet; create one with `fleetml auto create NAME --model MODEL --on drift --retrain-job job.yaml …`' : `no automation matches "${frame.filter}"; <esc> clears the filter`;
  return <ListScreen summary={summary} columns={sortedColumns(AUTO_COLUMNS, frame.sort, AUTO_SORTS)} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={empty} />;
}

/** One automation's runs, newest first: state, trigger, the version each made, and why each stopped where it did. */
export function AutoRunsView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const e = findAuto(nodes, frame.arg);
  const now = Date.now();
  if (!e) return <ListScreen summary="" columns={RUN_COLUMNS} rows={[]} selected={0} height={height} width={width} theme={theme} empty={`automation "${frame.arg}" not found (yet); :auto lists them`} />;
  const a = e.automation;
  const rows: TableRow[] = e.runs.map((r) => ({ key: r.id, cells: runRow(r, now), tone: runTone(r.state) }));
  const summary = `${a.name} on ${a.model} · ${triggerText(a.spec.trigger)} · ${a.state} · ${e.runs.length} run${e.runs.length === 1 ? '' : 's'}`;
  return <ListScreen summary={summary} columns={RUN_COLUMNS} rows={rows} selected={selected} height={height} width={width} theme={theme} empty={`${summary} · no run yet (fleetml auto run ${a.name} starts one)`} />;
}
