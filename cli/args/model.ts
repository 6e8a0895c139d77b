// Pure parts of `fleetml model …`: name/version checks, --node/--all choice,
// --meta, and reading the JSON tensors of `model infer --input`. Every caller mistake is a UsageError (exit code 2)
// that shows what is accepted.
import { basename } from 'node:path';
import { JsonTensor, ModelRefParams } from '../../shared/protocol/models.js';
import { parseKeyValues } from './job.js';
import { UsageError } from '../output.js';
import type { PushLineage } from '../../shared/client/model-push.js';

/** NAME and --version checked against the protocol's rules before any agent is contacted. */
export function checkModelRef(name: string, version: string | undefined): { name: string; version?: string } {
  const r = ModelRefParams.safeParse({ name, ...(version !== undefined ? { version } : {}) });
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${i.path[0] === 'version' ? `--version "${version}"` : `model name "${name}"`}: ${i.message}`);
    throw new UsageError(`${msgs.join('; ')}; e.g. fleetml model push resnet50 model.onnx --version 1.2.0`);
  }
  return r.data;
}

/** Which nodes a command that changes something acts on. */
export type NodeChoice = { kind: 'node'; node: string } | { kind: 'all' } | { kind: 'default' };

/** --node and --all exclude each other; neither means "the single target" (decided once the targets are known). */
export function parseNodeChoice(o: { node?: string; all?: boolean }): NodeChoice {
  if (o.node !== undefined && o.all) throw new UsageError('--node and --all exclude each other: give --node NAME for one node or --all for every node');
  if (o.node !== undefined) {
    if (!o.node.trim()) throw new UsageError('--node needs a node name; list them with: fleetml nodes');
    return { kind: 'node', node: o.node };
  }
  return o.all ? { kind: 'all' } : { kind: 'default' };
}

/** With no --node/--all, the command acts on the only target; with several it asks which. */
export function requireSingleTarget(names: readonly string[], verb: string): void {
  if (names.length > 1) {
    throw new UsageError(`${names.length} nodes are targeted (${names.join(', ')}): choose one with --node NAME or ${verb} on every node with --all`);
  }
}

/** --meta k=v (keys up to 64 characters, values up to 1024). */
export function parseMeta(items: readonly string[] | undefined): Record<string, string> {
  const meta = parseKeyValues(items, '--meta', /^[A-Za-z0-9._/-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ / -');
  for (const [k, v] of Object.entries(meta)) if (v.length > 1024) throw new UsageError(`--meta: the value of ${k} is ${v.length} characters; at most 1024`);
  return meta;
}

/** --git-commit: a commit id (hex, 4-64 characters). */
export function parseGitCommit(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9a-fA-F]{4,64}$/.test(v)) throw new UsageError(`--git-commit: "${v}" is not a commit id (4-64 hex digits), e.g. --git-commit $(git rev-parse HEAD)`);
  return v.toLowerCase();
}

/** Lineage from the push flags and the dataset's digest (computed by the caller); undefined when there is none. */
export function buildLineage(o: { gitCommit?: string; meta?: Record<string, string>; dataset?: { path: string; sha256: string } }): PushLineage | undefined {
  const l: PushLineage = {};
  if (o.gitCommit) l.git_commit = o.gitCommit;
  if (o.dataset) { l.dataset_sha256 = o.dataset.sha256; l.dataset_name = basename(o.dataset.path).slice(0, 256); }
  if (o.meta && Object.keys(o.meta).length) l.meta = o.meta;
  return Object.keys(l).length ? l : undefined;
}

const EXAMPLE = '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[0.1,0.2,0.3,0.4]}]}';

type Scalar = number | boolean | string;

/** KServe v2 allows nested data ([[1,2],[3,4]]); the protocol wants it flat, row-major. */
function flatten(v: unknown): unknown {
  return Array.isArray(v) && v.some(Array.isArray) ? (v as unknown[]).flat(Infinity) : v;
}

/**
 * The input tensors of `model infer`: a KServe v2 request body {"inputs": [...]} or the bare array of tensors.
 * Each tensor is {name, datatype, shape, data}; nested data is flattened; data must hold prod(shape) values.
 * `source` names where the text came from, for the errors ("--input x.json", "stdin").
 */
export function parseInferInput(text: string, source: string): JsonTensor[] {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) {
    throw new UsageError(`${source}: not valid JSON (${(e as Error).message}); expected a KServe v2 request like ${EXAMPLE} or the bare array of inputs`);
  }
  const list = Array.isArray(doc) ? doc
    : doc !== null && typeof doc === 'object' && Array.isArray((doc as { inputs?: unknown }).inputs) ? (doc as { inputs: unknown[] }).inputs
    : null;
  if (!list) throw new UsageError(`${source}: expected an object with an "inputs" array, or the bare array of inputs, e.g. ${EXAMPLE}`);
  if (!list.length) throw new UsageError(`${source}: "inputs" is empty; give at least one tensor, e.g. ${EXAMPLE}`);
  if (list.length > 64) throw new UsageError(`${source}: ${list.length} inputs; at most 64`);
  return list.map((raw, i) => {
    const t = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : raw;
    if (t && typeof t === 'object' && 'data' in t) (t as Record<string, unknown>).data = flatten((t as Record<string, unknown>).data);
    // KServe v2 requests may carry "parameters"; the agent takes only the four fields
    if (t && typeof t === 'object') delete (t as Record<string, unknown>).parameters;
    const r = JsonTensor.safeParse(t);
    const label = `input ${i}${t && typeof t === 'object' && typeof (t as { name?: unknown }).name === 'string' ? ` ("${(t as { name: string }).name}")` : ''}`;
    if (!r.success) {
      const why = r.error.issues.map((x) => `${x.path.length ? x.path.join('.') : 'tensor'}: ${x.message}`).join('; ');
      throw new UsageError(`${source}: ${label} is not a tensor {name, datatype, shape, data}: ${why}`);
    }
    const want = r.data.shape.reduce((a, b) => a * b, 1);
    if (r.data.data.length !== want) {
      throw new UsageError(`${source}: ${label} has ${r.data.data.length} values but shape [${r.data.shape.join(',')}] needs ${want}`);
    }
    return { ...r.data, data: r.data.data as Scalar[] };
  });
}

/** Where `--input` reads from; injectable for tests. */
export interface InputReaders { readFile(path: string): Promise<string>; readStdin(): Promise<string>; stdinIsTTY: boolean }

/** Read and parse --input FILE, or stdin for "-". */
export async function readInferInput(spec: string | undefined, io: InputReaders): Promise<JsonTensor[]> {
  if (spec === undefined || spec === '') throw new UsageError(`--input is required: a JSON file, or - for stdin, holding ${EXAMPLE}`);
  if (spec === '-') {
    if (io.stdinIsTTY) throw new UsageError(`--input -: stdin is a terminal; pipe the JSON in, e.g. echo '${EXAMPLE}' | fleetml model infer NAME --input -`);
    return parseInferInput(await io.readStdin(), 'stdin');
  }
  let text: string;
  try { text = await io.readFile(spec); } catch (e) {
    throw new UsageError(`--input ${spec}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a JSON file, or - for stdin`);
  }
  return parseInferInput(text, `--input ${spec}`);
}

/** The first 12 hex digits of a sha256, as the tables show it. */
export const shortSha = (sha: string) => sha.slice(0, 12);

/** Bytes for humans: 512B, 3.4KiB, 97.8MiB, 1.2GiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)}${units[i]}`;
}

/** Parse alias targets: "v2" (all traffic) or "v1=90 v2=10" (weights summing to 100). */
export function parseAliasTargets(args: string[]): Array<{ version: string; weight: number }> {
  if (args.length === 1 && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/.test(args[0])) return [{ version: args[0], weight: 100 }];
  const out = args.map((a) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9._+-]{0,62})=(\d{1,3})%?$/.exec(a);
    if (!m) throw new UsageError(`bad target "${a}": use VERSION=WEIGHT, e.g. v1=90 v2=10 (or a single VERSION for all traffic)`);
    return { version: m[1], weight: Number(m[2]) };
  });
  const sum = out.reduce((x, t) => x + t.weight, 0);
  if (sum !== 100) throw new UsageError(`weights must sum to 100 (got ${sum}): e.g. v1=90 v2=10`);
  return out;
}
