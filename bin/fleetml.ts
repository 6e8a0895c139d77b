#!/usr/bin/env node
// The `fleetml` command: the one composition point of the three faces (agent, TUI, client commands).
// Heavy parts (Ink/React, the agent) are imported lazily so `fleetml nodes` starts fast.
import { Command, CommanderError } from 'commander';
import { registerAgentCommand } from '../agent/cli/agent-command.js';
import { registerTokenCommands } from '../agent/cli/token-command.js';
import { registerNodeCommands } from '../shared/cli/nodes.js';
import { registerClusterCommands } from '../shared/cli/cluster.js';
import { registerJobCommands } from '../shared/cli/jobs.js';
import { registerModelCommands } from '../shared/cli/models.js';
import { registerDriftCommands } from '../shared/cli/drift.js';
import { registerRolloutCommands } from '../shared/cli/rollout.js';
import { targetOptions } from '../shared/cli/common.js';
import { UsageError } from '../shared/cli/output.js';
import { packageVersion } from '../shared/util/package-root.js';

const program = new Command('fleetml')
  .description('GPU fleet agent, TUI and CLI: telemetry, jobs, model serving, drift, rollouts')
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

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (e instanceof UsageError) { console.error(`fleetml: ${e.message}`); process.exit(2); }
  console.error(`fleetml: ${(e as Error)?.message ?? e}`);
  process.exit(1);
});
