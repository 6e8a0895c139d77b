import type { Command } from 'commander';

/** Add the options every client command shares for choosing agents. */
export function targetOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'one agent (also FLEETML_URL), e.g. ws://10.0.0.5:7070')
    .option('--token <token>', 'token for --url (also FLEETML_TOKEN or FLEETML_TOKEN_FILE)')
    .option('--inventory <file>', 'cluster inventory (also FLEETML_INVENTORY; default ~/.config/fleetml/cluster.yaml)');
}
