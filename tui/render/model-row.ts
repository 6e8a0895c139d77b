// Pure rendering of model rows (the :models view): one row per model version per node, with its serving figures.
import type { FleetNode, ModelPerfRow, ModelStatsRow } from '../../shared/client/fleet-types.js';
import type { ModelVersion, TensorSpec } from '../../shared/protocol/models.js';
import type { Tone } from '../theme.js';
import { DASH, fmtBytes, known } from './format.js';
import { fmtAge } from './job-row.js';
import type { Column } from './table.js';

/** One model version on one node, with its serving figures (null when the node has not reported them). */
export interface ModelEntry {
  node: string;
  model: ModelVersion;
  stats: ModelStatsRow | null;
  /** Live performance over the last hour of labelled requests (fleetml feedback send); null/absent when unknown. */
  perf?: ModelPerfRow | null;
  /** The traffic split of the model's name on the node (pushed by the models topic); null/absent when it has none or the node does not say. */
  routing?: { version: string; weight: number }[] | null;
}

/** Columns of the models view; NAME takes the spare width; PUSHED, SIZE and P95 go first on narrow screens. */
export const MODEL_COLUMNS: Column[] = [
  { header: 'NODE', width: 8, priority: 8 },
  { header: 'NAME', width: 12, flex: true, priority: 10 },
  { header: 'VERSION', width: 7, priority: 9 },
  { header: 'LOADED', width: 11, priority: 7 },
  { header: 'REQ/S', width: 5, align: 'right', priority: 6 },
  { header: 'P50 (QUEUE/COMPUTE)', width: 19, priority: 5 },
  { header: 'P95', width: 6, align: 'right', priority: 3 },
  { header: 'ERRORS', width: 6, align: 'right', priority: 4 },
  { header: 'LIVE', width: 9, align: 'right', priority: 0.5 },
  { header: 'SIZE', width: 6, align: 'right', priority: 2 },
  { header: 'PUSHED', width: 6, align: 'right', priority: 1 },
];

/** Stable item key of a model version across the fleet: "node/name@version" (names and versions hold neither "/" nor "@"). */
export function modelKey(e: { node: string; model: Pick<ModelVersion, 'name' | 'version'> }): string {
  return `${e.node}/${e.model.name}@${e.model.version}`;
}

/** Split a "node/name@version" key; null when malformed. */
export function parseModelKey(key: string | null): { node: string; name: string; version: string } | null {
  if (!key) return null;
  const i = key.indexOf('/');
  const j = key.lastIndexOf('@');
  if (i <= 0 || j <= i + 1 || j >= key.length - 1) return null;
  return { node: key.slice(0, i), name: key.slice(i + 1, j), version: key.slice(j + 1) };
}

/** The serving figures of a version on a node, or null when unknown. */
function statsOf(n: FleetNode, m: ModelVersion): ModelStatsRow | null {
  return n.modelStats?.find((s) => s.name === m.name && s.version === m.version) ?? null;
}

/** The live performance of a version on a node, or null when unknown. */
function perfOf(n: FleetNode, m: ModelVersion): ModelPerfRow | null {
  return n.modelPerf?.find((p) => p.name === m.name && p.version === m.version) ?? null;
}

/** The routing of a name on a node, or null when it has no alias (or the node does not report aliases). */
function routingOf(n: FleetNode, name: string): { version: string; weight: number }[] | null {
  return n.aliases?.find((a) => a.name === name)?.targets ?? null;
}

/** Every known model version of the fleet: by name, highest version first ("10" after "9"), then node (a stable order). */
export function allModels(nodes: readonly FleetNode[]): ModelEntry[] {
  const out = nodes.flatMap((n) => (n.models ?? []).map((model) => ({ node: n.name, model, stats: statsOf(n, model), perf: perfOf(n, model), routing: routingOf(n, model.name) })));
  return out.sort((a, b) => a.model.name.localeCompare(b.model.name) || b.model.version.localeCompare(a.model.version, 'en', { numeric: true }) || a.node.localeCompare(b.node));
}

/** The model version a "node/name@version" key names, from the fleet snapshot. */
export function findModel(nodes: readonly FleetNode[], key: string | null): ModelEntry | undefined {
  const k = parseModelKey(key);
  if (!k) return undefined;
  const n = nodes.find((x) => x.name === k.node);
  const model = n?.models?.find((m) => m.name === k.name && m.version === k.version);
  return n && model ? { node: n.name, model, stats: statsOf(n, model), perf: perfOf(n, model), routing: routingOf(n, model.name) } : undefined;
}

/** Text the `/` filter matches: node, name, name@version, provider, loaded/unloaded, pusher, commit, dataset, meta as "k=v". */
export function modelFilterText(e: ModelEntry): string {
  const m = e.model;
  const meta = Object.entries(m.lineage.meta).map(([k, v]) => `${k}=${v}`);
  return [e.node, `${m.name}@${m.version}`, m.loaded ? 'loaded' : 'unloaded', m.provider ?? '', m.pushed_by, m.lineage.git_commit ?? '', m.lineage.dataset_name ?? '', ...meta].join(' ');
}

