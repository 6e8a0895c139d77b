import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

// How the wrapper's `exec "$@"` will find command[0], checked ahead of time so that a typo is refused at
// submission ("command not found: pyhton") instead of becoming an exit code 127 later.

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    if (!(await stat(p)).isFile()) return false;
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path command[0] resolves to, or null. A name with a "/" is a path (relative ones against
 * `workdir`); a bare name is looked up in `pathVar` as exec does. */
export async function resolveCommand(cmd: string, pathVar: string | undefined, workdir: string | undefined): Promise<string | null> {
  if (cmd === '') return null;
  if (cmd.includes('/')) {
    if (!isAbsolute(cmd) && !workdir) return null;
    const p = isAbsolute(cmd) ? cmd : resolve(workdir as string, cmd);
    return (await isExecutableFile(p)) ? p : null;
  }
  for (const dir of (pathVar ?? '').split(delimiter)) {
    // An empty PATH entry means the current directory (POSIX), i.e. the workdir.
    const base = dir === '' ? workdir : dir;
    if (!base) continue;
    const p = join(base, cmd);
    if (await isExecutableFile(p)) return p;
  }
  return null;
}
