// `fleetml drift show|reference|history|config`: drift monitoring of the models each agent serves.
// Drift is judged per node (each agent profiles its own traffic), so a reading command talks to one node: --node N,
// else the only target, else the one node that knows the model (several → the user picks with --node). Changing
// commands (reference, config --set/--reset) act on --node N, the only target, or every reachable node with --all.
// -o json prints the agent's result as is for reading commands, {results: [{node, result, error}]} for changing ones.
import type { Command } from 'commander';
import type { z } from 'zod';
import { RpcCallError, type AgentClient } from '../../shared/client/agent-client.js';
import type { TargetOptions } from '../../shared/client/targets.js';
import { DriftConfigParams, DriftHistoryParams, DriftReportParams, DriftSetReferenceParams, DriftSettings } from '../../shared/protocol/drift.js';
import { targetOptions } from '../common.js';
import { formatConfig, formatHistograms, formatHistory, formatReferenceResult, formatReport } from '../format/drift.js';
import { checkReferenceFile, explainDriftError, referenceFormat } from '../drift-upload.js';
import { uploadReferenceFile, type SetReferenceResult } from '../../shared/client/drift-upload.js';
import { chooseNodes, downNote, pickNode, upConns, withConns, type NodeConn } from '../node-conn.js';
import { parseNodeChoice, type NodeChoice } from '../args/model.js';
import { parseOutput, printJson, UsageError } from '../output.js';

const isNotFound = (e: unknown) => e instanceof RpcCallError && (e.codeName === 'NOT_FOUND' || e.codeName === 'METHOD_NOT_FOUND');

/** Which flag each params field comes from, for usage errors. */
const FLAGS: Record<string, string> = {
  version: '--version', window: '--window', feature: '--feature', limit: '--limit', from_traffic: '--from-traffic', format: '--format', set: '--set-json',
};

/**
 * Check params against the method's schema before any agent is contacted; a failure is a UsageError naming the
 * flag and the rule, e.g. `--window "90"`: a window is a duration like 5m, 1h, 24h.
 */
export function checkParams<S extends z.ZodType>(schema: S, params: Record<string, unknown>, example = 'fleetml drift show fraud --version 3 --window 1h'): z.output<S> {
  const r = schema.safeParse(params);
  if (r.success) return r.data;
  const msgs = r.error.issues.map((i) => {
    const key = String(i.path[0] ?? '');
    const shown = key === 'name' ? `model name "${String(params.name)}"`
      : key === 'set' ? `--set-json${i.path.length > 1 ? ` ${i.path.slice(1).join('.')}` : ''}`
      : FLAGS[key] ? `${FLAGS[key]} "${String(params[key])}"` : key || 'arguments';
    return `${shown}: ${i.message}`;
  });
  throw new UsageError(`${msgs.join('; ')}; e.g. ${example}`);
}


/**
 * Run a reading call on the one node it is meant for: --node, the only target, or the one reachable node that knows
 * the model (asked in parallel). Several such nodes is a usage error that lists them.
 */
async function onOneNode<T>(conns: readonly NodeConn[], node: string | undefined, model: string, method: string, call: (c: AgentClient) => Promise<T>): Promise<{ node: string; value: T }> {
  const direct = node !== undefined ? pickNode(conns, node) : conns.length === 1 ? conns[0] : null;
  if (direct) {
    if (!direct.client) throw new Error(`node ${direct.name} is not reachable: ${direct.error}; check it with: fleetml nodes`);
    try { return { node: direct.name, value: await call(direct.client) }; } catch (e) { throw explainDriftError(e, direct.name, method, model); }
  }
  const up = upConns(conns);
  if (!up.length) throw new Error(`no agent reachable${downNote(conns)}; check them with: fleetml nodes`);
  const res = await Promise.all(up.map(async (c) => {
    try { return { node: c.name, value: await call(c.client), error: null, missing: false }; } catch (e) {
      return { node: c.name, value: null, error: explainDriftError(e, c.name, method, model).message, missing: isNotFound(e) };
    }
  }));
  const hits = res.filter((r) => !r.error);
  if (hits.length === 1) return { node: hits[0].node, value: hits[0].value as T };
  if (hits.length > 1) throw new UsageError(`${model} is on ${hits.map((h) => h.node).join(', ')}: drift is per node, choose one with --node NAME`);
  const failed = res.filter((r) => !r.missing).map((r) => r.error);
  throw new Error(`no node knows model ${model}${failed.length ? ` (failed: ${failed.join('; ')})` : ''}${downNote(conns)}; list the models with: fleetml model list`);
}


