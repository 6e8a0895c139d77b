// Pure rendering of rollout rows (the :rollouts view): the rollouts of every coordinator, keys, cells, tones, filter text.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { fromText, lastDecision, stepOf } from '../../shared/protocol/rollout-view.js';
import { isTerminalRollout } from '../../shared/protocol/rollout.js';
import type { Rollout, RolloutDecision, RolloutNode } from '../../shared/protocol/rollout.js';
import type { Tone } from '../theme.js';
import { fmtAge } from './job-row.js';
import type { Column } from './table.js';

/** Columns of the rollouts view; LAST DECISION takes the spare width and goes first on narrow screens. */
export const ROLLOUT_COLUMNS: Column[] = [
  { header: 'NODE', width: 10, priority: 6 },
  { header: 'ID', width: 8, priority: 9 },
  { header: 'MODEL', width: 12, priority: 10 },
  { header: 'VERSIONS', width: 11, priority: 8 },
  { header: 'STRATEGY', width: 11, priority: 3 },
  { header: 'STATE', width: 11, priority: 10 },
  { header: 'STEP', width: 5, align: 'right', priority: 7 },
  { header: 'NODES', width: 5, align: 'right', priority: 4 },
  { header: 'AGE', width: 5, align: 'right', priority: 5 },
  { header: 'LAST DECISION', width: 16, flex: true, priority: 2 },
];

/** A rollout with the node that coordinates it (and answered for it). */
export interface RolloutEntry { node: string; rollout: Rollout }

/** Item key of a rollout across the fleet: "node/id" (ids are unique per coordinator only). */
export const rolloutKey = (e: RolloutEntry) => `${e.node}/${e.rollout.id}`;

/** Split a "node/id" key; null when malformed. */
export function parseRolloutKey(key: string | null): { node: string; id: string } | null {
  if (!key) return null;
  const i = key.indexOf('/');
  return i > 0 && i < key.length - 1 ? { node: key.slice(0, i), id: key.slice(i + 1) } : null;
}

/** The rollout a "node/id" key names, from the fleet snapshot. */
export function findRolloutEntry(nodes: readonly FleetNode[], key: string | null): RolloutEntry | undefined {
  const k = parseRolloutKey(key);
  if (!k) return undefined;
  const r = nodes.find((n) => n.name === k.node)?.rollouts?.find((x) => x.id === k.id);
  return r ? { node: k.node, rollout: r } : undefined;
}

/** Every rollout of the fleet: unfinished first, then newest first (ties: node, id, so the order is stable). */
export function allRollouts(nodes: readonly FleetNode[]): RolloutEntry[] {
  const out = nodes.flatMap((n) => (n.rollouts ?? []).map((rollout) => ({ node: n.name, rollout })));
  return out.sort((a, b) => Number(isTerminalRollout(a.rollout)) - Number(isTerminalRollout(b.rollout))
    || b.rollout.created_at - a.rollout.created_at || a.node.localeCompare(b.node) || a.rollout.id.localeCompare(b.rollout.id));
}

/** Rollout ids are long; rows show the first 8 characters. */
export const shortRolloutId = (id: string) => (id.length > 12 ? id.slice(0, 8) : id);

/** Text the `/` filter matches: node, id, model, versions, strategy, state, node names. */
export function rolloutFilterText(e: RolloutEntry): string {
  const r = e.rollout;
  return [e.node, r.id, r.name, r.from ?? '', r.to, r.strategy, r.state, ...r.nodes.map((n) => n.name)].join(' ');
}

/** Tone of a rollout state: running green, paused/gating yellow, rolled back/aborted/failed red, planned dim. */
export function rolloutTone(state: Rollout['state']): Tone | undefined {
  switch (state) {
    case 'running': case 'promoted': return 'ok';
    case 'gating': case 'paused': return 'warn';
    case 'rolled_back': case 'aborted': case 'failed': return 'bad';
    case 'planned': return 'dim';
  }
}

/** Tone of a node's state in a rollout. */
export function rolloutNodeTone(n: RolloutNode): Tone | undefined {
  switch (n.state) {
    case 'serving': case 'done': return 'ok';
    case 'warming': case 'pending': return n.error ? 'bad' : 'warn';
    case 'rolled_back': case 'unreachable': return 'bad';
    case 'skipped': return 'dim';
  }
}

/** Tone of a decision's outcome. */
export function decisionTone(d: Pick<RolloutDecision, 'outcome'>): Tone | undefined {
  return d.outcome === 'fail' ? 'bad' : d.outcome === 'wait' ? 'warn' : d.outcome === 'pass' || d.outcome === 'ok' ? 'ok' : undefined;
}

/** "3→4" (or "→4" when the stable version is per node). */
export const versionsText = (r: Pick<Rollout, 'from' | 'to'> & { nodes?: ReadonlyArray<{ stable: string | null }> }) => `${r.from ?? fromText(r).replace('(current)', '')}→${r.to}`;

/** Cells of one rollout row, aligned with ROLLOUT_COLUMNS; `now` in ms. */
export function rolloutRow(e: RolloutEntry, now: number): string[] {
  const r = e.rollout;
  const d = lastDecision(r);
  return [e.node, shortRolloutId(r.id), r.name, versionsText(r), r.strategy, r.state.toUpperCase(), stepOf(r), String(r.nodes.length), fmtAge(now - r.created_at), d ? `${d.kind} ${d.outcome}: ${d.reason}` : '–'];
}

/** One-line summary: "4 rollouts · 1 running · 1 paused · 1 rolled back". */
export function rolloutCounts(es: readonly RolloutEntry[]): string {
  const by = (s: Rollout['state'][]) => es.filter((e) => s.includes(e.rollout.state)).length;
  const parts = [`${es.length} rollout${es.length === 1 ? '' : 's'}`];
  const running = by(['running', 'gating', 'planned']);
  const paused = by(['paused']);
  const bad = by(['rolled_back', 'aborted', 'failed']);
  if (running) parts.push(`${running} running`);
  if (paused) parts.push(`${paused} paused`);
  if (bad) parts.push(`${bad} rolled back/aborted/failed`);
  return parts.join(' · ');
}
