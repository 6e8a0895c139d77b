// Pure parts of `fleetml rollout …`: --gate, --steps, --step-duration, the CSV test set, --nodes (names or labels),
// the coordinator choice, and the rollout.start params built from the flags. Every caller mistake is a UsageError
// (exit code 2) that shows what is accepted. Nothing here opens a file or a socket: the command reads, this decides.
import { GateMetric, RolloutStartParams, RolloutStrategy, type TestSet } from '../../shared/protocol/rollout.js';
import { parseDuration, parseIntArg } from './job.js';
import { UsageError } from '../output.js';

/** --gate "accuracy>=0.9": the metric and its absolute bound. */
export interface Gate { metric: GateMetric; bound: number }

/** Which way each metric must go: accuracy and f1 are better higher (>=), mae and rmse lower (<=). */
export const GATE_OPERATOR: Record<GateMetric, '>=' | '<='> = { accuracy: '>=', f1: '>=', mae: '<=', rmse: '<=' };

/** Parse --gate: METRIC>=X (accuracy, f1) or METRIC<=X (mae, rmse); the operator must match the metric's direction. */
export function parseGate(v: string): Gate {
  const m = /^\s*([a-z0-9]+)\s*(>=|<=|=>|=<|>|<|=)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i.exec(v);
  const eg = 'e.g. --gate "accuracy>=0.9" or --gate "rmse<=12.5"';
  if (!m) throw new UsageError(`--gate "${v}": use METRIC>=X or METRIC<=X, ${eg}`);
  const metric = m[1].toLowerCase();
  const r = GateMetric.safeParse(metric);
  if (!r.success) throw new UsageError(`--gate "${v}": unknown metric "${m[1]}"; use one of ${GateMetric.options.join(', ')}`);
  const op = m[2];
  const want = GATE_OPERATOR[r.data];
  if (op !== want) {
    const why = want === '>=' ? 'higher is better' : 'lower is better';
    throw new UsageError(`--gate "${v}": ${r.data} needs ${want} (${why}), e.g. --gate "${r.data}${want}${m[3]}"`);
  }
  const bound = Number(m[3]);
  if ((r.data === 'accuracy' || r.data === 'f1') && (bound < 0 || bound > 1)) throw new UsageError(`--gate "${v}": ${r.data} is between 0 and 1, e.g. --gate "${r.data}>=0.9"`);
  if ((r.data === 'mae' || r.data === 'rmse') && bound < 0) throw new UsageError(`--gate "${v}": ${r.data} is never negative`);
  return { metric: r.data, bound };
}

/** Parse --steps "10,50,100": increasing whole percentages 1-100 (the last canary step must be 100, checked with the strategy). */
export function parseSteps(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim().replace(/%$/, ''));
  const eg = 'e.g. --steps 10,50,100';
  if (!parts.length || parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`--steps "${v}": give increasing percentages separated by commas, ${eg}`);
  const steps = parts.map(Number);
  if (steps.some((s) => s < 1 || s > 100)) throw new UsageError(`--steps "${v}": every step is a percentage from 1 to 100, ${eg}`);
  for (let i = 1; i < steps.length; i++) if (steps[i] <= steps[i - 1]) throw new UsageError(`--steps "${v}": steps must increase, ${eg}`);
  if (steps.length > 20) throw new UsageError(`--steps "${v}": at most 20 steps`);
  return steps;
}

/** Parse --step-duration: 30s, 5m, 1h (or a bare number of seconds), 1 s to 7 days. */
export function parseStepDuration(v: string): number {
  const s = parseDuration(v, '--step-duration');
  if (s < 1 || s > 7 * 86_400) throw new UsageError(`--step-duration "${v}": between 1s and 7d, e.g. --step-duration 5m`);
  return s;
}

