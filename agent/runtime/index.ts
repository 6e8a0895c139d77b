import type { AgentConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { DriverName } from '../../shared/protocol/index.js';
import type { Driver } from './driver.js';
import { DockerDriver } from './docker/docker-driver.js';
import { ProcessDriver } from './process/process-driver.js';
import { FakeDriver } from './fake/fake-driver.js';

/** Build the task drivers the config enables. Nothing connects here: drivers connect lazily. */
export function createDrivers(config: AgentConfig, log: Logger): Partial<Record<DriverName, Driver>> {
  const out: Partial<Record<DriverName, Driver>> = {};
  for (const name of config.jobs.drivers) {
    const logger = log.child({ subsystem: `driver-${name}` });
    if (name === 'process') out.process = new ProcessDriver({ logger });
    if (name === 'fake') out.fake = new FakeDriver({});
    if (name === 'docker') {
      const socketPath = config.jobs.docker_socket ?? (process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock');
      out.docker = new DockerDriver({ socketPath, node: config.name, allowedMountRoots: config.jobs.allowed_mount_roots, defaultNetwork: 'none', logger });
    }
  }
  return out;
}
