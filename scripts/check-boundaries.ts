// Fails (exit 1) when an import crosses the layout's rules (scripts/lib/boundaries.ts; docs/architecture.md).
// `npm test` runs it after the build, over the TypeScript sources of agent/, tui/, shared/, cli/, bin/, scripts/, bench/.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { packageRoot } from '../shared/util/package-root.js';
import { checkBoundaries } from './lib/boundaries.js';

const root = packageRoot();
const files = new Map<string, string>();
const walk = (dir: string) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules') walk(p); } else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) files.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
  }
};
for (const d of ['agent', 'tui', 'shared', 'cli', 'bin', 'scripts', 'bench']) walk(join(root, d));
const broken = checkBoundaries(files, { checkPublicExist: true });
for (const v of broken) console.error(`${v.file}:${v.line}: imports ${v.target}: ${v.rule}`);
if (broken.length) { console.error(`check-boundaries: ${broken.length} import(s) cross the layout's rules (docs/architecture.md)`); process.exit(1); }
console.error(`check-boundaries: ${files.size} files, no import crosses the layout's rules`);