/** A number flag with bounds (fractions allowed): --max-error-rate 0.01, --max-p95-ratio 1.5, … */
export function parseBoundedNumber(v: string, flag: string, min: number, max = Number.POSITIVE_INFINITY, eg = ''): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    const range = max === Number.POSITIVE_INFINITY ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${flag} "${v}": give a number ${range}${eg ? `, e.g. ${flag} ${eg}` : ''}`);
  }
  return n;
}

/** Split one CSV line (RFC 4180 quotes; no newlines inside a field). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"') { if (line[i + 1] === '"') { cur += '"'; i++; } else quoted = false; } else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out.map((c) => c.trim());
}

/** Cells that mean "missing" in a feature column (sent as null). */
const MISSING = new Set(['', 'na', 'nan', 'null', 'none']);

/**
 * The labelled test set of --test-set FILE (CSV): a header row, then one row per example. The label column (`label`,
 * or --label-column) holds a number per row; every other column is a feature, in file order, as a number or empty
 * (null). Blank lines are skipped. `source` names the file in errors.
 */
export function parseTestSetCsv(text: string, opts: { labelColumn?: string; source?: string; name?: string } = {}): TestSet & { features: string[] } {
  const src = opts.source ?? '--test-set';
  const want = opts.labelColumn ?? 'label';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let i = 0;
  while (i < lines.length && !lines[i].trim()) i++;
  if (i >= lines.length) throw new UsageError(`${src}: the file is empty; give a CSV with a header row (features and a "${want}" column), then one row per example`);
  const header = splitCsvLine(lines[i]);
  const at = header.indexOf(want);
  if (at < 0) {
    const flag = opts.labelColumn === undefined ? '; name another with --label-column NAME' : '';
    throw new UsageError(`${src}: no "${want}" column in the header (${header.join(', ')})${flag}`);
  }
  if (header.length < 2) throw new UsageError(`${src}: only the label column; the other columns are the model's features, in input order`);
  const features = header.filter((_, k) => k !== at);
  const rows: Array<Array<number | null>> = [];
  const labels: number[] = [];
  for (let n = i + 1; n < lines.length; n++) {
    if (!lines[n].trim()) continue;
    const cells = splitCsvLine(lines[n]);
    const where = `${src} line ${n + 1}`;
    if (cells.length !== header.length) throw new UsageError(`${where}: ${cells.length} columns, the header has ${header.length}`);
    const row: Array<number | null> = [];
    cells.forEach((c, k) => {
      if (k === at) {
        const y = Number(c);
        if (c === '' || !Number.isFinite(y)) throw new UsageError(`${where}: label "${c}" is not a number (labels are class indexes or target values)`);
        labels.push(y);
        return;
      }
      if (MISSING.has(c.toLowerCase())) { row.push(null); return; }
      const x = Number(c);
      if (!Number.isFinite(x)) throw new UsageError(`${where}: ${header[k]} "${c}" is not a number; encode categories as numbers first`);
      row.push(x);
    });
    rows.push(row);
  }
  if (!rows.length) throw new UsageError(`${src}: a header but no rows; give at least one labelled example`);
  if (rows.length > 50_000) throw new UsageError(`${src}: ${rows.length} rows; at most 50000 (sample it down)`);
  if (features.length > 4096) throw new UsageError(`${src}: ${features.length} feature columns; at most 4096`);
  return { ...(opts.name ? { name: opts.name.slice(0, 256) } : {}), rows, labels, features };
}

/** --nodes: a list of node names, or a label selector (every pair must match). */
export type NodeSelector = { kind: 'names'; names: string[] } | { kind: 'labels'; labels: Record<string, string> };

/** Parse --nodes "a,b,c" (names) or "gpu=a100,zone=eu" (labels); mixing both is an error. */
export function parseNodeSelector(v: string): NodeSelector {
  const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new UsageError('--nodes needs node names (a,b,c) or a label selector (gpu=a100); list the nodes with: fleetml nodes');
  const withEq = parts.filter((p) => p.includes('='));
  if (withEq.length && withEq.length !== parts.length) throw new UsageError(`--nodes "${v}": either node names (a,b,c) or labels (k=v,k2=v2), not both`);
  if (!withEq.length) {
    const dup = parts.find((p, k) => parts.indexOf(p) !== k);
    if (dup) throw new UsageError(`--nodes "${v}": ${dup} is given twice`);
    return { kind: 'names', names: parts };
  }
  const labels: Record<string, string> = {};
  for (const p of parts) {
    const k = p.slice(0, p.indexOf('='));
    if (!/^[A-Za-z0-9._/-]{1,63}$/.test(k)) throw new UsageError(`--nodes "${v}": "${k}" is not a label key (1-63 of A-Z a-z 0-9 . _ / -)`);
    if (Object.hasOwn(labels, k)) throw new UsageError(`--nodes "${v}": ${k} is given twice`);
    labels[k] = p.slice(p.indexOf('=') + 1);
  }
  return { kind: 'labels', labels };
}

/** What the command knows of one inventory target: its inventory name, and (when it answered node.info) its own name and labels. */
export interface KnownNode { target: string; name: string | null; labels: Record<string, string> | null; error?: string | null }

