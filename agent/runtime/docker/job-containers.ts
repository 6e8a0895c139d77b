import type Dockerode from 'dockerode';
import { LABEL_ATTEMPT, LABEL_JOB, LABEL_NODE } from './create-options.js';

/** A fleetml container as the engine lists it. */
export interface JobContainer {
  containerId: string;
  name: string;
  jobId: string;
  attempt: number;
  node: string;
  /** Engine state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
  /** Engine status text ("Exited (3) 2 seconds ago"). */
  status: string;
}

/** Every fleetml container of `node` (or of every node when null; running or not), optionally of one job or attempt: for recovery and for
 * removing orphans (containers no persisted handle names, e.g. after a crash between create and persist). */
export async function listJobContainers(docker: Dockerode, node: string | null, filter: { jobId?: string; attempt?: number } = {}, abortSignal?: AbortSignal): Promise<JobContainer[]> {
  // node null: every node's fleetml containers on this engine (the start-up sweep reports other nodes' ones)
  const label = [...(node === null ? [] : [`${LABEL_NODE}=${node}`]), LABEL_JOB];
  if (filter.jobId !== undefined) label.push(`${LABEL_JOB}=${filter.jobId}`);
  if (filter.attempt !== undefined) label.push(`${LABEL_ATTEMPT}=${filter.attempt}`);
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label }), ...(abortSignal ? { abortSignal } : {}) });
  return list.map((c) => ({
    containerId: c.Id,
    name: (c.Names[0] ?? '').replace(/^\//, ''),
    jobId: c.Labels[LABEL_JOB] ?? '',
    attempt: Number(c.Labels[LABEL_ATTEMPT] ?? NaN),
    node: c.Labels[LABEL_NODE] ?? '',
    state: c.State,
    status: c.Status,
  }));
}
