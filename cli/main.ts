// The `fleetml` command (entry: bin/fleetml.ts): the one composition point of the three faces (agent, TUI, client commands).
// Heavy parts (Ink/React, the agent) are imported lazily so `fleetml nodes` starts fast.
import { Command, CommanderError } from 'commander';
import { registerAgentCommand } from './commands/agent.js';
import { registerTokenCommands } from './commands/token.js';
import { registerNodeCommands } from './commands/node.js';
import { registerClusterCommands } from './commands/cluster.js';
import { registerJobCommands } from './commands/job.js';
import { registerModelCommands } from './commands/model.js';
import { registerDriftCommands } from './commands/drift.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerFeedbackCommands } from './commands/feedback.js';
import { registerAutoCommands } from './commands/auto.js';
import { targetOptions } from './common.js';
import { UsageError } from './output.js';
import { InputError } from '../shared/client/input-error.js';
import { packageVersion } from '../shared/util/package-root.js';

/** Build the `fleetml` program with every command group registered. */
export function buildProgram(): Command {
  const program = new Command('fleetml')
    .description('GPU fleet agent, TUI and CLI: telemetry, jobs, model serving, drift, rollouts, automations')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  registerAgentCommand(program);
  registerTokenCommands(program);
  registerClusterCommands(program);
  registerNodeCommands(program);
  registerJobCommands(program);
  registerModelCommands(program);
  registerDriftCommands(program);
  registerRolloutCommands(program);
  registerFeedbackCommands(program);
  registerAutoCommands(program);

  targetOptions(program.command('tui').description('the terminal console: every agent of the inventory at once'))
    .option('--readonly', 'hide every action that changes something')
    .option('--title <title>', 'title in the header')
    .action(async (o) => {
      const { resolveTargets } = await import('../shared/client/targets.js');
      const { FleetClient } = await import('../shared/client/fleet-client.js');
      const { runTui } = await import('../tui/run.js');
      const { targets, source } = resolveTargets(o);
      const fleet = new FleetClient(targets);
      fleet.start();
      await runTui(fleet, { readonly: Boolean(o.readonly), title: o.title ?? source, actions: fleet });
      await fleet.stop();
      process.exit(0);
    });
  return program;
}

/** Run the program on argv and exit with its status (usage and input errors 2, other failures 1). */
export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]).catch((e: unknown) => {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    // a mistake in what was given: the CLI's own checks, or the client library refusing a file
    if (e instanceof UsageError || e instanceof InputError) { console.error(`fleetml: ${e.message}`); process.exit(2); }
    console.error(`fleetml: ${(e as Error)?.message ?? e}`);
    process.exit(1);
  });
}
