// `fleetml model push|list|show|load|unload|rm|infer`: the ONNX model registry of every agent, and inference.
// Each agent keeps its own versioned, content-addressed registry; push uploads in 512 KiB chunks (model.push) to one
// node or, with --all, to every node in parallel. Reading commands ask every agent; one that is down is listed and
// skipped, never fatal by itself.
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { RpcCallError } from '../../shared/client/agent-client.js';
import type { TargetOptions } from '../../shared/client/targets.js';
import type { JsonTensor, ModelVersion } from '../../shared/protocol/models.js';
import { InferRequestId, type VersionPerformance } from '../../shared/protocol/feedback.js';
import { targetOptions } from '../common.js';
import { chooseNodes, downNote, onEach, pickNode, upConns, withConns, type NodeConn, type UpConn } from '../node-conn.js';
import {
  buildLineage, checkModelRef, parseAliasTargets, parseGitCommit, parseMeta, parseNodeChoice, readInferInput,
} from '../args/model.js';
import { pushModel, PUSH_CHUNK_BYTES, sha256File } from '../../shared/client/model-push.js';
import { formatTensor, MODEL_LIST_HEADERS, modelDetail, modelRow, pushedLine, sortModels } from '../format/model.js';
import { formatTable, parseOutput, printJson, UsageError } from '../output.js';
import { checkReferenceFile, explainDriftError, referenceFormat } from '../drift-upload.js';
import { uploadReferenceFile, type SetReferenceResult } from '../../shared/client/drift-upload.js';
import { formatReferenceResult } from '../format/drift.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const isNotFound = (e: unknown) => e instanceof RpcCallError && e.codeName === 'NOT_FOUND';
/** Loading, routing and inferring may take a while on big models. */
const SLOW_CALL_MS = 120_000;

/** Say what to try next for the agent errors a user can fix. */
function explain(e: unknown, node: string, what: string): Error {
  if (!(e instanceof RpcCallError)) return e instanceof Error ? e : new Error(String(e));
  const hint = e.codeName === 'FORBIDDEN' ? '; this needs a token with the operate role (create one with: fleetml token create --role operate)'
    : e.codeName === 'METHOD_NOT_FOUND' ? '; the agent is too old for model serving: upgrade it'
    : e.codeName === 'NOT_FOUND' ? '; list the models with: fleetml model list'
    : e.codeName === 'CONFLICT' && what === 'model.remove' ? '; unload it first with: fleetml model unload NAME --version V'
    : e.codeName === 'CONFLICT' && what === 'model.push' ? '; that version exists already: push with another --version (versions are immutable)'
    : e.codeName === 'TIMEOUT' ? '; the agent may still be working: check with: fleetml model list'
    : '';
  return new Error(`${what} on ${node} refused (${e.codeName}): ${e.message}${hint}`);
}



/** Unreachable targets, as -o json reports them and the table prints them on stderr. */
const unreachableOf = (conns: readonly NodeConn[]) => conns.filter((c) => !c.client).map((c) => ({ node: c.name, error: c.error }));