/** A latency in µs as "850µs", "1.2ms", "38ms", "2.1s"; DASH when unknown. */
export function fmtLatency(us: number | null | undefined): string {
  if (!known(us)) return DASH;
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 10_000) return `${(us / 1000).toFixed(1)}ms`;
  if (us < 1_000_000) return `${Math.round(us / 1000)}ms`;
  return `${(us / 1_000_000).toFixed(1)}s`;
}

/** A request rate as "0.4", "12", "1.2k"; DASH when unknown (first poll, or no figures). */
export function fmtRps(v: number | null | undefined): string {
  if (!known(v)) return DASH;
  if (v < 10) return v.toFixed(1);
  if (v < 10_000) return String(Math.round(v));
  return `${(v / 1000).toFixed(1)}k`;
}

/** "yes (cuda)", "yes" without a provider, "no". */
export function fmtLoaded(m: Pick<ModelVersion, 'loaded' | 'provider'>): string {
  return m.loaded ? (m.provider ? `yes (${m.provider})` : 'yes') : 'no';
}

/** p50 with its queue/compute split: "1.2ms (90µs/1.1ms)"; only p50 when the split is unknown; DASH when all are. */
export function fmtP50(s: ModelStatsRow | null): string {
  const l = s?.latency_us;
  if (!l) return DASH;
  const split = known(l.queue_p50) || known(l.compute_p50) ? ` (${fmtLatency(l.queue_p50)}/${fmtLatency(l.compute_p50)})` : '';
  return `${fmtLatency(l.p50)}${split}`;
}

/** Error count, DASH when unknown. */
export function fmtErrors(s: ModelStatsRow | null): string {
  return s ? String(s.errors) : DASH;
}

/** Mean rows per session run ("1.0" without batching), DASH when unknown. */
export function fmtBatch(s: ModelStatsRow | null): string {
  const b = s?.avg_batch;
  return b === null || b === undefined ? DASH : b.toFixed(1);
}

/** A tensor shape as "[batch, 3, 224, 224]" (symbolic dimensions by name; "[]" for a scalar). */
export function fmtShape(t: Pick<TensorSpec, 'shape'>): string {
  return `[${t.shape.join(', ')}]`;
}

/** An age that fits the PUSHED column: "2h", "30m", "5h12m", "3d4h", and only the larger unit past six characters ("412d"). */
export function fmtPushedAge(ms: number): string {
  const a = fmtAge(ms);
  return a.length > 6 ? a.replace(/^(\d+[a-z]).*$/, '$1') : a;
}

/** A metric in three significant digits ("0.750", "12.3", "1.23e+4"). */
const sig3 = (v: number) => (Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toPrecision(3));

/** The LIVE cell: "acc 0.750" for a classifier, "mae 0.123" for a regressor; DASH with no labels in the last hour. */
export function fmtLive(p: ModelPerfRow | null | undefined): string {
  if (!p || p.task === null) return DASH;
  if (p.task === 'classification') return p.accuracy === null ? DASH : `acc ${p.accuracy.toFixed(3)}`;
  return p.mae === null ? DASH : `mae ${sig3(p.mae)}`;
}

/** The detail line of live performance: every metric of the task and the counts; a hint without labels. */
export function fmtLiveDetail(p: ModelPerfRow | null | undefined): string {
  if (!p) return `${DASH} (no requests kept for feedback)`;
  const counts = `${p.labelled} labelled of ${p.requests} kept · ${p.window}`;
  if (p.task === null) return `${DASH} (${counts}; send labels with: fleetml feedback send ${p.name} --file labels.csv)`;
  const f = (v: number | null) => (v === null ? DASH : sig3(v));
  return p.task === 'classification' ? `accuracy ${f(p.accuracy)} · f1 ${f(p.f1)} (${counts})` : `mae ${f(p.mae)} · rmse ${f(p.rmse)} (${counts})`;
}

/** Tone of a model row: errors yellow, loaded green, otherwise plain. */
export function modelTone(e: ModelEntry): Tone | undefined {
  if (e.stats && e.stats.errors > 0) return 'warn';
  return e.model.loaded ? 'ok' : undefined;
}

/** Cells of one model row, aligned with MODEL_COLUMNS; `now` in ms (pure: the caller reads the clock). */
export function modelRow(e: ModelEntry, now: number): string[] {
  const m = e.model;
  return [e.node, m.name, m.version, fmtLoaded(m), fmtRps(e.stats?.requests_per_s), fmtP50(e.stats), fmtLatency(e.stats?.latency_us.p95), fmtErrors(e.stats), fmtLive(e.perf), fmtBytes(m.size_bytes), fmtPushedAge(now - m.pushed_at)];
}

/** One-line summary: "5 versions of 2 models · 3 loaded". */
export function modelCounts(entries: readonly ModelEntry[]): string {
  const names = new Set(entries.map((e) => e.model.name)).size;
  const loaded = entries.filter((e) => e.model.loaded).length;
  const parts = [`${entries.length} version${entries.length === 1 ? '' : 's'} of ${names} model${names === 1 ? '' : 's'}`];
  if (loaded) parts.push(`${loaded} loaded`);
  return parts.join(' · ');
}
