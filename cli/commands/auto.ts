// `fleetml auto create|list|show|pause|resume|run|rm|history`: automations (retrain → register → gate → rollout) stored
// on the agent that runs them. `create` talks to --node NAME or the only target; the other commands find the
// automation by name on every reachable node (or on --node). -o json prints the agent's answer with the node name.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { RpcCallError } from '../../shared/client/agent-client.js';
import type { Automation, AutomationRun } from '../../shared/protocol/automation.js';
import { targetOptions } from '../common.js';
import { pickNode, upConns, downNote, withConns, type NodeConn, type UpConn } from '../node-conn.js';
import { requireSingleTarget } from '../args/model.js';
import { buildAutoCreate, parseJobYaml, type AutoCreateFlags } from '../args/auto.js';
import { formatTable, parseOutput, printJson, UsageError } from '../output.js';

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

/** Say what to try next for the errors a user can fix. */
function explain(e: unknown, node: string, method: string): Error {
  if (!(e instanceof RpcCallError)) return e instanceof Error ? e : new Error(String(e));
  const hint = e.codeName === 'FORBIDDEN' ? '; this needs a token with the operate role (fleetml token create --role operate)'
    : e.codeName === 'METHOD_NOT_FOUND' ? '; the agent is too old for automations: upgrade it'
    : e.codeName === 'NOT_FOUND' ? '; list them with: fleetml auto list' : '';
  return new Error(`${method} on ${node} refused (${e.codeName}): ${e.message}${hint}`);
}

/** The node holding automation `name`: --node, else the reachable one that has it. */
async function find(conns: readonly NodeConn[], name: string, node?: string): Promise<UpConn> {
  if (node) return pickNode(conns, node) as UpConn;
  const up = upConns(conns);
  const has = (await Promise.all(up.map(async (c) => {
    try { await c.client.call('auto.get', { name }); return c; } catch { return null; }
  }))).filter((c): c is UpConn => c !== null);
  if (!has.length) throw new Error(`no automation ${name} on any reachable agent${downNote(conns)}; list them with: fleetml auto list`);
  if (has.length > 1) throw new UsageError(`automation ${name} exists on ${has.map((c) => c.name).join(', ')}: choose one with --node NAME`);
  return has[0];
}

/** One line per run. */
export function runRows(runs: readonly AutomationRun[]): string[][] {
  return runs.map((r) => [r.id, r.state, r.trigger.kind, iso(r.created_at), r.version ?? '-', r.job_id ?? '-', r.rollout_id ?? '-', `${(r.reason ?? '').slice(0, 100)}${r.repeats ? ` (×${r.repeats + 1})` : ''}`]);
}
const RUN_HEADERS = ['RUN', 'STATE', 'TRIGGER', 'CREATED', 'VERSION', 'JOB', 'ROLLOUT', 'REASON'];

/** A trigger as the user wrote it. */
export function triggerText(a: Automation): string {
  const t = a.spec.trigger;
  return t.kind === 'performance' ? `performance:${t.metric}${t.op}${t.bound}` : t.kind === 'schedule' ? `schedule:${t.cron}` : t.kind;
}