/**
 * The agents' own names (node.info) of the nodes a rollout covers: --all (every target) or --nodes. The coordinator
 * knows its peers by their agent names, so those are sent; a target that did not answer keeps its inventory name
 * (the coordinator judges it) and a warning says so. A label selector can only judge nodes that answered.
 */
export function resolveRolloutNodes(sel: NodeSelector | 'all', nodes: readonly KnownNode[]): { names: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const nameOf = (n: KnownNode) => {
    if (n.name !== null) return n.name;
    warnings.push(`${n.target}: not reachable (${n.error ?? 'no node.info'}); sent by its inventory name`);
    return n.target;
  };
  let picked: KnownNode[];
  if (sel === 'all') picked = [...nodes];
  else if (sel.kind === 'names') {
    picked = sel.names.map((want) => {
      const hit = nodes.find((n) => n.target === want) ?? nodes.find((n) => n.name === want);
      if (hit) return hit;
      // Not a known target: it may be one of the coordinator's peers (e.g. with --url to a single agent). The name is
      // sent as given; the coordinator refuses a name it does not know, listing the ones it does.
      warnings.push(`--nodes: "${want}" is not among ${nodes.map((n) => n.target).join(', ')}; sent as given (a peer of the coordinator?)`);
      return { target: want, name: want, labels: null };
    });
  } else {
    const keys = Object.keys(sel.labels);
    for (const n of nodes) if (n.labels === null) warnings.push(`${n.target}: not reachable (${n.error ?? 'no node.info'}); its labels are unknown, left out`);
    picked = nodes.filter((n) => n.labels !== null && keys.every((k) => n.labels![k] === sel.labels[k]));
    if (!picked.length) {
      const shown = Object.entries(sel.labels).map(([k, v]) => `${k}=${v}`).join(',');
      throw new UsageError(`--nodes ${shown}: no reachable node carries these labels; see the labels with: fleetml nodes -o json`);
    }
  }
  const names = [...new Set(picked.map(nameOf))];
  return { names, warnings };
}

/** The coordinator: --coordinator NAME (an inventory target), else the only target, else the first one. */
export function chooseCoordinator(targets: readonly string[], coordinator: string | undefined): string {
  if (!targets.length) throw new Error('no agent to talk to; add one with: fleetml cluster add NAME URL --token-file FILE');
  if (coordinator === undefined) return targets[0];
  if (!targets.includes(coordinator)) throw new UsageError(`--coordinator: no node named "${coordinator}" among ${targets.join(', ')}; list them with: fleetml nodes`);
  return coordinator;
}

/** The flags of `rollout start` as commander hands them over (strings). */
export interface RolloutStartFlags {
  to?: string; from?: string; nodes?: string; all?: boolean; strategy?: string; steps?: string; stepDuration?: string; maxUnavailable?: string;
  testSet?: string; labelColumn?: string; gate?: string; maxRegression?: string;
  maxErrorRate?: string; maxP95Ratio?: string; maxDrift?: string; minRequests?: string; maxWaits?: string;
  dryRun?: boolean; reason?: string; coordinator?: string;
}

/** What `rollout start` does: the params (test set and nodes filled in by the command) and how to pick the nodes. */
export interface RolloutStartPlan {
  /** rollout.start params without `nodes` and the gate's test set. */
  params: Omit<RolloutStartParams, 'nodes' | 'gate'>;
  gate: (Gate & { max_regression?: number }) | null;
  nodes: NodeSelector | 'all' | null;
}

/** Which flag a params field comes from, for usage errors. */
const START_FLAGS: Record<string, string> = {
  name: 'MODEL', to: '--to', from: '--from', nodes: '--nodes', strategy: '--strategy', steps: '--steps', step_duration_s: '--step-duration',
  max_unavailable: '--max-unavailable', gate: '--gate', analysis: 'analysis', reason: '--reason',
};

/**
 * The rollout.start params of `fleetml rollout start MODEL …`, checked against the protocol before any agent is
 * contacted. Impossible combinations fail at once: --nodes with --all, --gate without --test-set (and back),
 * --max-regression without a gate, --steps for a strategy without steps, --max-unavailable outside rolling.
 */
