import type { AgentConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { DriverName } from '../../shared/protocol/index.js';
import type { Driver } from './driver.js';
import { readFileSync } from 'node:fs';
import { DockerDriver } from './docker/docker-driver.js';
import { rootsWithoutNosuid } from './docker/mounts.js';
import { ProcessDriver } from './process/process-driver.js';
import { FakeDriver } from './fake/fake-driver.js';
import { SlurmDriver } from './slurm/slurm-driver.js';
import { ConfigError } from '../config.js';
import { agentUser, lookupUser, type HostUser } from './users.js';

/** Build the task drivers the config enables. Nothing connects here: drivers connect lazily. */
export function createDrivers(config: AgentConfig, log: Logger): Partial<Record<DriverName, Driver>> {
  const out: Partial<Record<DriverName, Driver>> = {};
  // Who process jobs run as: jobs.process_user, or the agent itself (null). Also an identity the mount policy
  // guards against, as is the container user (docker driver).
  let processUser: HostUser | undefined;
  if (config.jobs.process_user !== null && config.jobs.drivers.includes('process')) {
    const u = lookupUser(config.jobs.process_user);
    if (!u) throw new ConfigError(`jobs.process_user: no user "${config.jobs.process_user}" in /etc/passwd (create it, give a numeric uid[:gid], or set null to run process jobs as the agent's own user)`);
    processUser = u;
  }
  const processIdentity = processUser ?? agentUser();
  for (const name of config.jobs.drivers) {
    const logger = log.child({ subsystem: `driver-${name}` });
    if (name === 'process') out.process = new ProcessDriver({ logger, maxLogFileBytes: config.jobs.log_max_bytes, ...(processUser ? { user: processUser } : {}) });
    if (name === 'fake') out.fake = new FakeDriver({});
    if (name === 'slurm') {
      const sc = config.jobs.slurm;
      out.slurm = new SlurmDriver({ logger, workDir: sc.work_dir ?? `${config.data_dir.replace(/\/+$/, '')}-slurm`, binDir: sc.bin_dir, conf: sc.conf,
        partition: sc.partition, account: sc.account, qos: sc.qos, gres: sc.gres, container: sc.container, pollMs: sc.poll_ms, commandTimeoutMs: sc.command_timeout_ms });
    }
    if (name === 'docker') {
      const socketPath = config.jobs.docker_socket ?? (process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock');
      out.docker = new DockerDriver({ socketPath, node: config.name, allowedMountRoots: config.jobs.allowed_mount_roots, defaultNetwork: 'none', logger, callTimeoutMs: config.jobs.docker_call_timeout_ms,
        user: config.jobs.container_user, jobIdentities: config.jobs.drivers.includes('process') ? [{ uid: processIdentity.uid, gids: processIdentity.gids }] : [] });
      // Jobs cannot create setuid-root files or devices (no capabilities, not root); host-side nosuid,nodev on the
      // roots is the second line, which only the admin can set.
      let mountinfo = '';
      try { mountinfo = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { /* not Linux */ }
      for (const w of rootsWithoutNosuid(config.jobs.allowed_mount_roots, mountinfo)) {
        logger.warn({ root: w }, `jobs.allowed_mount_roots: ${w}; consider mounting it nosuid,nodev (docs/security.md)`);
      }
    }
  }
  return out;
}
