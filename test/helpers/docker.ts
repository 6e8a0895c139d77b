import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { join } from 'node:path';

// The real container engine for integration tests. Tests never start dockerd themselves (CI does, with
// scripts/container-engine.sh); they find it through DOCKER_HOST (unix://…) or /var/run/docker.sock.
// No engine: the suite is SKIPPED locally, and FAILS when CI is set (there the engine is part of the setup).

/** The image the tests run: busybox imported by `scripts/container-engine.sh busybox-image`. */
export const TEST_IMAGE = 'fleetml/busybox:latest';

/** The engine socket the tests use: DOCKER_HOST when it is unix://…, else /var/run/docker.sock. */
export function dockerSocket(): string {
  const h = process.env.DOCKER_HOST;
  return h && h.startsWith('unix://') ? h.slice('unix://'.length) : '/var/run/docker.sock';
}

function get(socketPath: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Whether an engine answers `_ping` on the test socket (2 s). */
export async function dockerAvailable(socketPath = dockerSocket()): Promise<boolean> {
  try {
    const r = await get(socketPath, '/_ping', 2_000);
    return r.status === 200 && r.body.trim() === 'OK';
  } catch {
    return false;
  }
}

/** What the suite found: an engine with the test image, or why not. */
export interface DockerTestEngine {
  available: boolean;
  socketPath: string;
  /** Why the suite cannot run (null when available). */
  reason: string | null;
}

/** Probes the engine and makes sure the test image is there (importing it with the project script if missing). */
export async function ensureDockerEngine(): Promise<DockerTestEngine> {
  const socketPath = dockerSocket();
  if (!(await dockerAvailable(socketPath))) {
    return { available: false, socketPath, reason: `no container engine answers at ${socketPath} (start one: bash scripts/container-engine.sh start && bash scripts/container-engine.sh busybox-image)` };
  }
  const img = await get(socketPath, `/images/${encodeURIComponent(TEST_IMAGE)}/json`, 5_000).catch(() => ({ status: 0, body: '' }));
  if (img.status !== 200) {
    const script = join(__dirname, '..', '..', 'scripts', 'container-engine.sh');
    const err = await new Promise<string | null>((resolve) => {
      execFile('bash', [script, 'busybox-image', TEST_IMAGE], { env: { ...process.env, CE_SOCK: socketPath }, timeout: 60_000 }, (e, _out, stderr) => resolve(e ? `${e.message}\n${stderr}` : null));
    });
    if (err) return { available: false, socketPath, reason: `the engine at ${socketPath} answers, but importing ${TEST_IMAGE} failed: ${err}` };
  }
  return { available: true, socketPath, reason: null };
}

/** True when a missing engine must fail the suite rather than skip it. */
export const engineRequired = (): boolean => !!process.env.CI;