export function buildRolloutStart(model: string, f: RolloutStartFlags): RolloutStartPlan {
  const eg = `e.g. fleetml rollout start ${model || 'fraud'} --to 4 --all --steps 10,50,100`;
  if (!f.to) throw new UsageError(`--to VERSION is required: the version to roll out, ${eg}`);
  if (f.nodes !== undefined && f.all) throw new UsageError('--nodes and --all exclude each other: --nodes picks nodes by name or label, --all takes every node');
  if (f.gate !== undefined && f.testSet === undefined) throw new UsageError('--gate needs --test-set FILE: the labelled CSV the candidate is scored on');
  if (f.testSet !== undefined && f.gate === undefined) throw new UsageError('--test-set needs --gate, e.g. --gate "accuracy>=0.9" (or "rmse<=12.5" for a regressor)');
  if (f.maxRegression !== undefined && f.gate === undefined) throw new UsageError('--max-regression applies to the test gate: give --test-set FILE --gate "accuracy>=0.9" too');
  if (f.labelColumn !== undefined && f.testSet === undefined) throw new UsageError('--label-column applies to --test-set FILE');
  const strategy = f.strategy ?? 'canary';
  const st = RolloutStrategy.safeParse(strategy);
  if (!st.success) throw new UsageError(`--strategy "${strategy}": use one of ${RolloutStrategy.options.join(', ')}`);
  if (f.steps !== undefined && (st.data === 'rolling' || st.data === 'all-at-once')) {
    throw new UsageError(`--steps applies to canary and shadow rollouts; ${st.data} switches whole nodes${st.data === 'rolling' ? ' (set the wave size with --max-unavailable)' : ''}`);
  }
  if (f.maxUnavailable !== undefined && st.data !== 'rolling') throw new UsageError(`--max-unavailable applies to --strategy rolling (nodes switched per wave), not ${st.data}`);

  const steps = f.steps !== undefined ? parseSteps(f.steps) : undefined;
  if (steps && st.data === 'canary' && steps[steps.length - 1] !== 100) throw new UsageError(`--steps "${f.steps}": the last canary step must be 100 (the candidate takes all traffic), e.g. --steps 10,50,100`);
  const analysis: Record<string, number> = {};
  if (f.maxErrorRate !== undefined) analysis.max_error_rate = parseBoundedNumber(f.maxErrorRate, '--max-error-rate', 0, 1, '0.01');
  if (f.maxP95Ratio !== undefined) analysis.max_p95_ratio = parseBoundedNumber(f.maxP95Ratio, '--max-p95-ratio', 1, Number.POSITIVE_INFINITY, '1.5');
  if (f.maxDrift !== undefined) analysis.max_drift = parseBoundedNumber(f.maxDrift, '--max-drift', 0, Number.POSITIVE_INFINITY, '0.2');
  if (f.minRequests !== undefined) analysis.min_requests = parseIntArg(f.minRequests, '--min-requests', 1, 1e9);
  if (f.maxWaits !== undefined) analysis.max_waits = parseIntArg(f.maxWaits, '--max-waits', 0, 100);
  const gate = f.gate !== undefined ? {
    ...parseGate(f.gate),
    ...(f.maxRegression !== undefined ? { max_regression: parseBoundedNumber(f.maxRegression, '--max-regression', 0, Number.POSITIVE_INFINITY, '0.01') } : {}),
  } : null;
  const raw = {
    name: model, to: f.to, ...(f.from !== undefined ? { from: f.from } : {}), strategy: st.data,
    ...(steps ? { steps } : {}),
    ...(f.stepDuration !== undefined ? { step_duration_s: parseStepDuration(f.stepDuration) } : {}),
    ...(f.maxUnavailable !== undefined ? { max_unavailable: parseIntArg(f.maxUnavailable, '--max-unavailable', 1, 256) } : {}),
    analysis,
    dry_run: Boolean(f.dryRun),
    ...(f.reason !== undefined ? { reason: f.reason } : {}),
  };
  // The protocol's own checks (names, versions, steps vs strategy, from ≠ to) with the flag named.
  const r = RolloutStartParams.safeParse(raw);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const flag = START_FLAGS[key] ?? key;
      const val = key === 'name' ? model : (raw as Record<string, unknown>)[key];
      return `${flag}${typeof val === 'string' ? ` "${val}"` : ''}: ${i.message}`;
    });
    throw new UsageError(`${msgs.join('; ')}; ${eg}`);
  }
  // Send what the user gave (the agent fills its defaults), not the parsed output.
  return { params: raw, gate, nodes: f.all ? 'all' : f.nodes !== undefined ? parseNodeSelector(f.nodes) : null };
}
