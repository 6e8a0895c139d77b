// The import rules of the layout (docs/architecture.md), as data, and a pure check of source files against them.
// scripts/check-boundaries.ts runs it over the tree (`npm test` runs that); test/unit/boundaries.test.ts feeds it
// small trees that break each rule.
import { dirname, join, normalize } from 'node:path/posix';

/** One import found in a source file. */
export interface ImportRef { from: string; line: number; spec: string; target: string; typeOnly: boolean }

/** A broken rule: where, what it imports, and which rule says no. */
export interface Violation { file: string; line: number; target: string; rule: string }

/** Top-level folders of the code base. */
const TOP = ['agent', 'tui', 'shared', 'cli', 'bin', 'scripts', 'bench'] as const;

/**
 * Capabilities inside the agent. One may use another only through the modules listed here (its public face); the
 * rest of a capability's folder is its own. agent/store (the database, audit log, tokens), agent/log.ts and
 * agent/config.ts are infrastructure every part may use; main.ts and bootstrap.ts compose everything; agent/api is
 * the surface and may use every public module.
 */
export const CAPABILITY_PUBLIC: Readonly<Record<string, readonly string[]>> = {
  telemetry: ['collector.ts', 'gpu/index.ts', 'gpu/source.ts', 'host.ts', 'history.ts'],
  runtime: ['driver.ts', 'index.ts', 'users.ts', 'docker/mounts.ts'],
  jobs: ['manager.ts', 'admission.ts', 'attribution.ts'],
  serving: ['serving.ts', 'registry.ts', 'tensors.ts', 'tabular.ts', 'evaluate.ts', 'scoring.ts', 'feedback.ts'],
  drift: ['monitor.ts', 'store.ts'],
  rollout: ['coordinator.ts', 'store.ts'],
  cluster: ['peers.ts'],
  automation: ['manager.ts', 'runner.ts', 'store.ts'],
};

/** The imports of one TypeScript source (static, re-exports, dynamic import() with a literal). */
export function importsOf(file: string, source: string): ImportRef[] {
  const out: ImportRef[] = [];
  const rx = /(?:^|[\s;}])(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  let m: RegExpExecArray | null;
  while ((m = rx.exec(source)) !== null) {
    const spec = m[3] ?? m[4];
    if (!spec.startsWith('.')) continue; // a package
    const line = source.slice(0, m.index).split('\n').length + (source[m.index] === '\n' ? 1 : 0);
    const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
    out.push({ from: file, line, spec, target, typeOnly: Boolean(m[2]) });
  }
  return out;
}

const top = (p: string) => p.split('/')[0];
const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
/** The capability folder of an agent path (agent/<cap>/...), or null. */
const capabilityOf = (p: string): string | null => {
  const parts = p.split('/');
  return parts[0] === 'agent' && parts.length > 2 && parts[1] in CAPABILITY_PUBLIC ? parts[1] : null;
};
const sameModule = (target: string, path: string) => target === path || target === path.replace(/\.ts$/, '.tsx');

/** Which rule an import breaks, or null. */
export function ruleBroken(ref: ImportRef): string | null {
  const { from, target } = ref;
  const t = top(target);
  if (!(TOP as readonly string[]).includes(t)) return null; // test/, node_modules, package.json…
  if (under(from, 'shared/protocol') && !under(target, 'shared/protocol')) return 'shared/protocol imports nothing of ours but itself';
  if (under(from, 'shared') && t !== 'shared') return 'shared/ imports only shared/ (agent, TUI and CLI depend on it, not the other way)';
  if (under(from, 'agent') && ['tui', 'cli', 'bin', 'scripts', 'bench'].includes(t)) return 'the agent never imports the TUI, the CLI or scripts';
  if (under(from, 'agent') && under(target, 'shared/client') && !under(from, 'agent/cluster')) return 'only agent/cluster talks to other agents (shared/client)';
  if (under(from, 'tui') && ['agent', 'cli', 'bin', 'scripts', 'bench'].includes(t)) return 'the TUI never imports the agent, the CLI or scripts';
  if (under(from, 'bin') && t !== 'cli' && t !== 'bin') return 'bin/ is only the entry of cli/';
  const fromCap = capabilityOf(from);
  const toCap = capabilityOf(target);
  if (fromCap && (under(target, 'agent/api') || target === 'agent/main.ts' || target === 'agent/bootstrap.ts')) return 'a capability never imports the API surface or the composition root (they import it)';
  const composes = from === 'agent/main.ts' || from === 'agent/bootstrap.ts';
  if (toCap && toCap !== fromCap && under(from, 'agent') && !composes) {
    const isPublic = CAPABILITY_PUBLIC[toCap].some((m) => sameModule(target, `agent/${toCap}/${m}`));
    if (!isPublic && !ref.typeOnly) return `agent/${toCap}/${target.slice(`agent/${toCap}/`.length)} is internal to ${toCap} (its public modules: ${CAPABILITY_PUBLIC[toCap].join(', ')})`;
  }
  return null;
}

/** Every broken rule in a set of source files (path relative to the package root, POSIX separators → text). */
export function checkBoundaries(files: ReadonlyMap<string, string>, o: { checkPublicExist?: boolean } = {}): Violation[] {
  const out: Violation[] = [];
  // the table names modules that exist (a moved file must not leave a stale door open)
  if (o.checkPublicExist) for (const [cap, mods] of Object.entries(CAPABILITY_PUBLIC)) for (const m of mods) {
    const p = `agent/${cap}/${m}`;
    if (!files.has(p) && !files.has(p.replace(/\.ts$/, '.tsx'))) out.push({ file: 'scripts/lib/boundaries.ts', line: 0, target: p, rule: 'CAPABILITY_PUBLIC names a module that does not exist' });
  }
  for (const [file, source] of files) {
    for (const ref of importsOf(file, source)) {
      const rule = ruleBroken(ref);
      if (rule) out.push({ file, line: ref.line, target: ref.target, rule });
    }
  }
  return out;
}