/** Per-node outcome of a changing command. */
interface NodeResult<T> { node: string; result: T | null; error: string | null; missing: boolean }

/**
 * Print the outcome of a changing command: JSON, or a block per node and errors on stderr. With --all a node that
 * lacks the model is skipped (said on stderr), not a failure, unless no node has it.
 */
function report<T>(results: NodeResult<T>[], choice: NodeChoice, out: 'table' | 'json', render: (node: string, r: T) => string): void {
  const allMissing = results.every((r) => r.missing);
  if (results.some((r) => r.error && (!r.missing || choice.kind !== 'all' || allMissing))) process.exitCode = 1;
  if (out === 'json') return printJson({ results: results.map(({ node, result, error }) => ({ node, result, error })) });
  for (const r of results) {
    if (r.result) console.log(render(r.node, r.result));
    else if (r.missing && choice.kind === 'all' && !allMissing) console.error(`${r.node}: skipped: ${r.error}`);
    else console.error(r.error);
  }
}

/** `fleetml drift …` commands: declares each subcommand and its options; the actions follow. */
export function registerDriftCommands(program: Command): void {
  // `drift show … --version 3` must reach the subcommand, not the program's -V/--version (see models.ts).
  program.enablePositionalOptions();
  const drift = program.command('drift').description('drift monitoring of served models: per-feature scores vs a reference, history, alerts, settings')
    .addHelpText('after', `
Examples:
  fleetml drift reference fraud --from train.csv     # reference profile from a dataset (CSV with a header, or JSON lines)
  fleetml drift show fraud --window 24h --histograms  # per-feature drift of the newest version
  fleetml drift history fraud --limit 48              # closed windows and alerts
  fleetml drift config fraud --set-json '{"drift_share":0.3,"features":{"id":{"ignore":true}}}'`);
  const cmd = (name: string, desc: string) => targetOptions(drift.command(name).description(desc)).option('-o, --output <fmt>', 'table or json', 'table');

  cmd('show <model>', 'drift of one model version over a window vs its reference: per-feature scores, drift share, alert')
    .option('--version <v>', 'model version [the newest]')
    .option('--window <dur>', 'window to judge, e.g. 5m, 1h, 24h', '1h')
    .option('--feature <name>', 'histogram of this feature only (implies --histograms)')
    .option('--histograms', 'reference vs current histogram of each feature')
    .option('--node <name>', 'ask this node [the only target, or the one node serving the model]')
    .action(driftShowAction);

  cmd('reference <model>', 'give a model version its reference: a dataset (--from data.csv|data.jsonl) or the next N requests (--from-traffic N)')
    .option('--from <file>', 'dataset: CSV with a header row, or JSON lines (one object or array per line)')
    .option('--format <fmt>', 'csv or jsonl [from the file extension]')
    .option('--from-traffic <n>', 'build it from the next N requests served (10-1000000)')
    .option('--version <v>', 'model version [the newest]')
    .option('--node <name>', 'only this node')
    .option('--all', 'every node of the inventory (nodes without the model are skipped)')
    .action(driftReferenceAction);

  cmd('history <model>', 'drift of each closed window (oldest first) and the alerts of a model version')
    .option('--version <v>', 'model version [the newest]')
    .option('--limit <n>', 'at most N windows, the newest', '288')
    .option('--node <name>', 'ask this node [the only target, or the one node serving the model]')
    .action(driftHistoryAction);

  cmd('config <model>', 'the drift settings of a model (effective values; --set-json replaces the model overrides, --reset drops them)')
    .option('--set-json <json>', `replace the model's overrides, e.g. '{"numeric_method":"psi","thresholds":{"psi":0.25},"alert_after":3}'`)
    .option('--reset', 'drop the model overrides: back to the node defaults')
    .option('--node <name>', 'only this node')
    .option('--all', 'with --set-json/--reset: every node of the inventory')
    .action(driftConfigAction);
}

