import { realpath } from 'node:fs/promises';
import { isAbsolute, posix, sep } from 'node:path';
import type { JobSpec } from '../../../shared/protocol/jobs.js';

// Bind-mount policy: a job may mount a host path only when its real path (symlinks and `..` resolved) lies
// inside one of the node's allowed roots (themselves resolved). The resolved path is what goes to the engine,
// so a symlink swapped after validation cannot redirect the mount outside the roots.

type Mount = JobSpec['mounts'][number];

/** The spec's mounts with real host paths, or the reason one is refused. */
export async function resolveMounts(mounts: readonly Mount[], allowedRoots: readonly string[], node: string): Promise<{ mounts: Mount[]; reason: null } | { mounts: null; reason: string }> {
  if (mounts.length === 0) return { mounts: [], reason: null };
  const refuse = (reason: string) => ({ mounts: null, reason } as const);
  if (allowedRoots.length === 0) return refuse(`bind mounts are disabled on node ${node} (no allowed mount roots are configured)`);
  const roots = (await Promise.all(allowedRoots.map((r) => realpath(r).catch(() => null)))).filter((r): r is string => r !== null);
  const out: Mount[] = [];
  for (const m of mounts) {
    if (!isAbsolute(m.source)) return refuse(`mount source ${m.source} must be an absolute path`);
    if (!posix.isAbsolute(m.target)) return refuse(`mount target ${m.target} must be an absolute path inside the container`);
    // Binds are "src:dst:mode": a ':' or ',' in a path would be read as a separator.
    if (/[:,]/.test(m.target)) return refuse(`mount target ${m.target} contains ':' or ',' which bind mounts cannot express`);
    let real: string;
    try {
      real = await realpath(m.source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return refuse(code === 'ENOENT' ? `mount source ${m.source} does not exist on node ${node}` : `mount source ${m.source} cannot be resolved on node ${node}: ${(err as Error).message}`);
    }
    const inside = roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep));
    if (!inside) {
      const shown = real === m.source ? m.source : `${m.source} (resolves to ${real})`;
      return refuse(`mount source ${shown} is outside the allowed mount roots of node ${node} (${allowedRoots.join(', ')})`);
    }
    if (/[:,]/.test(real)) return refuse(`mount source ${real} contains ':' or ',' which bind mounts cannot express`);
    out.push({ ...m, source: real });
  }
  return { mounts: out, reason: null };
}
