// What the coordinator measures, through NodeCall (the nodes' own model.stats, drift.compare and model.evaluate):
// counters at a step's start, the figures of a step against the stable version on the same node, and the test gate.
// Judging the figures is plan.ts's (pure); these functions only gather them.
import type { AnalysisFigures, GateFigures, Rollout, TestSet } from '../../shared/protocol/index.js';
import { stageTestSet } from '../cluster/peers.js';
import { judgeGate } from './plan.js';
import type { Baseline, Baselines, NodeCall, Spec } from './types.js';

/** Share of shadow copies in the step whose answers differed (null before any was compared). */
export function shadowShare(now: { compared: number; disagreements: number } | null, then: { compared: number; disagreements: number } | null): number | null {
  if (!now) return null;
  const c = now.compared - (then && then.compared <= now.compared ? then.compared : 0);
  const d = now.disagreements - (then && then.disagreements <= now.disagreements ? then.disagreements : 0);
  return c > 0 ? d / c : null;
}

/** Counters and latency per node at a step's start. */
export async function snapshot(r: Rollout, call: NodeCall): Promise<Baselines> {
  const out: Baselines = {};
  for (const n of r.nodes) {
    const st = (await call(n.name, r.created_by, 'model.stats', { name: r.name })).models;
    const c = st.find((m) => m.version === r.to); const s = st.find((m) => m.version === n.stable);
    out[n.name] = { cand: { requests: c?.requests ?? 0, errors: c?.errors ?? 0 }, stable: { requests: s?.requests ?? 0, errors: s?.errors ?? 0, p95: s?.latency_us.p95 ?? null }, shadow: c?.shadow ?? null };
  }
  return out;
}

/** Figures of the current step on every node that serves the candidate, against the stable version of the same node. */
export async function analyse(r: Rollout, spec: Spec, base: Baselines, call: NodeCall): Promise<AnalysisFigures[]> {
  const since = r.step_started_at!;
  const out: AnalysisFigures[] = [];
  for (const n of r.nodes.filter((x) => x.weight > 0 || r.strategy === 'shadow')) {
    // latency percentiles over this step's window only (counters are cumulative: deltas from the baseline below)
    const st = (await call(n.name, 'coordinator', 'model.stats', { name: r.name, since: Math.floor(since) })).models;
    const c = st.find((m) => m.version === r.to); const s = st.find((m) => m.version === n.stable);
    const b: Baseline = base[n.name] ?? { cand: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0, p95: null }, shadow: null };
    // A counter below its baseline means the node restarted: count from zero.
    const delta = (now: number, then: number) => (now >= then ? now - then : now);
    const cReq = delta(c?.requests ?? 0, b.cand.requests); const cErr = delta(c?.errors ?? 0, b.cand.errors);
    const sReq = delta(s?.requests ?? 0, b.stable.requests); const sErr = delta(s?.errors ?? 0, b.stable.errors);
    const cP95 = cReq > 0 ? c?.latency_us.p95 ?? null : null;
    // The stable p95 of the same window when it still served, else the one from before the switch.
    const sP95 = sReq > 0 ? s?.latency_us.p95 ?? null : b.stable.p95;
    let input: number | null = null; let output: number | null = null;
    if (n.stable) {
      const cmp = await call(n.name, 'coordinator', 'drift.compare', sReq > 0
        ? { name: r.name, a: r.to, b: n.stable, since }
        : { name: r.name, a: r.to, b: n.stable, since, b_since: since - spec.step_duration_s * 1000 * 2, b_until: since }).catch(() => null);
      input = cmp?.input_drift ?? null; output = cmp?.output_drift ?? null;
    }
    out.push({ node: n.name, candidate_requests: cReq, stable_requests: sReq,
      candidate_error_rate: cReq > 0 ? cErr / cReq : null, stable_error_rate: sReq > 0 ? sErr / sReq : null,
      candidate_p95_us: cP95, stable_p95_us: sP95, p95_ratio: cP95 !== null && sP95 ? cP95 / sP95 : null, input_drift: input, output_drift: output,
      ...(r.strategy === 'shadow' ? { disagreement: shadowShare(c?.shadow ?? null, b.shadow ?? null) } : {}) });
  }
  return out;
}

/**
 * The test gate on the rollout's first node: the candidate and (when there is one) the stable version scored on the
 * test set, judged by plan.ts's judgeGate. A metric that is not a number or does not apply to the model's task fails.
 */
export async function runGate(r: Rollout, gate: NonNullable<Spec['gate']>, testSet: TestSet, call: NodeCall, self?: string): Promise<{ pass: boolean; reason: string; figures: GateFigures }> {
  const target = r.nodes[0];
  const sets = await testSetOn(target.name, r.created_by, testSet, call, self);
  const cand = await call(target.name, r.created_by, 'model.evaluate', { name: r.name, version: r.to, ...sets(!target.stable) });
  const cur = target.stable ? await call(target.name, r.created_by, 'model.evaluate', { name: r.name, version: target.stable, ...sets(true) }) : null;
  const cv = cand[gate.metric]; const sv = cur ? cur[gate.metric] : null;
  const figures: GateFigures = { node: target.name, rows: cand.rows, metric: gate.metric, candidate: cv !== null && Number.isFinite(cv) ? cv : null, current: sv !== null && Number.isFinite(sv) ? sv : null, bound: gate.bound, max_regression: gate.max_regression, candidate_all: cand, current_all: cur };
  if (cv !== null && !Number.isFinite(cv)) return { pass: false, reason: `test gate on ${target.name}: ${gate.metric} of ${r.to} is not a number (its predictions hold NaN or the test set has missing values); the candidate never served traffic`, figures };
  if (cv === null) return { pass: false, reason: `${gate.metric} does not apply to ${r.name} ${r.to} (task ${cand.task}): choose ${cand.task === 'classification' ? 'accuracy or f1' : 'mae or rmse'}`, figures };
  const v = judgeGate(gate.metric, gate.bound, gate.max_regression, cv, sv);
  return v.outcome === 'pass'
    ? { pass: true, reason: `test gate on ${target.name}: ${v.reason}`, figures }
    : { pass: false, reason: `test gate on ${target.name}: ${v.reason}; the candidate never served traffic`, figures };
}

/**
 * How model.evaluate gets the test set on `node`: inline on the coordinator's own node (its dispatcher has no frame
 * limit), else staged there by rollout.uploadTestSet in chunks sized to the peer's frame limit, and released by the
 * last evaluation (`last` true). A peer older than protocol 1.7 (no rollout.uploadTestSet) gets it inline.
 */
async function testSetOn(node: string, by: string, testSet: TestSet, call: NodeCall, self?: string): Promise<(last: boolean) => { test_set: TestSet } | { test_set_id: string; release_test_set: boolean }> {
  const inline = () => ({ test_set: testSet });
  if (node === self) return inline;
  try {
    const staged = await stageTestSet((method, params) => call(node, by, method, params), testSet);
    return (last) => ({ test_set_id: staged.id, release_test_set: last });
  } catch (e) {
    if (/METHOD_NOT_FOUND|method not (found|implemented)/i.test(`${(e as { data?: { code?: string } }).data?.code ?? ''} ${(e as Error).message}`)) return inline;
    throw e;
  }
}
