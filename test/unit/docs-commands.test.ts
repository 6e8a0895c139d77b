// Every `fleetml …` command the README and docs/*.md show (in sh blocks and in inline code) is one the CLI accepts as
// written: the subcommand exists, every option is one it knows (with its value where it takes one), and the number of
// arguments fits. It parses them with the real program (cli/main.ts), without running any action.
// The examples that can run on one machine are run for real against an agent by test/integration/docs-examples.test.ts.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main.js';
import { packageRoot } from '../../shared/util/package-root.js';

const ROOT = packageRoot();
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'api.md' && f !== 'config.md').map((f) => `docs/${f}`)];

/** A shell word splitter good enough for documentation lines: quotes, and nothing else. */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  let cur = ''; let q: string | null = null; let any = false;
  for (const ch of line) {
    if (q) { if (ch === q) q = null; else cur += ch; continue; }
    if (ch === '"' || ch === "'") { q = ch; any = true; continue; }
    if (/\s/.test(ch)) { if (cur || any) out.push(cur); cur = ''; any = false; continue; }
    cur += ch;
  }
  if (cur || any) out.push(cur);
  return out;
}

/**
 * `fleetml …` commands of a markdown text: [line number, words after `fleetml`, where]. Commands in sh blocks are
 * complete; inline ones may name a command in prose without its arguments (`fleetml model show`).
 */
export function docCommands(md: string): Array<[number, string, 'block' | 'inline']> {
  const found: Array<[number, string, 'block' | 'inline']> = [];
  const lines = md.split('\n');
  let inFence = false;
  let inSh = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\s*```/.test(l)) {
      inSh = !inFence && /^\s*```(sh|bash|shell|console)?\s*$/.test(l);
      inFence = !inFence;
      continue;
    }
    if (inFence && !inSh) continue;
    if (inSh) {
      let text = l.replace(/^\s*\$ /, '');
      while (text.endsWith('\\') && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i]!.trim();
      // several commands on one line (`;`, `&&`), a comment after `#`, a pipe into another program
      for (const part of text.replace(/\s#\s.*$/, '').split(/;|&&|\s\|\|?\s/)) {
        const m = /^\s*fleetml(\s.*)?$/.exec(part);
        if (m) found.push([i + 1, (m[1] ?? '').trim(), 'block']);
      }
    } else {
      for (const m of l.matchAll(/`fleetml ([^`]+)`/g)) found.push([i + 1, m[1]!.trim(), 'inline']);
    }
  }
  return found;
}

/** Placeholders the docs use for "any value" (an ellipsis, a|b alternatives, ALL-CAPS or <angle> names). */
const isPlaceholderCommand = (words: string[]) => words.some((w) => w.startsWith('[') || w.includes('…') || w === '...' || /^<.*>$/.test(w) || /[a-z]\|[a-z]/.test(w));

/** What is wrong with `words` for the program (null when it parses): unknown command/option, missing value, arg count. */
export function checkCommand(program: Command, words: string[], complete = true): string | null {
  let cmd = program;
  let i = 0;
  for (; i < words.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === words[i] || c.aliases().includes(words[i]!));
    if (!sub) break;
    cmd = sub;
  }
  if (cmd === program && words.length && !words[0]!.startsWith('-')) return `unknown command '${words[0]}'`;
  if (cmd.commands.length && !cmd.registeredArguments.length && i < words.length && !words[i]!.startsWith('-')) return `unknown subcommand '${words[i]}' of '${cmd.name()}'`;
  const optionsOf = (c: Command): Option[] => [...c.options, ...(c.parent ? optionsOf(c.parent) : [])];
  const opts = optionsOf(cmd);
  const operands: string[] = [];
  const rest = words.slice(i);
  for (let k = 0; k < rest.length; k++) {
    const w = rest[k]!;
    if (w === '--') { operands.push(...rest.slice(k + 1)); break; }
    if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
      const [flag, inline] = w.split(/=(.*)/s, 2) as [string, string | undefined];
      if (flag === '-h' || flag === '--help') return null;
      const o = opts.find((x) => x.long === flag || x.short === flag || (x.negate && x.long === flag));
      if (!o) return `unknown option '${flag}' for '${cmd.name()}'`;
      if (o.required && inline === undefined) {
        if (k + 1 >= rest.length) return complete ? `option '${flag}' needs a value` : null;
        k++;
      }
      continue;
    }
    operands.push(w);
  }
  const args = cmd.registeredArguments;
  const required = args.filter((a) => a.required).length;
  const variadic = args.some((a) => a.variadic);
  // commands that pass `-- command…` through (job run) take any operands after `--`
  const passThrough = words.includes('--');
  if (complete && operands.length < required) return `'${cmd.name()}' needs ${required} argument(s), got ${operands.length}`;
  if (!variadic && !passThrough && operands.length > args.length) return `too many arguments for '${cmd.name()}' (${operands.length}, takes ${args.length})`;
  return null;
}

describe('command examples in the README and docs', () => {
  const program = buildProgram();
  for (const file of FILES) {
    const cmds = docCommands(readFileSync(join(ROOT, file), 'utf8')).filter(([, c]) => !isPlaceholderCommand(shellWords(c)));
    it.runIf(cmds.length > 0)(`${file}: every \`fleetml …\` command parses as written`, () => {
      const bad = cmds.map(([line, c, where]) => [line, c, checkCommand(program, shellWords(c), where === 'block')] as const).filter(([, , e]) => e);
      expect(bad.map(([line, c, e]) => `${file}:${line}: fleetml ${c} → ${e}`)).toEqual([]);
    });
  }

  it('the checker itself finds what a user would hit', () => {
    expect(checkCommand(program, shellWords('token create rollout-coordinator --role operate --bogus'))).toMatch(/unknown option '--bogus'|too many arguments/);
    expect(checkCommand(program, shellWords('nodez'))).toMatch(/unknown command/);
    expect(checkCommand(program, shellWords('nodes -o'))).toMatch(/needs a value/);
    expect(checkCommand(program, shellWords('nodes -o json'))).toBeNull();
    expect(checkCommand(program, shellWords('job run --gpus 1 -- python train.py'))).toBeNull();
  });
});
