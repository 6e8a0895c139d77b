// `:` command mode: parse what the user typed into a view switch, quit, or an error message.

/** The part of a view the command line needs: its id, aliases and whether it takes an argument. */
export interface ViewRoute {
  /** Stable view id ("cluster", "node", later "jobs", "models", …). */
  id: string;
  /** Command aliases (":nodes", ":no", …); the id itself always works too. */
  aliases: string[];
  /** 'required': the view needs an argument (":node gpu01"); 'none': extra words are an error. */
  arg: 'none' | 'required';
  /** What the argument is, for error messages ("node name"). */
  argName?: string;
}

/** Result of parsing a command line. */
export type CommandResult =
  | { kind: 'view'; view: string; arg: string | null }
  | { kind: 'quit' }
  | { kind: 'none' }
  | { kind: 'error'; message: string };

/** Parse a `:` command line ("nodes", "node gpu01", "q") against the registered views. */
export function parseCommand(line: string, routes: readonly ViewRoute[]): CommandResult {
  const [word, ...rest] = line.trim().split(/\s+/).filter(Boolean);
  if (!word) return { kind: 'none' };
  const w = word.toLowerCase();
  if (w === 'q' || w === 'quit' || w === 'q!') return { kind: 'quit' };
  const route = routes.find((r) => r.id === w || r.aliases.includes(w));
  if (!route) {
    const known = routes.flatMap((r) => [r.id, ...r.aliases]);
    return { kind: 'error', message: `unknown command "${word}"; try one of: ${[...new Set(known)].join(', ')}` };
  }
  const arg = rest.join(' ') || null;
  if (route.arg === 'required' && !arg) return { kind: 'error', message: `:${w} needs a ${route.argName ?? 'argument'}, e.g. :${w} NAME` };
  if (route.arg === 'none' && arg) return { kind: 'error', message: `:${w} takes no argument` };
  return { kind: 'view', view: route.id, arg };
}
