// What Slurm's commands print, parsed. Pure: text in, values out (unit-tested against outputs of Slurm 22.05).
//
// The agent reads Slurm through the commands every site has on its login nodes (sbatch, squeue, scontrol, scancel,
// sacct), in their stable machine formats: `squeue -o` with a field list, `scontrol -o` (one record per line, Key=Value),
// `sacct -P` (pipe-separated). Times are the controller's local time without a zone (ISO-like), as Slurm prints them.

import type { SlurmCluster, SlurmPartition } from '../../../shared/protocol/jobs.js';

/** One job as `squeue -h -t all -o SQUEUE_FORMAT` prints it. */
export interface QueueRow { id: string; state: string; partition: string | null; nodes: string | null; start: number | null; comment: string | null; reason: string | null }

/** The squeue fields the driver asks for, in this order; the reason goes last (it is free text). */
export const SQUEUE_FORMAT = '%i|%T|%P|%N|%S|%k|%r';

const nullish = (v: string | undefined): string | null => {
  if (v === undefined) return null;
  const t = v.trim();
  return t === '' || t === '(null)' || t === 'N/A' || t === 'None' || t === 'n/a' || t === 'Unknown' || t.startsWith('None ') ? null : t; // sacct: "None assigned"
};

/** A Slurm time ("2026-12-03T15:53:37", local time of the controller) in ms since the epoch, or null (N/A, Unknown, None). */
export function parseSlurmTime(v: string | undefined | null): number | null {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(v.trim());
  if (!m) return null;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime();
  return Number.isFinite(t) ? t : null;
}

/** squeue's output (with SQUEUE_FORMAT, -h): one row per job; lines that do not parse are skipped. */
export function parseSqueue(text: string): QueueRow[] {
  const out: QueueRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split('|');
    if (f.length < 7 || !/^\d+(_\d+)?$/.test(f[0].trim())) continue;
    out.push({
      id: f[0].trim(), state: f[1].trim(), partition: nullish(f[2]), nodes: nullish(f[3]), start: parseSlurmTime(f[4]),
      comment: nullish(f[5]), reason: nullish(f.slice(6).join('|')),
    });
  }
  return out;
}

/** `scontrol -o show …`: one record per line of Key=Value pairs (values may hold spaces; a key starts the next pair). */
export function parseScontrol(text: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const line of text.split('\n')) {
    if (!line.includes('=')) continue;
    const rec: Record<string, string> = {};
    // a pair begins at the start or after whitespace, with a key of letters, digits and : / _ . followed by =
    const re = /(?:^|\s+)([A-Za-z][A-Za-z0-9_:/.]*)=/g;
    const keys: Array<{ key: string; start: number; valueAt: number }> = [];
    for (let m = re.exec(line); m; m = re.exec(line)) keys.push({ key: m[1], start: m.index, valueAt: m.index + m[0].length });
    for (let i = 0; i < keys.length; i++) rec[keys[i].key] = line.slice(keys[i].valueAt, i + 1 < keys.length ? keys[i + 1].start : undefined).trim();
    if (keys.length) out.push(rec);
  }
  return out;
}

/** "3:0" (exit code : signal) → numbers; null when it does not parse. */
export function parseExitCode(v: string | undefined | null): { code: number; signal: number } | null {
  const m = /^(\d+):(\d+)$/.exec((v ?? '').trim());
  return m ? { code: Number(m[1]), signal: Number(m[2]) } : null;
}

/** A job's end as Slurm records it (scontrol or sacct). */
export interface JobRecordView { id: string; state: string; reason: string | null; exit: { code: number; signal: number } | null; start: number | null; end: number | null; partition: string | null; nodes: string | null; timeLimit: string | null; comment: string | null }

/** A job from `scontrol -o show job ID`. */
export function jobFromScontrol(rec: Record<string, string>): JobRecordView | null {
  if (!rec.JobId) return null;
  return {
    id: rec.JobId, state: (rec.JobState ?? '').split(/\s/)[0], reason: nullish(rec.Reason), exit: parseExitCode(rec.ExitCode),
    start: parseSlurmTime(rec.StartTime), end: parseSlurmTime(rec.EndTime), partition: nullish(rec.Partition), nodes: nullish(rec.NodeList),
    timeLimit: nullish(rec.TimeLimit), comment: nullish(rec.Comment),
  };
}

/** The sacct fields the driver asks for (-P -n -X: pipe-separated, no header, the allocation only). */
export const SACCT_FORMAT = 'JobIDRaw,State,ExitCode,Start,End,Partition,NodeList,Timelimit,Comment';

