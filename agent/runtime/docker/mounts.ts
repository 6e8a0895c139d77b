import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, posix, sep } from 'node:path';
import type { JobSpec } from '../../../shared/protocol/jobs.js';

// Bind-mount policy. A job may mount a host path only when
//   1. its real path (symlinks and `..` resolved) lies inside one of the node's allowed roots (themselves resolved),
//   2. and no job can change that path: every directory on the way from / down to the source (the source's own entry
//      included) is one that no job identity can write, so no component can be swapped for a symlink between this
//      check and the moment the engine resolves the path (the engine, not fleetml, opens the source, later).
// Rule 2 closes a time-of-check/time-of-use escape: job A, with a read-write mount of /data/a, replaces /data/a/sub
// by a symlink to /etc right after job B's /data/a/sub was checked, and B would mount /etc. Checking the path once
// is not enough; making sure nobody who could race the check can write along it is.
//
// "A job can write directory D" (and so rename or replace D's entries) when a job identity owns D (an owner can
// always chmod), or D's group is a job group and D is group-writable, or D is world-writable. In a sticky directory
// (/tmp) only the owner of an entry may rename it, so there the entry is at risk only when a job owns it.
// Job identities are the container user (jobs.container_user) and the process-job user (jobs.process_user, or the
// agent's own user when process jobs run as the agent). Host users who can write along a root are trusted, like the
// admin who configured the root. ACLs are not evaluated (documented in docs/security.md).

type Mount = JobSpec['mounts'][number];

/** A uid and its gids that jobs run as: their writes are the ones the policy guards against. */
export interface JobIdentity { uid: number; gids: number[] }

/** Why a directory on the way is unsafe for a mount below it, or null when no job can change its entries. */
async function changeableBy(parent: string, child: string, jobs: readonly JobIdentity[]): Promise<string | null> {
  const p = await lstat(parent);
  const c = await lstat(child);
  const owned = (uid: number) => jobs.some((j) => j.uid === uid);
  const writable = owned(p.uid) || ((p.mode & 0o020) !== 0 && jobs.some((j) => j.gids.includes(p.gid))) || (p.mode & 0o002) !== 0;
  if (!writable) return null;
  const sticky = (p.mode & 0o1000) !== 0;
  if (sticky && !owned(c.uid) && !owned(p.uid)) return null;
  const how = owned(p.uid) ? `owned by uid ${p.uid}, a job user` : (p.mode & 0o002) !== 0 ? 'world-writable' : `group-writable by gid ${p.gid}, a job group`;
  return `${parent} (${how})`;
}

/** The spec's mounts with real host paths, or the reason one is refused. `jobs` are the identities jobs run as. */
export async function resolveMounts(mounts: readonly Mount[], allowedRoots: readonly string[], node: string, jobs: readonly JobIdentity[] = []): Promise<{ mounts: Mount[]; reason: null } | { mounts: null; reason: string }> {
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
    // Rule 2: from / down to the source, no entry that a job could rename or replace.
    for (let child = real; child !== dirname(child); child = dirname(child)) {
      let unsafe: string | null;
      try { unsafe = await changeableBy(dirname(child), child, jobs); } catch (err) {
        return refuse(`mount source ${real} cannot be checked on node ${node}: ${(err as Error).message}`);
      }
      if (unsafe) {
        return refuse(`mount source ${real} is reached through ${unsafe}: a job could swap a path component for a symlink `
          + 'between the check and the mount. Mount a directory whose parents no job can write (e.g. the writable directory itself), or make them unwritable to jobs');
      }
    }
    out.push({ ...m, source: real });
  }
  return { mounts: out, reason: null };
}

/** The mount a path lies on, from /proc/self/mountinfo text: its mount point and per-mount options (field 6:
 * rw, nosuid, nodev, …). The longest mount point that is a prefix of the path wins. */
export function mountOf(path: string, mountinfo: string): { mountPoint: string; options: string[] } | null {
  let best: { mountPoint: string; options: string[] } | null = null;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 6) continue;
    const mp = f[4].replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const inside = path === mp || mp === '/' || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = { mountPoint: mp, options: f[5].split(',') };
  }
  return best;
}

/** Mount roots whose file system is mounted without nosuid or nodev, with a line for the operator: the Engine API
 * cannot set those flags on bind mounts, so the host mount is where they belong (docs/security.md). */
export function rootsWithoutNosuid(roots: readonly string[], mountinfo: string): string[] {
  const out: string[] = [];
  for (const r of roots) {
    const m = mountOf(r, mountinfo);
    if (!m) continue;
    const missing = ['nosuid', 'nodev'].filter((o) => !m.options.includes(o));
    if (missing.length > 0) out.push(`${r} lies on ${m.mountPoint}, mounted without ${missing.join(',')}`);
  }
  return out;
}