/** A file that must exist and be a regular file; otherwise a UsageError naming the flag. */
async function fileSize(path: string, what: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${what} ${path} is not a regular file`);
    return s.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${what} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** What `model push` reports per node; `reference` only with --reference (null when its upload failed). */
interface PushResult { node: string; model: ModelVersion | null; reference?: SetReferenceResult | null; error: string | null }

/** Versions of NAME on each reachable node (model.get); nodes without it give []. */
async function versionsOn(conns: readonly NodeConn[], name: string, version: string | undefined) {
  const res = await onEach(conns, async (c) => {
    try { return (await c.call('model.get', { name, ...(version !== undefined ? { version } : {}) })).versions; } catch (e) { if (isNotFound(e)) return []; throw e; }
  });
  return res.map((r) => ({ ...r, value: (r.value ?? []).filter((m) => version === undefined || m.version === version) }));
}

/** Read all of stdin as UTF-8. */
async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** `fleetml model …` commands: declares each subcommand and its options; the actions follow. */
export function registerModelCommands(program: Command): void {
  // `model push … --version 1.2` must reach the subcommand, not the program's own -V/--version: program options are
  // recognised only before the subcommand (`fleetml --version` still works).
  program.enablePositionalOptions();
  const model = program.command('model').description('ONNX model registry and inference on the nodes: push, list, load, alias, infer');
  const cmd = (name: string, desc: string) => targetOptions(model.command(name).description(desc)).option('-o, --output <fmt>', 'table or json', 'table');
  const nodeFlags = (c: Command) => c.option('--node <name>', 'only this node').option('--all', 'every node of the inventory');

  nodeFlags(cmd('push <name> <file>', 'upload an ONNX file as a new immutable version (to the only node, --node N or --all)'))
    .option('--version <v>', 'version to create [the agent picks the next one]')
    .option('--meta <k=v>', 'lineage metadata (repeatable)', collect)
    .option('--git-commit <sha>', 'commit the model was built from')
    .option('--dataset <file>', 'training/reference data file: its sha256 and name are kept as lineage')
    .option('--reference <file>', 'after the push, give the new version this drift reference (CSV with a header, or JSON lines)')
    .option('--reference-format <fmt>', 'csv or jsonl [from the --reference file extension]')
    .action(modelPushAction);

  cmd('list [name]', 'model versions of every node (or only those named NAME)')
    .option('--node <name>', 'only this node')
    .action(modelListAction);

  cmd('show <name>', 'versions of one model on every node: inputs, outputs, lineage, loaded state')
    .option('--version <v>', 'only this version')
    .option('--node <name>', 'only this node')
    .option('--window <w>', 'live performance over the labelled requests of this window (fleetml feedback send)', '1h')
    .action(modelShowAction);

  /** load / unload / rm: the same call on the chosen nodes, a line per node. */
  const onNodes = (verb: 'load' | 'unload' | 'rm', desc: string, action: (nameArg: string, o: ModelNodesOpts) => Promise<void>) => {
    const c = nodeFlags(cmd(`${verb} <name>`, desc));
    (verb === 'rm' ? c.requiredOption('--version <v>', 'the version to remove') : c.option('--version <v>', 'version [the newest]')).action(action);
  };
  onNodes('load', 'load a version into memory for inference (to the only node, --node N or --all)', modelLoadAction);
  onNodes('unload', 'free the memory of a loaded version', modelUnloadAction);
  onNodes('rm', 'remove a version from the registry', modelRmAction);

  nodeFlags(cmd('alias <name> <targets...>', 'route NAME to versions with weights: v2 (all traffic) or v1=90 v2=10 (targets are loaded and warmed before the switch)'))
    .option('--reason <text>', 'why (kept in the routing history and the audit log)')
    .action(modelAliasAction);

  cmd('history <name>', 'which versions served NAME on each node, since when, who changed it and why')
    .option('--node <name>', 'only this node')
    .action(modelHistoryAction);

  cmd('infer <name>', 'run inference: --input FILE (or - for stdin) holds KServe v2 JSON {"inputs":[{name,datatype,shape,data}]}')
    .option('--version <v>', 'version [the newest]')
    .option('--node <name>', 'ask this node [a node that has the model, loaded ones first]')
    .option('--input <file>', 'request JSON file, or - for stdin')
    .option('--id <id>', 'request id, to send its label later with fleetml feedback send [the agent generates one]')
    .action(modelInferAction);
}

/** Options every `fleetml model` subcommand takes: the targets and -o. */
export interface ModelCommonOpts extends TargetOptions { output?: string }
/** Options of the subcommands that change nodes: --node N or --all. */
export interface ModelNodesOpts extends ModelCommonOpts { node?: string; all?: boolean; version?: string }
/** Options of `fleetml model push`. */
export interface ModelPushOpts extends ModelNodesOpts { meta?: string[]; gitCommit?: string; dataset?: string; reference?: string; referenceFormat?: string }
/** Options of the reading subcommands (list, show, history, infer). */
export interface ModelReadOpts extends ModelCommonOpts { node?: string; version?: string; input?: string; window?: string; id?: string }
/** Options of `fleetml model alias`. */
export interface ModelAliasOpts extends ModelNodesOpts { reason?: string }

/** `fleetml model push NAME FILE`: checks every input (and --reference whole) first, then uploads to the chosen nodes in parallel. */
export async function modelPushAction(nameArg: string, file: string, o: ModelPushOpts): Promise<void> {
  const out = parseOutput(o.output);
  const choice = parseNodeChoice(o);
  const { name, version } = checkModelRef(nameArg, o.version);
  const meta = parseMeta(o.meta);
  const gitCommit = parseGitCommit(o.gitCommit);
  const size = await fileSize(file, 'model file');
  if (size === 0) throw new UsageError(`model file ${file} is empty; give an .onnx file`);
  if (o.dataset !== undefined) await fileSize(o.dataset, '--dataset');
  if (o.referenceFormat !== undefined && o.reference === undefined) throw new UsageError('--reference-format applies to --reference FILE only');
  // the reference is checked whole before the push, so a bad file never leaves a pushed version without it
  const refFormat = o.reference !== undefined ? referenceFormat(o.reference, o.referenceFormat, '--reference-format') : undefined;
  if (o.reference !== undefined) await checkReferenceFile(o.reference, '--reference');
  const [sha256, datasetSha] = await Promise.all([sha256File(file), o.dataset !== undefined ? sha256File(o.dataset) : Promise.resolve(undefined)]);
  const lineage = buildLineage({ gitCommit, meta, ...(o.dataset !== undefined && datasetSha ? { dataset: { path: o.dataset, sha256: datasetSha } } : {}) });
  const referenceFile = o.reference;
  await withConns(o, async (conns) => {
    const nodes = chooseNodes(conns, choice, 'push');
    const unreachable = unreachableOf(conns);
    const progress = out === 'table' && process.stderr.isTTY && nodes.length === 1 && size > 8 * PUSH_CHUNK_BYTES;
    const results = await Promise.all(nodes.map(async (c): Promise<PushResult> => {
      try {
        const m = await pushModel(c.client, file, { name, version, sha256, size, lineage }, {
          onProgress: progress ? (sent) => process.stderr.write(`\r${c.name}: ${Math.floor((sent / size) * 100)}% of ${file}`) : undefined,
        });
        if (progress) process.stderr.write('\n');
        if (refFormat === undefined || referenceFile === undefined) return { node: c.name, model: m, error: null };
        // the version exists now whatever happens to its reference: a failed upload says how to retry it alone
        try {
          const reference = await uploadReferenceFile(c.client, referenceFile, { name, version: m.version, format: refFormat });
          return { node: c.name, model: m, reference, error: null };
        } catch (e) {
          const why = explainDriftError(e, c.name, 'drift.setReference', name).message;
          return { node: c.name, model: m, reference: null, error: `${why}; ${name} ${m.version} was pushed, retry the reference with: fleetml drift reference ${name} --version ${m.version} --from ${o.reference} --node ${c.name}` };
        }
      } catch (e) {
        if (progress) process.stderr.write('\n');
        return { node: c.name, model: null, error: explain(e, c.name, 'model.push').message };
      }
    }));
    if (results.some((r) => r.error)) process.exitCode = 1;
    if (out === 'json') return printJson({ sha256, size_bytes: size, results, unreachable });
    if (choice.kind === 'all') for (const u of unreachable) console.error(`${u.node}: not reachable, skipped: ${u.error}`);
    const now = Date.now();
    for (const r of results) {
      if (r.model) console.log(pushedLine(r.node, r.model));
      if (r.model && r.reference) console.log(formatReferenceResult(r.reference, `${name} ${r.model.version}`, now, r.node));
      if (r.error) console.error(r.error);
    }
  });
}

/** `fleetml model list [NAME]`: model versions of every node (or --node). */
export async function modelListAction(nameArg: string | undefined, o: ModelReadOpts): Promise<void> {
  const out = parseOutput(o.output);
  const name = nameArg === undefined ? undefined : checkModelRef(nameArg, undefined).name;
  await withConns(o, async (conns) => {
    const scope = o.node ? [pickNode(conns, o.node)] : conns;
    const res = await onEach(scope, async (c, n) => {
      try { return (await c.call('model.list', name !== undefined ? { name } : {})).models; } catch (e) { throw explain(e, n, 'model.list'); }
    });
    const unreachable = [...unreachableOf(scope), ...res.filter((r) => r.error).map((r) => ({ node: r.node, error: r.error ?? null }))];
    const rows = sortModels(res.flatMap((r) => (r.value ?? []).map((m) => ({ node: r.node, model: m }))));
    if (out === 'json') return printJson({ models: rows, unreachable });
    for (const u of unreachable) console.error(`${u.node}: not reachable: ${u.error}`);
    if (!rows.length) { console.log(`no models${name ? ` named ${name}` : ''}; push one with: fleetml model push NAME FILE.onnx`); return; }
    const now = Date.now();
    console.log(formatTable(MODEL_LIST_HEADERS, rows.map((r) => modelRow(r.node, r.model, now))));
  });
}

/** `fleetml model show NAME`: every version of one model on every node, in detail. */
export async function modelShowAction(nameArg: string, o: ModelReadOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { name, version } = checkModelRef(nameArg, o.version);
  await withConns(o, async (conns) => {
    const scope = o.node ? [pickNode(conns, o.node)] : conns;
    const res = await versionsOn(scope, name, version);
    const unreachable = [...unreachableOf(scope), ...res.filter((r) => r.error).map((r) => ({ node: r.node, error: r.error ?? null }))];
    // live performance per node (null: no feedback on that agent, or an older one)
    const window = o.window ?? '1h';
    if (!/^\d+(s|m|h|d)$/.test(window)) throw new UsageError(`--window "${window}": a window is a duration like 5m, 1h, 24h`);
    const perf = new Map<string, VersionPerformance[]>();
    await Promise.all(upConns(scope).filter((c) => res.some((r) => r.node === c.name && r.value.length > 0)).map(async (c) => {
      try { perf.set(c.name, (await c.client.call('model.performance', { name, ...(version ? { version } : {}), window })).versions); } catch { /* not kept there */ }
    }));
    const rows = sortModels(res.flatMap((r) => r.value.map((m) => ({ node: r.node, model: m, performance: perf.get(r.node)?.find((p) => p.version === m.version) ?? null }))));
    if (out === 'json') return printJson({ versions: rows, unreachable });
    for (const u of unreachable) console.error(`${u.node}: not reachable: ${u.error}`);
    if (!rows.length) {
      const asked = res.filter((r) => !r.error).map((r) => r.node);
      throw new UsageError(`no model ${name}${version ? ` version ${version}` : ''} on ${asked.join(', ') || 'any reachable node'}${downNote(scope)}; list them with: fleetml model list`);
    }
    const now = Date.now();
    console.log(rows.map((r) => modelDetail(r.node, r.model, now, r.performance)).join('\n\n'));
  });
}

/** `fleetml model alias NAME TARGETS…`: route NAME to weighted versions on the chosen nodes. */
export async function modelAliasAction(nameArg: string, targetArgs: string[], o: ModelAliasOpts): Promise<void> {
  const out = parseOutput(o.output);
  const choice = parseNodeChoice(o);
  const { name } = checkModelRef(nameArg, undefined);
  const targets = parseAliasTargets(targetArgs);
  await withConns(o, async (conns) => {
    const nodes = chooseNodes(conns, choice, 'route it');
    const results = await Promise.all(nodes.map(async (n) => {
      try { return { node: n.name, result: await n.client.call('model.alias', { name, targets, ...(o.reason ? { reason: o.reason } : {}) }, { timeoutMs: SLOW_CALL_MS }), error: null }; }
      catch (e) { return { node: n.name, result: null, error: explain(e, n.name, 'model.alias').message }; }
    }));
    if (results.some((r) => r.error)) process.exitCode = 1;
    if (out === 'json') return printJson({ results });
    for (const r of results) {
      if (r.error) console.error(r.error);
      else console.log(`${r.node}: ${name} → ${r.result!.targets.map((t) => `${t.version} ${t.weight}%`).join(', ')}`);
    }
  });
}

/** `fleetml model history NAME`: routing changes of NAME on each node, newest first. */
export async function modelHistoryAction(nameArg: string, o: ModelReadOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { name } = checkModelRef(nameArg, undefined);
  await withConns(o, async (conns) => {
    const scope = o.node ? [pickNode(conns, o.node)] : conns;
    const res = await onEach(upConns(scope), (c) => c.call('model.history', { name }));
    const rows = res.flatMap((r) => (r.value?.events ?? []).map((e) => ({ node: r.node, ...e })));
    if (out === 'json') return printJson({ events: rows, errors: res.filter((r) => r.error) });
    for (const r of res) if (r.error) console.error(`${r.node}: ${r.error}`);
    if (!rows.length) { console.log(`no routing changes of ${name} (the newest version serves)`); return; }
    console.log(formatTable(['NODE', 'SINCE', 'ROUTING', 'BY', 'REASON'], rows.sort((a, b) => b.ts - a.ts).map((e) => [e.node, new Date(e.ts).toISOString().replace(/\.\d+Z$/, 'Z'), e.targets.map((t) => `${t.version} ${t.weight}%`).join(', '), e.by, e.reason ?? '-'])));
  });
}

/** `fleetml model infer NAME --input FILE`: one inference on --node, the only target, or a node that has the model (loaded first). */
export async function modelInferAction(nameArg: string, o: ModelReadOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { name, version } = checkModelRef(nameArg, o.version);
  if (o.id !== undefined && !InferRequestId.safeParse(o.id).success) throw new UsageError(`--id "${o.id.slice(0, 140)}": a request id is 1-128 printable ASCII characters without spaces`);
  const inputs: JsonTensor[] = await readInferInput(o.input, {
    readFile: (p) => readFile(p, 'utf8'), readStdin, stdinIsTTY: Boolean(process.stdin.isTTY),
  });
  await withConns(o, async (conns) => {
    let target: UpConn;
    if (o.node) target = pickNode(conns, o.node) as UpConn;
    else if (conns.length === 1) {
      if (!conns[0].client) throw new Error(`node ${conns[0].name} is not reachable: ${conns[0].error}`);
      target = conns[0] as UpConn;
    } else {
      const res = await versionsOn(conns, name, version);
      const having = res.filter((r) => r.value.length).sort((a, b) => Number(b.value.some((m) => m.loaded)) - Number(a.value.some((m) => m.loaded)));
      if (!having.length) {
        const errs = res.filter((r) => r.error).map((r) => `${r.node}: ${r.error}`);
        throw new UsageError(`no node has ${name}${version ? ` version ${version}` : ''}${errs.length ? ` (failed: ${errs.join('; ')})` : ''}${downNote(conns)}; push it with: fleetml model push ${name} FILE.onnx`);
      }
      target = conns.find((c) => c.name === having[0].node) as UpConn;
    }
    let r;
    try { r = await target.client.call('model.infer', { name, ...(version !== undefined ? { version } : {}), ...(o.id !== undefined ? { id: o.id } : {}), inputs }, { timeoutMs: SLOW_CALL_MS }); } catch (e) { throw explain(e, target.name, 'model.infer'); }
    if (out === 'json') return printJson({ node: target.name, ...r });
    console.log(`${r.model_name} ${r.model_version} on ${target.name} (queue ${(r.timing_us.queue / 1000).toFixed(1)} ms, compute ${(r.timing_us.compute / 1000).toFixed(1)} ms) · request id ${r.id}`);
    for (const t of r.outputs) console.log(formatTensor(t));
  });
}

/** load / unload / rm: `method` on the chosen nodes (a node without the version is reported with --all), a line per node. */
async function onNodesAction(verb: 'load' | 'unload' | 'rm', method: 'model.load' | 'model.unload' | 'model.remove', nameArg: string, o: ModelNodesOpts): Promise<void> {
  const out = parseOutput(o.output);
  const choice = parseNodeChoice(o);
  const { name, version } = checkModelRef(nameArg, o.version);
  const ref = { name, ...(version !== undefined ? { version } : {}) };
  await withConns(o, async (conns) => {
    const nodes = chooseNodes(conns, choice, verb === 'rm' ? 'remove it' : verb);
    const unreachable = unreachableOf(conns);
    const results = await Promise.all(nodes.map(async (n) => {
      try {
        const r: unknown = await n.client.call(method, ref, { timeoutMs: SLOW_CALL_MS });
        return { node: n.name, result: r, missing: false, error: null };
      } catch (e) {
        // with --all, a node without the model is reported, not a failure
        if (isNotFound(e) && choice.kind === 'all') return { node: n.name, result: null, missing: true, error: null };
        return { node: n.name, result: null, missing: false, error: explain(e, n.name, method).message };
      }
    }));
    const failed = results.some((r) => r.error) || results.every((r) => r.missing);
    if (failed) process.exitCode = 1;
    if (out === 'json') return printJson({ results, unreachable });
    if (choice.kind === 'all') for (const u of unreachable) console.error(`${u.node}: not reachable, skipped: ${u.error}`);
    const label = `${name}${version ? ` ${version}` : ''}`;
    for (const r of results) {
      if (r.error) { console.error(r.error); continue; }
      if (r.missing) { console.log(`${r.node}: no ${label} there`); continue; }
      const m = (r.result as { model?: ModelVersion } | null)?.model;
      if (verb === 'rm') console.log((r.result as { removed?: boolean }).removed ? `${r.node}: removed ${label}` : `${r.node}: ${label} was already gone`);
      else if (verb === 'load') console.log(m ? `${r.node}: loaded ${m.name} ${m.version}${m.provider ? ` (${m.provider})` : ''}` : `${r.node}: loaded ${label}`);
      else console.log(`${r.node}: unloaded ${m ? `${m.name} ${m.version}` : label}`);
    }
    if (results.every((r) => r.missing)) console.error(`no ${label} on ${results.map((r) => r.node).join(', ')}; list them with: fleetml model list`);
  });
}

/** `fleetml model load NAME`: load a version into memory on the chosen nodes. */
export const modelLoadAction = (nameArg: string, o: ModelNodesOpts) => onNodesAction('load', 'model.load', nameArg, o);
/** `fleetml model unload NAME`: free the memory of a loaded version on the chosen nodes. */
export const modelUnloadAction = (nameArg: string, o: ModelNodesOpts) => onNodesAction('unload', 'model.unload', nameArg, o);
/** `fleetml model rm NAME --version V`: remove a version from the registry of the chosen nodes. */
export const modelRmAction = (nameArg: string, o: ModelNodesOpts) => onNodesAction('rm', 'model.remove', nameArg, o);