/** Register `fleetml auto …`. */
export function registerAutoCommands(program: Command): void {
  const auto = program.command('auto').description('automations: retrain a model on drift, poor ground truth, a schedule or by hand; gate it; roll it out');
  const out = (c: Command) => c.option('-o, --output <format>', 'table or json', 'table');
  const node = (c: Command) => c.option('--node <name>', 'the agent holding the automation');

  out(node(targetOptions(auto.command('create <name>').description('create an automation on one agent')
    .requiredOption('--model <model>', 'the model to retrain')
    .requiredOption('--on <trigger>', 'drift | performance[:accuracy<0.9] | schedule:"m h dom mon dow" | manual')
    .requiredOption('--retrain-job <file>', 'YAML job spec of the retraining job (process or docker driver)')
    .option('--gate <gate>', 'test gate, e.g. "accuracy>=0.9" (on the held-out feedback, or --test-set)')
    .option('--max-regression <x>', 'how much worse than the serving version the candidate may score (default 0.01)')
    .option('--test-set <file>', 'labelled CSV for the gate on the agent\'s node (header; a label column or the last)')
    .option('--data <file>', 'training CSV on the agent\'s node, used when no labelled feedback exists')
    .option('--rollout <spec>', 'e.g. "canary 10,50,100 --step-duration 5m"')
    .option('--cooldown <duration>', 'quiet time after each run (default 6h)')
    .option('--max-runs <n/window>', 'at most N runs per window (default 3/24h)')
    .option('--nodes <names>', 'comma-separated nodes of the rollout (default: the agent itself)'))))
    .action(async function createAction(name: string, o: AutoCreateFlags & { retrainJob: string; output?: string; node?: string; url?: string; token?: string; inventory?: string }) {
      const fmt = parseOutput(o.output);
      let text: string;
      try { text = await readFile(o.retrainJob, 'utf8'); } catch (e) { throw new UsageError(`--retrain-job ${o.retrainJob}: ${(e as Error).message}`); }
      const spec = buildAutoCreate(name, o, parseJobYaml(text, o.retrainJob));
      await withConns(o, async (conns) => {
        if (!o.node) requireSingleTarget(conns.map((c) => c.name), 'create');
        const c = (o.node ? pickNode(conns, o.node) : upConns(conns)[0] ?? pickNode(conns, conns[0]?.name ?? '')) as UpConn;
        const r = await c.client.call('auto.create', { spec }).catch((e) => { throw explain(e, c.name, 'auto.create'); });
        if (fmt === 'json') return printJson({ node: c.name, automation: r.automation });
        console.log(`created automation ${r.automation.name} on ${c.name}: ${triggerText(r.automation)} → retrain ${r.automation.model} → ${r.automation.spec.gate ? `gate ${r.automation.spec.gate.metric}` : 'no gate'} → ${r.automation.spec.rollout.strategy}`);
      });
    });

  out(targetOptions(auto.command('list').description('automations of every reachable agent').option('--model <model>', 'only this model')))
    .action(async function listAction(o: { model?: string; output?: string; url?: string; token?: string; inventory?: string }) {
      const fmt = parseOutput(o.output);
      await withConns(o, async (conns) => {
        const all = await Promise.all(upConns(conns).map(async (c) => ({ node: c.name, automations: (await c.client.call('auto.list', o.model ? { model: o.model } : {}).catch((e) => { throw explain(e, c.name, 'auto.list'); })).automations })));
        if (fmt === 'json') return printJson({ nodes: all, unreachable: conns.filter((c) => !c.client).map((c) => ({ node: c.name, error: c.error })) });
        const rows = all.flatMap((n) => n.automations.map((a) => [n.node, a.name, a.model, a.state, triggerText(a), a.spec.gate ? `${a.spec.gate.metric} ${a.spec.gate.bound}` : '-', a.spec.rollout.strategy, `${a.spec.cooldown_s}s`, `${a.spec.max_runs.count}/${a.spec.max_runs.window_s}s`]));
        console.log(rows.length ? formatTable(['NODE', 'NAME', 'MODEL', 'STATE', 'TRIGGER', 'GATE', 'ROLLOUT', 'COOLDOWN', 'MAX RUNS'], rows) : `no automations${downNote(conns)}`);
      });
    });

  out(node(targetOptions(auto.command('show <name>').description('an automation and its newest runs'))))
    .action(async function showAction(name: string, o: { node?: string; output?: string; url?: string; token?: string; inventory?: string }) {
      const fmt = parseOutput(o.output);
      await withConns(o, async (conns) => {
        const c = await find(conns, name, o.node);
        const r = await c.client.call('auto.get', { name }).catch((e) => { throw explain(e, c.name, 'auto.get'); });
        if (fmt === 'json') return printJson({ node: c.name, ...r });
        const a = r.automation;
        console.log(`${a.name} on ${c.name}: ${a.state}, model ${a.model}, trigger ${triggerText(a)}, cooldown ${a.spec.cooldown_s}s, max ${a.spec.max_runs.count} runs per ${a.spec.max_runs.window_s}s`);
        console.log(r.runs.length ? formatTable(RUN_HEADERS, runRows(r.runs)) : 'no runs yet');
      });
    });

  for (const [verb, method, what] of [['pause', 'auto.pause', 'paused'], ['resume', 'auto.resume', 'active']] as const) {
    out(node(targetOptions(auto.command(`${verb} <name>`).description(verb === 'pause' ? 'suppress triggers (a run in flight goes on)' : 'act on triggers again'))))
      .action(async function pauseResumeAction(name: string, o: { node?: string; output?: string; url?: string; token?: string; inventory?: string }) {
        const fmt = parseOutput(o.output);
        await withConns(o, async (conns) => {
          const c = await find(conns, name, o.node);
          const r = await c.client.call(method, { name }).catch((e) => { throw explain(e, c.name, method); });
          if (fmt === 'json') return printJson({ node: c.name, automation: r.automation });
          console.log(`automation ${name} on ${c.name} is ${what}`);
        });
      });
  }

  out(node(targetOptions(auto.command('run <name>').description('trigger a run by hand').option('--reason <text>', 'why (kept in the run)'))))
    .action(async function runAction(name: string, o: { node?: string; reason?: string; output?: string; url?: string; token?: string; inventory?: string }) {
      const fmt = parseOutput(o.output);
      await withConns(o, async (conns) => {
        const c = await find(conns, name, o.node);
        const r = await c.client.call('auto.run', { name, ...(o.reason ? { reason: o.reason } : {}) }).catch((e) => { throw explain(e, c.name, 'auto.run'); });
        if (fmt === 'json') return printJson({ node: c.name, run: r.run });
        console.log(r.run.state === 'suppressed' ? `suppressed: ${r.run.reason}` : `run ${r.run.id} queued on ${c.name}; follow it with: fleetml auto history ${name}`);
      });
    });

  out(node(targetOptions(auto.command('rm <name>').description('remove an automation and its run history'))))
    .action(async function removeAction(name: string, o: { node?: string; output?: string; url?: string; token?: string; inventory?: string }) {
      const fmt = parseOutput(o.output);
      await withConns(o, async (conns) => {
        const c = await find(conns, name, o.node);
        const r = await c.client.call('auto.remove', { name }).catch((e) => { throw explain(e, c.name, 'auto.remove'); });
        if (fmt === 'json') return printJson({ node: c.name, ...r });
        console.log(`removed automation ${name} from ${c.name}`);
      });
    });

  out(node(targetOptions(auto.command('history <name>').description('runs of an automation, newest first (suppressed triggers included)')
    .option('--run <id>', 'one run, with its step history').option('--limit <n>', 'most runs', '20'))))
    .action(async function historyAction(name: string, o: { node?: string; run?: string; limit: string; output?: string; url?: string; token?: string; inventory?: string }) {
      const fmt = parseOutput(o.output);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit "${o.limit}": a whole number from 1 to 1000`);
      await withConns(o, async (conns) => {
        const c = await find(conns, name, o.node);
        const r = await c.client.call('auto.history', { name, limit, ...(o.run ? { run: o.run } : {}) }).catch((e) => { throw explain(e, c.name, 'auto.history'); });
        if (fmt === 'json') return printJson({ node: c.name, runs: r.runs });
        if (o.run && r.runs[0]) {
          const run = r.runs[0];
          console.log(`${run.id} ${run.state}: ${run.reason ?? ''}\n  trigger ${run.trigger.kind}: ${run.trigger.detail}\n  parent ${run.parent_version ?? '-'}  version ${run.version ?? '-'}  job ${run.job_id ?? '-'}  rollout ${run.rollout_id ?? '-'}  data ${run.data_digest ?? '-'} (${run.data_source ?? '-'})`);
          console.log(formatTable(['TIME', 'STATE', 'REASON'], run.history.map((h) => [iso(h.ts), h.state, h.reason ?? ''])));
          return;
        }
        console.log(r.runs.length ? formatTable(RUN_HEADERS, runRows(r.runs)) : 'no runs');
      });
    });
}
