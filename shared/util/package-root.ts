import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;
/** The fleetml package root (works from source under vitest and from dist/ after build). */
export function packageRoot(): string {
  if (root) return root;
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(d, 'package.json');
    if (existsSync(p) && JSON.parse(readFileSync(p, 'utf8')).name === 'fleetml') return (root = d);
    const up = dirname(d);
    if (up === d) throw new Error('fleetml package.json not found above ' + fileURLToPath(import.meta.url));
    d = up;
  }
}

/** The fleetml version from package.json. */
export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
}