/** Options every `fleetml drift` subcommand takes: the targets, -o, --node and --version. */
export interface DriftCommonOpts extends TargetOptions { output?: string; node?: string; version?: string }
/** Options of `fleetml drift show`. */
export interface DriftShowOpts extends DriftCommonOpts { window: string; feature?: string; histograms?: boolean }
/** Options of `fleetml drift reference`. */
export interface DriftReferenceOpts extends DriftCommonOpts { from?: string; format?: string; fromTraffic?: string; all?: boolean }
/** Options of `fleetml drift history`. */
export interface DriftHistoryOpts extends DriftCommonOpts { limit: string }
/** Options of `fleetml drift config`. */
export interface DriftConfigOpts extends DriftCommonOpts { setJson?: string; reset?: boolean; all?: boolean }

/** `fleetml drift show MODEL`: the drift report of one version over --window, on the one node it is meant for. */
export async function driftShowAction(model: string, o: DriftShowOpts): Promise<void> {
  const out = parseOutput(o.output);
  const histograms = Boolean(o.histograms) || o.feature !== undefined;
  const params = checkParams(DriftReportParams, {
    name: model, ...(o.version !== undefined ? { version: o.version } : {}), window: o.window, histograms, ...(o.feature !== undefined ? { feature: o.feature } : {}),
  });
  await withConns(o, async (conns) => {
    const { node, value: r } = await onOneNode(conns, o.node, params.name, 'drift.report', (c) => c.call('drift.report', params));
    if (out === 'json') return printJson(r);
    const now = Date.now();
    console.log(formatReport(r, now, conns.length > 1 ? node : undefined));
    if (histograms) {
      const shown = o.feature !== undefined ? { ...r, features: r.features.filter((f) => f.name === o.feature) } : r;
      console.log('');
      console.log(shown.features.length ? formatHistograms(shown) : `no feature ${o.feature} in ${r.name} ${r.version}; the features are: ${r.features.map((f) => f.name).join(', ') || '-'}`);
    }
  });
}

/** `fleetml drift reference MODEL`: a reference from --from FILE (checked whole first) or --from-traffic N, on the chosen nodes. */
export async function driftReferenceAction(model: string, o: DriftReferenceOpts): Promise<void> {
  const out = parseOutput(o.output);
  const choice = parseNodeChoice(o);
  if ((o.from === undefined) === (o.fromTraffic === undefined)) {
    throw new UsageError(`give either --from FILE (a CSV or JSON lines dataset) or --from-traffic N, e.g. fleetml drift reference ${model} --from train.csv`);
  }
  if (o.format !== undefined && o.from === undefined) throw new UsageError('--format applies to --from FILE only');
  const version = o.version !== undefined ? { version: o.version } : {};
  let traffic: number | undefined;
  if (o.fromTraffic !== undefined) {
    traffic = /^\d+$/.test(o.fromTraffic) ? Number(o.fromTraffic) : NaN;
    if (!Number.isSafeInteger(traffic)) throw new UsageError(`--from-traffic "${o.fromTraffic}": give a number of requests, e.g. --from-traffic 5000`);
  }
  const format = o.from !== undefined ? referenceFormat(o.from, o.format) : undefined;
  // the schema check covers name, version and --from-traffic's range; data is checked by the chunker below
  const base = checkParams(DriftSetReferenceParams, { name: model, ...version, ...(traffic !== undefined ? { from_traffic: traffic } : { format, data: '' }) }, 'fleetml drift reference fraud --version 3 --from train.csv (or --from-traffic 5000)');
  if (o.from !== undefined) await checkReferenceFile(o.from, '--from');
  await withConns(o, async (conns) => {
    const nodes = chooseNodes(conns, choice, 'set it');
    if (choice.kind === 'all') for (const c of conns) if (!c.client) console.error(`${c.name}: not reachable, skipped: ${c.error}`);
    const progress = out === 'table' && Boolean(process.stderr.isTTY) && nodes.length === 1;
    const results = await Promise.all(nodes.map(async (c): Promise<NodeResult<SetReferenceResult>> => {
      try {
        const r = o.from !== undefined
          ? await uploadReferenceFile(c.client, o.from, { name: base.name, ...version, format: format! }, {
            onProgress: progress ? (rows) => process.stderr.write(`\r${c.name}: ${rows} rows sent`) : undefined,
          })
          : await c.client.call('drift.setReference', { name: base.name, ...version, from_traffic: traffic! });
        return { node: c.name, result: r, error: null, missing: false };
      } catch (e) {
        return { node: c.name, result: null, error: explainDriftError(e, c.name, 'drift.setReference', base.name).message, missing: isNotFound(e) };
      } finally { if (progress && o.from !== undefined) process.stderr.write('\n'); }
    }));
    const now = Date.now();
    report(results, choice, out, (node, r) => formatReferenceResult(r, base.name, now, conns.length > 1 ? node : undefined));
  });
}

