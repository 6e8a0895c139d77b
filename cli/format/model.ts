// Rendering of `fleetml model …` output: the list table, one version's detail, pushed versions and output tensors.
import type { JsonTensor, ModelVersion, TensorSpec } from '../../shared/protocol/models.js';
import { formatAge } from './job.js';
import { formatBytes, shortSha } from '../args/model.js';
import type { VersionPerformance } from '../../shared/protocol/feedback.js';
import { performanceLine } from './feedback.js';

export const MODEL_LIST_HEADERS = ['NODE', 'NAME', 'VERSION', 'SHA256', 'SIZE', 'LOADED', 'PROVIDER', 'PUSHED'];

/** One row of `model list`. */
export function modelRow(node: string, m: ModelVersion, now: number): string[] {
  return [node, m.name, m.version, shortSha(m.sha256), formatBytes(m.size_bytes), m.loaded ? 'yes' : 'no', m.provider ?? '-', `${formatAge(now - m.pushed_at)} ago`];
}

/** Rows sorted by name, then newest push first, then node. */
export function sortModels<T extends { node: string; model: ModelVersion }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => a.model.name.localeCompare(b.model.name) || b.model.pushed_at - a.model.pushed_at || a.node.localeCompare(b.node));
}

/** "pushed NAME VERSION (sha256 abcdef012345, 97.8MiB) to NODE". */
export function pushedLine(node: string, m: ModelVersion): string {
  return `${node}: pushed ${m.name} ${m.version} (sha256 ${shortSha(m.sha256)}, ${formatBytes(m.size_bytes)})`;
}

const spec = (t: TensorSpec) => `${t.name} ${t.dtype} [${t.shape.join(',')}]`;

/** The detail block of `model show` for one version on one node (with its live performance when the agent keeps it). */
export function modelDetail(node: string, m: ModelVersion, now: number, perf: VersionPerformance | null = null): string {
  const l = m.lineage;
  const lines: Array<[string, string]> = [
    ['sha256', m.sha256],
    ['size', `${formatBytes(m.size_bytes)} (${m.size_bytes} bytes)`],
    ['pushed', `${formatAge(now - m.pushed_at)} ago by ${m.pushed_by} (${new Date(m.pushed_at).toISOString()})`],
    ['loaded', m.loaded ? `yes${m.provider ? ` (${m.provider})` : ''}` : 'no'],
    ...m.inputs.map((t, i): [string, string] => [i === 0 ? 'inputs' : '', spec(t)]),
    ...m.outputs.map((t, i): [string, string] => [i === 0 ? 'outputs' : '', spec(t)]),
  ];
  if (l.git_commit) lines.push(['git commit', l.git_commit]);
  if (l.dataset_sha256 || l.dataset_name) lines.push(['dataset', `${l.dataset_name ?? '-'}${l.dataset_sha256 ? ` (sha256 ${shortSha(l.dataset_sha256)})` : ''}`]);
  for (const [k, v] of Object.entries(l.meta)) lines.push([k === Object.keys(l.meta)[0] ? 'meta' : '', `${k}=${v}`]);
  if (perf) lines.push(['live', performanceLine(perf)]);
  const w = Math.max(...lines.map(([k]) => k.length));
  return [`${m.name} ${m.version} on ${node}`, ...lines.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

/** One output tensor: "name DATATYPE [shape]: [values]", at most `max` values shown. */
export function formatTensor(t: JsonTensor, max = 32): string {
  const shown = t.data.slice(0, max).map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  const more = t.data.length > max ? `, … (${t.data.length} values; -o json for all)` : '';
  return `${t.name} ${t.datatype} [${t.shape.join(',')}]: [${shown.join(', ')}${more}]`;
}
