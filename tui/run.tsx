// Entry point of the console: alternate screen in, Ink render, alternate screen out on every exit path.
import { render } from 'ink';
import type { FleetActions, FleetSource } from '../shared/client/fleet-types.js';
import { App } from './App.js';

/** Enter / leave the terminal's alternate screen (keeps the user's scrollback clean, as htop and k9s do). */
export const ALT_SCREEN_ON = '\x1b[?1049h';
/** Leave the alternate screen. */
export const ALT_SCREEN_OFF = '\x1b[?1049l';

/** Options of runTui. */
export interface RunTuiOptions {
  /** Hide and disable dangerous bindings. Default false. */
  readonly?: boolean;
  /** Cluster name shown in the header. Default "cluster". */
  title?: string;
  /** Submit/cancel jobs and follow logs (the FleetClient). Default none: those keys are hidden. */
  actions?: FleetActions;
}

/**
 * Run the console on the process's terminal until the user quits (q, ctrl-c, :q).
 * Renders at most 10 frames per second; leaves the alternate screen on quit, SIGINT, SIGTERM and crashes.
 */
export async function runTui(source: FleetSource, opts: RunTuiOptions = {}): Promise<void> {
  const out = process.stdout;
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    if (out.isTTY) out.write(ALT_SCREEN_OFF);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    instance.unmount();
    leave();
    process.kill(process.pid, sig); // re-raise with the default handler gone, so the exit status says why
  };
  const onCrash = (err: unknown) => {
    try { instance.unmount(); } catch { /* already gone */ }
    leave();
    console.error(err);
    process.exit(1);
  };
  if (out.isTTY) out.write(ALT_SCREEN_ON);
  const instance = render(<App source={source} actions={opts.actions} readonly={opts.readonly} title={opts.title} />, {
    maxFps: 10,
    exitOnCtrlC: true,
    patchConsole: false,
  });
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.once('SIGINT', sigint);
  process.once('SIGTERM', sigterm);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  process.once('exit', leave);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    process.off('exit', leave);
    leave();
  }
}
