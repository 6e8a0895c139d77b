// Pure rendering of the Slurm cluster behind a slurm-driver node (node.resources.slurm) for the node view: one line.
import type { SlurmCluster, SlurmPartition } from '../../shared/protocol/jobs.js';
import { truncate } from './format.js';

/** One partition: "debug* up 1/1 nodes, GPUs 0/2 free" (* the default partition; node count only when some are down). */
export function slurmPartitionText(p: SlurmPartition, isDefault: boolean): string {
  const nodes = p.nodes_up === p.nodes ? `${p.nodes} node${p.nodes === 1 ? '' : 's'}` : `${p.nodes_up}/${p.nodes} nodes up`;
  const gpus = p.gpus_total > 0 ? `, GPUs ${p.gpus_free}/${p.gpus_total} free` : ', no GPUs';
  return `${p.name}${isDefault ? '*' : ''} ${p.state.toLowerCase()} ${nodes}${gpus}`;
}

/**
 * The node view's Slurm line, cut to `width`: "SLURM c1 · 1 pending 1 running · debug* up 1 node, GPUs 0/2 free · …";
 * the read error, when the last read failed, comes before the partitions (which are then the last good ones).
 */
export function slurmSummaryLine(c: SlurmCluster, width: number): string {
  const def = c.default_partition ?? c.partitions.find((p) => p.default)?.name ?? null;
  const parts = [
    `SLURM${c.cluster ? ` ${c.cluster}` : ''}`,
    `${c.pending} pending ${c.running} running`,
    ...(c.error ? [`read failed: ${c.error}`] : []),
    ...(c.partitions.length ? c.partitions.map((p) => slurmPartitionText(p, p.name === def)) : ['no partitions']),
  ];
  return truncate(parts.join(' · '), width);
}