/** sacct's output with SACCT_FORMAT: the job's allocation row, or null. "CANCELLED by 0" is CANCELLED. */
export function jobFromSacct(text: string, id: string): JobRecordView | null {
  for (const line of text.split('\n')) {
    const f = line.split('|');
    if (f.length < 9 || f[0].trim() !== id) continue;
    return {
      id, state: f[1].trim().split(/\s/)[0], reason: null, exit: parseExitCode(f[2]), start: parseSlurmTime(f[3]), end: parseSlurmTime(f[4]),
      partition: nullish(f[5]), nodes: nullish(f[6]), timeLimit: nullish(f[7]), comment: nullish(f.slice(8).join('|')),
    };
  }
  return null;
}

/** Split a GRES list on the commas between entries ("gpu:a100:2(S:0-1),gpu:t4:1(IDX:0,2)"), not those inside (). */
function splitGres(v: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of v) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** GPUs in a node's Gres or GresUsed ("gpu:2", "gpu:a100:4(S:0-1)", "gpu:a100:2,gpu:t4:1", "(null)"). `name` is the GRES
 * name, optionally with a type ("gpu", "gpu:a100": only that type counts). */
export function gresCount(v: string | undefined, name = 'gpu'): number {
  const t = nullish(v);
  if (!t) return 0;
  const [want, wantType] = name.split(':');
  let n = 0;
  for (const entry of splitGres(t)) {
    const parts = entry.replace(/\(.*\)$/, '').split(':');
    if (parts[0] !== want) continue;
    const count = Number(parts[parts.length - 1]);
    const type = parts.length >= 3 ? parts[1] : null;
    if (wantType && type !== wantType) continue;
    if (Number.isInteger(count)) n += count;
  }
  return n;
}

/** Node states that cannot take work (a base state or a flag: DOWN*, DRAIN, IDLE+DRAIN, FAIL, NOT_RESPONDING…). */
function nodeUsable(state: string): boolean {
  if (state.endsWith('*')) return false; // not responding
  return !/DOWN|DRAIN|FAIL|NOT_RESPONDING|POWER|FUTURE|MAINT|REBOOT|INVAL|UNKNOWN/.test(state);
}

/** Memory in MB as Slurm prints it ("4096") → bytes. */
const mb = (v: string | undefined) => { const n = Number(v); return Number.isFinite(n) ? n * 1024 * 1024 : 0; };

/** Partitions with what their nodes have and have free, from `scontrol -d -o show node` and `scontrol -o show partition`. */
export function summarisePartitions(nodes: Array<Record<string, string>>, partitions: Array<Record<string, string>>, gres = 'gpu'): SlurmPartition[] {
  const out = new Map<string, SlurmPartition>();
  for (const p of partitions) {
    if (!p.PartitionName) continue;
    out.set(p.PartitionName, {
      name: p.PartitionName, default: p.Default === 'YES', state: p.State ?? 'UNKNOWN', nodes: 0, nodes_up: 0, cpus_total: 0, cpus_free: 0,
      gpus_total: 0, gpus_free: 0, gpus_per_node_max: 0, gpus_free_per_node_max: 0, memory_total_bytes: 0,
    });
  }
  for (const n of nodes) {
    const names = (nullish(n.Partitions) ?? '').split(',').filter(Boolean);
    const usable = nodeUsable(n.State ?? '');
    const cpus = Number(n.CPUTot ?? n.CPUEfctv) || 0;
    const cpusAlloc = Number(n.CPUAlloc) || 0;
    const gpus = gresCount(n.Gres, gres);
    const gpusUsed = gresCount(n.GresUsed, gres);
    for (const name of names) {
      const p = out.get(name);
      if (!p) continue;
      p.nodes++;
      p.cpus_total += cpus;
      p.gpus_total += gpus;
      p.memory_total_bytes += mb(n.RealMemory);
      p.gpus_per_node_max = Math.max(p.gpus_per_node_max, gpus);
      if (!usable) continue;
      p.nodes_up++;
      p.cpus_free += Math.max(0, cpus - cpusAlloc);
      const free = Math.max(0, gpus - gpusUsed);
      p.gpus_free += free;
      p.gpus_free_per_node_max = Math.max(p.gpus_free_per_node_max, free);
    }
  }
  return [...out.values()];
}

/** The cluster's name from `scontrol show config` (ClusterName = fleetml), or null. */
export function clusterName(configText: string): string | null {
  const m = /^ClusterName\s*=\s*(\S+)/m.exec(configText);
  return m ? m[1] : null;
}

/** An empty cluster view (before the first read). */
export function emptyCluster(error: string | null): SlurmCluster {
  return { cluster: null, default_partition: null, partitions: [], pending: 0, running: 0, error, updated_at: null };
}
