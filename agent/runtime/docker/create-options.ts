import type Dockerode from 'dockerode';
import type { TaskConfig } from '../driver.js';

// The container a job attempt becomes, as one pure function of the task config: what the agent asks the engine
// for is checked by unit tests without an engine (and without a GPU runtime, which CI does not have).

/** Labels on every fleetml container; recovery and orphan cleanup find containers by them. */
export const LABEL_JOB = 'fleetml.job';
/** Attempt number (decimal) of the job this container runs. */
export const LABEL_ATTEMPT = 'fleetml.attempt';
/** Node (agent name) that created the container. */
export const LABEL_NODE = 'fleetml.node';

/** Default pids limit per container: a fork bomb stops here instead of exhausting the host. */
export const DEFAULT_PIDS_LIMIT = 4096;

/** What buildCreateOptions needs besides the task config. */
export interface CreateOptionsContext {
  /** This agent's node name (label fleetml.node). */
  node: string;
  /** Network mode when spec.network is not set. Only 'none' is accepted: jobs get no network unless they ask. */
  defaultNetwork?: 'none';
  /** HostConfig.PidsLimit; default DEFAULT_PIDS_LIMIT. */
  pidsLimit?: number;
  /** Container user "uid[:gid]"; default DEFAULT_CONTAINER_USER (never root unless configured). */
  user?: string;
}

/** The user containers run as unless jobs.container_user says otherwise: nobody, so that files a job writes into a
 * read-write mount belong to an unprivileged uid (a root-owned setuid binary cannot be planted on the host). */
export const DEFAULT_CONTAINER_USER = '65534:65534';

/** Container name of one attempt: `fleetml-<jobid>-<attempt>`, characters Docker refuses replaced by `_`.
 * Names are unique per engine, so a second create for the same attempt fails (409) instead of running twice. */
export function containerName(jobId: string, attempt: number): string {
  return `fleetml-${jobId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${attempt}`;
}

/** The labels of one attempt's container. */
export function jobLabels(jobId: string, attempt: number, node: string): Record<string, string> {
  return { [LABEL_JOB]: jobId, [LABEL_ATTEMPT]: String(attempt), [LABEL_NODE]: node };
}

/** The create request for one attempt. Mount sources must already be resolved and checked (see mounts.ts).
 *
 * GPU isolation: the assigned UUIDs go to the engine as an nvidia device request, and NVIDIA_VISIBLE_DEVICES
 * names the same UUIDs. With no GPUs assigned, NVIDIA_VISIBLE_DEVICES=void, because CUDA base images set
 * NVIDIA_VISIBLE_DEVICES=all and the nvidia runtime hook would otherwise expose every GPU. Inside the container
 * the devices are renumbered from 0, so a CUDA_VISIBLE_DEVICES of host indexes would point at the wrong (or no)
 * devices: when GPUs are assigned it is rewritten to the UUID list, which CUDA accepts and which is index-free. */
export function buildCreateOptions(cfg: TaskConfig, ctx: CreateOptionsContext): Dockerode.ContainerCreateOptions {
  const { spec } = cfg;
  if (!spec.image) throw new Error(`job ${cfg.jobId}: the docker driver needs an image`);
  const env: Record<string, string> = { ...spec.env, ...cfg.env };
  if (cfg.gpuUuids.length > 0) {
    env.NVIDIA_VISIBLE_DEVICES = cfg.gpuUuids.join(',');
    if ('CUDA_VISIBLE_DEVICES' in env) env.CUDA_VISIBLE_DEVICES = cfg.gpuUuids.join(',');
  } else {
    env.NVIDIA_VISIBLE_DEVICES = 'void';
  }
  const hostConfig: Dockerode.HostConfig = {
    // tini as PID 1: forwards SIGTERM (stop gives 143 at once instead of waiting out the grace) and reaps zombies.
    Init: true,
    NetworkMode: spec.network ?? ctx.defaultNetwork ?? 'none',
    PidsLimit: ctx.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    Binds: spec.mounts.map((m) => `${m.source}:${m.target}:${m.readonly ? 'ro' : 'rw'}`),
    // No AutoRemove and no restart policy: the exit code must survive until wait()/inspect() read it, and
    // restarts are the job manager's decision (a new attempt is a new container).
    AutoRemove: false,
    RestartPolicy: { Name: 'no' },
    // Least privilege: no capability at all (no chown to root, no setuid/setgid, no mknod, no raw sockets, no
    // DAC override), and no privilege gain through setuid binaries inside the container. With a non-root user the
    // kernel would clear the capabilities anyway; dropping them also covers a node configured to run jobs as root.
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
  };
  if (spec.memory_bytes !== undefined) {
    // Swap equal to memory: no swap on top of the limit, so the limit is what the job gets.
    hostConfig.Memory = spec.memory_bytes;
    hostConfig.MemorySwap = spec.memory_bytes;
  }
  if (spec.cpus !== undefined && spec.cpus > 0) hostConfig.NanoCpus = Math.round(spec.cpus * 1e9);
  if (cfg.gpuUuids.length > 0) {
    hostConfig.DeviceRequests = [{ Driver: 'nvidia', DeviceIDs: [...cfg.gpuUuids], Capabilities: [['gpu']] }];
  }
  return {
    name: containerName(cfg.jobId, cfg.attempt),
    Image: spec.image,
    // Like `docker run IMAGE COMMAND…`: the image's entrypoint (if any) stays, the command replaces CMD.
    Cmd: [...spec.command],
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...(spec.workdir !== undefined ? { WorkingDir: spec.workdir } : {}),
    Labels: jobLabels(cfg.jobId, cfg.attempt, ctx.node),
    User: ctx.user ?? DEFAULT_CONTAINER_USER,
    // No TTY: stdout and stderr stay separate (multiplexed frames).
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    // Used by the engine's own stops (daemon shutdown without live-restore) too.
    StopTimeout: spec.stop_grace_s,
    HostConfig: hostConfig,
  };
}
