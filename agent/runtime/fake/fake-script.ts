// The fake driver's tiny script language, as a pure function from spec.command to a timeline.
//
//   ["sleep", "2.5"]                         wait 2.5 s (fractions allowed)
//   ["echo", "some", "text"]                 one stdout line "some text", at the current script time
//   ["exit", "3"]                            end now with exit code 3 (0-255)
//   ["oom"]                                  end now as an OOM kill: exit 137, signal SIGKILL, oomKilled
//   a && b && c                              steps separated by "&&" tokens, run in order
//   anything else                            one stderr line "fake: unknown command: X", then exit 127
// A script that runs out of steps exits 0. Everything is deterministic: the timeline depends only on the
// command, so a new driver instance (an "agent restart") computes the same result from the start time.

/** One output line at `atMs` after the start. */
export interface FakeLine { atMs: number; stream: 'stdout' | 'stderr'; line: string }

/** What a fake script does over time. */
export interface FakeTimeline {
  lines: FakeLine[];
  /** When the script ends, in milliseconds after the start. */
  endMs: number;
  exitCode: number;
  oomKilled: boolean;
}

/** Split a command on "&&" tokens into steps (empty steps are dropped). */
export function splitSteps(command: readonly string[]): string[][] {
  const steps: string[][] = [[]];
  for (const w of command) {
    if (w === '&&') steps.push([]);
    else steps[steps.length - 1].push(w);
  }
  return steps.filter((s) => s.length > 0);
}

/** Compute the timeline of a fake script; never throws (bad input becomes exit 127 with a stderr line). */
export function parseFakeScript(command: readonly string[]): FakeTimeline {
  const lines: FakeLine[] = [];
  let t = 0;
  const fail = (msg: string): FakeTimeline => {
    lines.push({ atMs: t, stream: 'stderr', line: `fake: ${msg}` });
    return { lines, endMs: t, exitCode: 127, oomKilled: false };
  };
  for (const [word, ...args] of splitSteps(command)) {
    switch (word) {
      case 'sleep': {
        const s = Number(args[0]);
        if (args.length !== 1 || !Number.isFinite(s) || s < 0) return fail(`sleep needs one number of seconds, got ${JSON.stringify(args)}`);
        t += Math.round(s * 1000);
        break;
      }
      case 'echo':
        lines.push({ atMs: t, stream: 'stdout', line: args.join(' ') });
        break;
      case 'exit': {
        const code = args.length === 0 ? 0 : Number(args[0]);
        if (args.length > 1 || !Number.isInteger(code) || code < 0 || code > 255) return fail(`exit needs a code 0-255, got ${JSON.stringify(args)}`);
        return { lines, endMs: t, exitCode: code, oomKilled: false };
      }
      case 'oom':
        return { lines, endMs: t, exitCode: 137, oomKilled: true };
      default:
        return fail(`unknown command: ${word}`);
    }
  }
  return { lines, endMs: t, exitCode: 0, oomKilled: false };
}
