import type { Command } from 'commander';
import { loadConfig, ConfigError } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { startAgent } from '../../agent/main.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
/** Exit code for a bad configuration (sysexits EX_CONFIG): systemd's RestartPreventExitStatus can name it. */
export const EXIT_CONFIG = 78;

/** `fleetml agent`: run the daemon until SIGTERM/SIGINT. */
export function registerAgentCommand(program: Command): void {
  program.command('agent').description('run the node agent (telemetry, API) in the foreground; logs are JSON lines on stderr')
    .option('--config <file>', 'YAML config file (also FLEETML_CONFIG), e.g. /etc/fleetml/agent.yaml')
    .option('--listen <host:port>', 'API address [127.0.0.1:7070]')
    .option('--data-dir <dir>', 'state directory [~/.local/share/fleetml, or $STATE_DIRECTORY]')
    .option('--name <name>', 'node name [host name]')
    .option('--label <k=v>', 'node label (repeatable)', collect)
    .option('--tls-cert <file>', 'PEM certificate: serve wss/https')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--telemetry-interval <ms>', 'sampling interval in ms [1000]')
    .option('--history <seconds>', 'history kept per metric [900]')
    .option('--gpu-source <src>', 'auto | nvml | smi | sim | none [auto]')
    .option('--gpu-fixture <file>', 'fixture to replay with --gpu-source sim (repeatable)', collect)
    .option('--peer <name=url>', 'another agent of the cluster (repeatable)', collect)
    .option('--log-level <level>', 'trace | debug | info | warn | error [info]')
    .option('--job-driver <name>', 'enable a task driver: process, docker, fake (repeatable) [process, docker]', collect)
    .option('--allow-mount <dir>', 'host directory container jobs may bind-mount from (repeatable)', collect)
    .option('--process-user <user>', 'host user process jobs run as; @agent: the agent\'s own user [nobody]')
    .action(async (o) => {
      let config;
      try { config = loadConfig(o); } catch (e) {
        if (e instanceof ConfigError) { console.error(`fleetml agent: ${e.message}`); process.exit(EXIT_CONFIG); }
        throw e;
      }
      const log = createLogger(config.log_level);
      // Signal handlers go in before start-up: a SIGTERM while starting still ends in a clean stop (exit 0).
      let agent: Awaited<ReturnType<typeof startAgent>> | null = null;
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal: sig }, 'stopping');
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        if (!agent) return; // start-up finishes below and sees `stopping`
        agent.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('uncaughtException', (e) => { log.fatal({ err: e }, 'uncaught exception'); process.exit(70); });
      process.on('unhandledRejection', (e) => { log.error({ err: e }, 'unhandled rejection'); });
      try { agent = await startAgent(config, log); } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const hint = err.code === 'EADDRINUSE' ? ` (${config.listen} is in use: is another agent running? pick another --listen)` : '';
        log.fatal({ err: err.message, code: err.code }, `agent failed to start${hint}`);
        console.error(`fleetml agent: ${err.message}${hint}`);
        process.exit(1);
      }
      if (stopping) await agent.stop().then(() => process.exit(0), () => process.exit(1));
    });
}
