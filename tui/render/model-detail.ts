// Pure rendering of the model detail view: signature, lineage, content hash, who pushed it, and serving figures.
import type { TensorSpec } from '../../shared/protocol/models.js';
import { DASH, fmtBytes } from './format.js';
import { fmtTime, type DetailLine } from './job-detail.js';
import { fmtAge } from './job-row.js';
import { fmtBatch, fmtLatency, fmtLiveDetail, fmtLoaded, fmtRps, fmtShape, modelTone, type ModelEntry } from './model-row.js';

const KEY_W = 11;
const field = (k: string, v: string): DetailLine => ({ text: `  ${k.padEnd(KEY_W)} ${v}` });

/** A sha256 as its first 12 hex digits (enough to tell versions apart). */
export function shortSha(sha: string | null): string {
  return sha ? sha.slice(0, 12) : DASH;
}

/** Signature lines of one side ("in"/"out"): name, dtype, shape, aligned. */
function tensorLines(dir: string, ts: readonly TensorSpec[]): DetailLine[] {
  if (ts.length === 0) return [field(dir, DASH)];
  const nameW = Math.max(...ts.map((t) => t.name.length));
  const typeW = Math.max(...ts.map((t) => t.dtype.length));
  return ts.map((t, i) => field(i === 0 ? dir : '', `${t.name.padEnd(nameW)}  ${t.dtype.padEnd(typeW)}  ${fmtShape(t)}`));
}

/** This version's share of its name's traffic: "60% (v2 60% · v1 40%)", or that no alias routes the name. */
export function trafficText(e: Pick<ModelEntry, 'model' | 'routing'>): string {
  const r = e.routing;
  if (!r || r.length === 0) return `${DASH} (no traffic split: requests without a version go to the newest; <a> sets one)`;
  const mine = r.find((t) => t.version === e.model.version)?.weight ?? 0;
  return `${mine}% (${r.map((t) => `${t.version} ${t.weight}%`).join(' · ')})`;
}

/** The lines of the model detail view, top to bottom; `now` in ms. Unknown figures render as DASH. */
export function modelDetailLines(e: ModelEntry, now: number): DetailLine[] {
  const m = e.model;
  const l = m.lineage;
  const s = e.stats;
  const out: DetailLine[] = [];
  out.push({ text: `${m.name}@${m.version} on ${e.node}: ${m.loaded ? `LOADED${m.provider ? ` (${m.provider})` : ''}` : 'NOT LOADED'}`, bold: true, tone: modelTone(e) });
  out.push(field('sha256', m.sha256));
  out.push(field('size', fmtBytes(m.size_bytes)));
  out.push(field('pushed', `${fmtTime(m.pushed_at)} (${fmtAge(now - m.pushed_at)} ago) by ${m.pushed_by}`));
  out.push({ text: 'SIGNATURE', bold: true });
  out.push(...tensorLines('inputs', m.inputs), ...tensorLines('outputs', m.outputs));
  out.push({ text: 'LINEAGE', bold: true });
  out.push(field('commit', l.git_commit ?? DASH));
  const ds = [l.dataset_sha256 ? shortSha(l.dataset_sha256) : '', l.dataset_name ?? ''].filter(Boolean).join(' ');
  out.push(field('dataset', ds || DASH));
  const meta = Object.entries(l.meta);
  if (meta.length === 0) out.push(field('meta', DASH));
  meta.forEach(([k, v], i) => out.push(field(i === 0 ? 'meta' : '', `${k}=${v}`)));
  out.push({ text: 'SERVING', bold: true });
  out.push(field('loaded', fmtLoaded(m)));
  if (e.routing !== undefined) out.push(field('traffic', trafficText(e)));
  out.push(field('live', fmtLiveDetail(e.perf)));
  if (!s) {
    out.push(field('figures', `${DASH} (${m.loaded ? 'not reported yet' : 'not loaded'})`));
    return out;
  }
  const errPct = s.requests > 0 && s.errors > 0 ? ` (${((100 * s.errors) / s.requests).toFixed(1)}%)` : '';
  out.push(field('requests', `${s.requests} total · ${fmtRps(s.requests_per_s)} req/s · ${s.in_flight} in flight`));
  out.push({ ...field('errors', `${s.errors}${errPct}`), tone: s.errors > 0 ? 'warn' : undefined });
  const lat = s.latency_us;
  out.push(field('latency', `p50 ${fmtLatency(lat.p50)} (queue ${fmtLatency(lat.queue_p50)} · compute ${fmtLatency(lat.compute_p50)}) · p95 ${fmtLatency(lat.p95)}`));
  out.push(field('batch', `${fmtBatch(s)} rows per run (mean)`));
  return out;
}
