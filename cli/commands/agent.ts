import type { Command } from 'commander';
import { loadConfig, ConfigError, configKeySchema, OVERRIDES, type AgentFlags, type Override } from '../../agent/config.js';
import type { RunningAgent } from '../../agent/main.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
/** Exit code for a bad configuration (sysexits EX_CONFIG): systemd's RestartPreventExitStatus can name it. */
export const EXIT_CONFIG = 78;

/** A default as help shows it: `[127.0.0.1:7070]`, `[process, docker]`; nothing for null or empty ones. */
function shownDefault(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length ? v.join(', ') : undefined;
  if (typeof v === 'object') return Object.keys(v).length ? JSON.stringify(v) : undefined;
  return String(v);
}

/** Help of one override flag: the row's text, the schema's choices, "(repeatable)", and the schema's default. */
export function overrideHelp(o: Override): string {
  const s = configKeySchema(o.key);
  const field = o.field !== undefined ? undefined : s;
  const choices = field?.enum ?? field?.items?.enum;
  const def = o.defaultHelp ?? shownDefault(field?.default);
  return `${o.help}${choices ? `: ${choices.join(' | ')}` : ''}${o.list ? ' (repeatable)' : ''}${def !== undefined ? ` [${def}]` : ''}`;
}

/** Declare one option per OVERRIDES row that has a flag (repeatable ones collect their values). */
export function addOverrideOptions(cmd: Command): Command {
  for (const o of OVERRIDES as readonly Override[]) {
    if (!o.flag) continue;
    if (o.list) cmd.option(o.flag, overrideHelp(o), collect);
    else cmd.option(o.flag, overrideHelp(o));
  }
  return cmd;
}

/** `fleetml agent`: the options (--config and one per OVERRIDES flag); the action runs the daemon. */
export function registerAgentCommand(program: Command): void {
  const cmd = program.command('agent').description('run the node agent (telemetry, API) in the foreground; logs are JSON lines on stderr')
    .option('--config <file>', 'YAML config file (also FLEETML_CONFIG), e.g. /etc/fleetml/agent.yaml');
  addOverrideOptions(cmd).action(agentAction);
}

/** Run the daemon until SIGTERM/SIGINT: a bad config exits 78, a failed start 1, a clean stop 0. */
export async function agentAction(o: AgentFlags): Promise<void> {
  let config;
  try { config = loadConfig(o); } catch (e) {
    if (e instanceof ConfigError) { console.error(`fleetml agent: ${e.message}`); process.exit(EXIT_CONFIG); }
    throw e;
  }
  // the agent (onnxruntime, SQLite, Docker client) loads only for this command, not for every `fleetml …`
  const [{ createLogger }, { startAgent }] = await Promise.all([import('../../agent/log.js'), import('../../agent/main.js')]);
  const log = createLogger(config.log_level);
  // Signal handlers go in before start-up: a SIGTERM while starting still ends in a clean stop (exit 0).
  let agent: RunningAgent | null = null;
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
}