/** `fleetml drift history MODEL`: closed windows and alerts of one version. */
export async function driftHistoryAction(model: string, o: DriftHistoryOpts): Promise<void> {
  const out = parseOutput(o.output);
  const limit = /^\d+$/.test(o.limit) ? Number(o.limit) : o.limit;
  const params = checkParams(DriftHistoryParams, { name: model, ...(o.version !== undefined ? { version: o.version } : {}), limit }, 'fleetml drift history fraud --version 3 --limit 48');
  await withConns(o, async (conns) => {
    const { node, value: h } = await onOneNode(conns, o.node, params.name, 'drift.history', (c) => c.call('drift.history', params));
    if (out === 'json') return printJson(h);
    console.log(formatHistory(h, conns.length > 1 ? node : undefined));
  });
}

/** `fleetml drift config MODEL`: read the settings (one node), or replace/reset the overrides on the chosen nodes. */
export async function driftConfigAction(model: string, o: DriftConfigOpts): Promise<void> {
  const out = parseOutput(o.output);
  if (o.setJson !== undefined && o.reset) throw new UsageError('--set-json and --reset exclude each other: --set-json replaces the overrides, --reset removes them');
  const setting = o.setJson !== undefined || Boolean(o.reset);
  if (o.all && !setting) throw new UsageError('--all applies to --set-json or --reset; to read the settings give --node NAME');
  let set: DriftSettings | null | undefined;
  if (o.setJson !== undefined) {
    try { set = JSON.parse(o.setJson); } catch (e) {
      throw new UsageError(`--set-json: not valid JSON (${(e as Error).message}); e.g. --set-json '{"drift_share":0.3}'`);
    }
  } else if (o.reset) set = null;
  const params = checkParams(DriftConfigParams, { name: model, ...(setting ? { set } : {}) }, `fleetml drift config fraud --set-json '{"drift_share":0.3,"thresholds":{"psi":0.25}}'`);
  await withConns(o, async (conns) => {
    const node = (n: string) => (conns.length > 1 ? n : undefined);
    if (!setting) {
      const r = await onOneNode(conns, o.node, params.name, 'drift.config', (c) => c.call('drift.config', params));
      if (out === 'json') return printJson(r.value);
      console.log(formatConfig(r.value, node(r.node)));
      return;
    }
    const choice = parseNodeChoice(o);
    const nodes = chooseNodes(conns, choice, 'change it');
    if (choice.kind === 'all') for (const c of conns) if (!c.client) console.error(`${c.name}: not reachable, skipped: ${c.error}`);
    const results = await Promise.all(nodes.map(async (c) => {
      try { return { node: c.name, result: await c.client.call('drift.config', params), error: null, missing: false }; } catch (e) {
        return { node: c.name, result: null, error: explainDriftError(e, c.name, 'drift.config', params.name).message, missing: isNotFound(e) };
      }
    }));
    report(results, choice, out, (n, r) => formatConfig(r, node(n)));
  });
}
