// Process names for GPU processes that the driver reports by pid only (NVML never gives a name;
// nvidia-smi prints an empty/[N/A] process_name when it cannot see the process). Linux only:
// argv[0] from /proc/<pid>/cmdline (NUL-separated), else /proc/<pid>/comm (kernel threads and
// zombies have an empty cmdline). A process that is gone (ENOENT/ESRCH) has no name: null.
import { readFile } from 'node:fs/promises';

/** Reads one process name; null when the process is gone or unreadable. */
export type ProcNameReader = (pid: number) => Promise<string | null>;

const gone = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
};

/** argv[0] of `pid` from `<procRoot>/<pid>/cmdline`, falling back to `comm`; null when gone. */
export async function readProcName(pid: number, procRoot = '/proc'): Promise<string | null> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const argv0 = (await readFile(`${procRoot}/${pid}/cmdline`, 'utf8')).split('\0')[0];
    if (argv0) return argv0;
  } catch (err) {
    if (gone(err)) return null;
    // EACCES and friends: comm is often still readable.
  }
  try {
    const comm = (await readFile(`${procRoot}/${pid}/comm`, 'utf8')).replace(/\n$/, '');
    return comm === '' ? null : comm;
  } catch {
    return null;
  }
}

/** The default reader: /proc on Linux, nothing elsewhere. */
export const defaultProcNameReader: ProcNameReader =
  process.platform === 'linux' ? (pid) => readProcName(pid) : async () => null;

/**
 * Per-pid cache of process names. Each lookup() reads only pids it has not seen before and
 * forgets the pids that were not asked for, so the cache never outgrows one tick's process list
 * and a pid that disappears and comes back (possibly reused) is read again.
 */
export class ProcNameCache {
  private readonly names = new Map<number, string | null>();

  constructor(private readonly read: ProcNameReader = defaultProcNameReader) {}

  /** Names of these pids (null when unknown); pids not in the list are dropped from the cache. */
  async lookup(pids: Iterable<number>): Promise<Map<number, string | null>> {
    const wanted = new Set(pids);
    for (const pid of this.names.keys()) if (!wanted.has(pid)) this.names.delete(pid);
    const missing = [...wanted].filter((pid) => !this.names.has(pid));
    const read = await Promise.all(missing.map((pid) => this.read(pid).catch(() => null)));
    missing.forEach((pid, i) => this.names.set(pid, read[i]));
    return new Map([...wanted].map((pid) => [pid, this.names.get(pid) ?? null]));
  }

  /** Copies of `procs` with a null process_name filled from the cache (others untouched). */
  async fill<T extends { pid: number; process_name: string | null }>(procs: readonly T[]): Promise<T[]> {
    const names = await this.lookup(procs.filter((p) => p.process_name === null).map((p) => p.pid));
    return procs.map((p) => (p.process_name !== null ? p : { ...p, process_name: names.get(p.pid) ?? null }));
  }

  /** Number of cached pids (for tests). */
  get size(): number {
    return this.names.size;
  }
}
