// Fixture data of a slurm-driver node: its jobs (pending with Slurm's reason, running, failed) and its node.resources.
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { Job, NodeResources, SlurmCluster } from '../../shared/protocol/jobs.js';
import { T0, job, noGpu } from './fixtures.js';

const s = (sec: number) => T0 + sec * 1000;

/** Slurm jobs of node login-1, one per state the jobs view must show. */
export const SLURM_JOBS = {
  pending: () => job({ id: 'b2slurm0-0000-4000-8000-000000000021', node: 'login-1', name: 'waiter', state: 'queued', submitted_at: s(600),
    reason: 'pending in Slurm (job 17, partition debug): Resources: waiting for resources (the GPUs, CPUs or memory it asks for are taken)',
    slurm: { job_id: '17', partition: 'debug', state: 'PENDING', reason: 'Resources', nodes: null } }, { driver: 'slurm', gpus: 1, command: ['sh', '-c', 'echo hi'], slurm: { account: 'ml' } }),
  running: () => job({ id: 'c3slurm0-0000-4000-8000-000000000022', node: 'login-1', name: 'hog', state: 'running', submitted_at: s(500), started_at: s(501),
    reason: 'running in Slurm (job 16) on vm', slurm: { job_id: '16', partition: 'debug', state: 'RUNNING', reason: null, nodes: 'vm' } }, { driver: 'slurm', gpus: 2, command: ['sleep', '120'] }),
  failed: () => job({ id: 'd4slurm0-0000-4000-8000-000000000023', node: 'login-1', name: 'three', state: 'failed', exit_code: 3, reason: 'exit code 3', submitted_at: s(400), started_at: s(401), finished_at: s(410),
    slurm: { job_id: '15', partition: 'debug', state: 'FAILED', reason: null, nodes: 'vm' } }, { driver: 'slurm', command: ['sh', '-c', 'exit 3'] }),
  unsubmitted: () => job({ id: 'e5slurm0-0000-4000-8000-000000000024', node: 'login-1', name: 'fresh', state: 'queued', submitted_at: s(650), slurm: null }, { driver: 'slurm' }),
};

/** The Slurm cluster behind login-1: partition debug (default, 1 node, 2 GPUs, both taken) and gpu (down). */
export function slurmCluster(over: Partial<SlurmCluster> = {}): SlurmCluster {
  return {
    cluster: 'test', default_partition: 'debug', pending: 1, running: 1, error: null, updated_at: T0,
    partitions: [
      { name: 'debug', default: true, state: 'UP', nodes: 1, nodes_up: 1, cpus_total: 8, cpus_free: 6, gpus_total: 2, gpus_free: 0, gpus_per_node_max: 2, gpus_free_per_node_max: 0, memory_total_bytes: 16 * 2 ** 30 },
      { name: 'big', default: false, state: 'DOWN', nodes: 4, nodes_up: 1, cpus_total: 256, cpus_free: 256, gpus_total: 32, gpus_free: 8, gpus_per_node_max: 8, gpus_free_per_node_max: 8, memory_total_bytes: 2 ** 40 },
    ],
    ...over,
  };
}

/** node.resources of login-1 (drivers slurm and process, default slurm) or of a node with `drivers`. */
export function slurmResources(over: Partial<NodeResources> = {}): NodeResources {
  return {
    node: 'login-1', labels: {}, gpus: [], gpus_free: 0, cpus_total: 8, cpus_free: 8, memory_total_bytes: 16 * 2 ** 30, memory_free_bytes: 8 * 2 ** 30, queued: 1, running: 1,
    drivers: [{ name: 'slurm', available: true, reason: null }, { name: 'process', available: true, reason: null }, { name: 'docker', available: false, reason: 'no container engine' }],
    default_driver: 'slurm', simulated: false, slurm: slurmCluster(), ...over,
  };
}

/** A login node (up, no GPUs of its own) with the Slurm jobs and, unless `resources` is null, its node.resources. */
export function loginNode(resources: NodeResources | null = slurmResources()): FleetNode {
  const n = { ...noGpu(), name: 'login-1', url: 'ws://login-1:7070' };
  const jobs: Job[] = Object.values(SLURM_JOBS).map((f) => f()).sort((a, b) => b.submitted_at - a.submitted_at);
  return { ...n, jobs, ...(resources ? { resources } : {}) } as FleetNode;
}
