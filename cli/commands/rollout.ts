// `fleetml rollout start|status|watch|pause|resume|promote|abort|list`: rollouts of a model version across nodes.
// A rollout lives on the agent that coordinates it (the one `start` talked to), which drives the other agents itself.
// `start` talks to the coordinator: --coordinator NAME, else the only target, else the first node of the inventory.
// The other commands find the rollout by id on every reachable node (or on --coordinator), so an id is enough.
// -o json prints {coordinator, rollout} for one rollout, {rollouts: [{coordinator, rollout}], unreachable} for a list,
// and one JSON object per line for `watch`.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { AgentClient, RpcCallError } from '../../shared/client/agent-client.js';
import type { Target } from '../../shared/client/inventory.js';
import { resolveTargets } from '../../shared/client/targets.js';
import { isTerminalRollout, type Rollout, type TestSet } from '../../shared/protocol/rollout.js';
import { uploadTestSet } from '../../shared/client/test-set-upload.js';
import { targetOptions } from '../common.js';
import { downNote, upConns, withTargets, type NodeConn, type UpConn } from '../node-conn.js';
import { formatTable, parseOutput, printJson, UsageError } from '../output.js';
import { buildRolloutStart, chooseCoordinator, parseTestSetCsv, resolveRolloutNodes, type KnownNode, type RolloutStartFlags } from '../args/rollout.js';
import { actionLine, formatPlan, formatStatus, listRow, ROLLOUT_LIST_HEADERS } from '../format/rollout.js';

const codeOf = (e: unknown) => (e instanceof RpcCallError ? e.codeName : null);
/** rollout.start may score the test set before it answers; a dry run plans against every node. */
const START_TIMEOUT_MS = 120_000;

/** Say what to try next for the agent errors a user can fix. */
export function explainRolloutError(e: unknown, node: string, method: string): Error {
  if (!(e instanceof RpcCallError)) return e instanceof Error ? e : new Error(String(e));
  const c = e.codeName;
  const hint = c === 'FORBIDDEN' ? '; this needs a token with the operate role (create one with: fleetml token create --role operate)'
    : c === 'METHOD_NOT_FOUND' ? '; the agent is too old for rollouts: upgrade it'
    : c === 'NOT_FOUND' && method === 'rollout.start' ? '; check the model and versions with: fleetml model list, and the node names with: fleetml nodes'
    : c === 'NOT_FOUND' ? '; list the rollouts with: fleetml rollout list'
    : c === 'CONFLICT' && method === 'rollout.start' && /memory|stable version/.test(e.message) ? '; free memory on that node (fleetml node show NAME; unload versions it no longer serves: fleetml model unload), or leave it out with --nodes'
    : c === 'CONFLICT' && method === 'rollout.start' ? '; a rollout of this model may be running already: see fleetml rollout list'
    : c === 'CONFLICT' ? '; see where it stands with: fleetml rollout status ID'
    : c === 'TIMEOUT' ? '; the coordinator may still be working: check with: fleetml rollout list'
    : '';
  return new Error(`${method} on ${node} refused (${c}): ${e.message}${hint}`);
}


/** The targets of a command and the one its --coordinator names (an inventory name; checked). */
function targetsOf(o: { url?: string; token?: string; inventory?: string; coordinator?: string }): { targets: Target[]; only: Target[] } {
  const { targets } = resolveTargets(o);
  if (o.coordinator === undefined) return { targets, only: targets };
  const name = chooseCoordinator(targets.map((t) => t.name), o.coordinator);
  return { targets, only: targets.filter((t) => t.name === name) };
}

/**
 * Find a rollout by id on the reachable nodes (in parallel): an exact id (rollout.get), else a unique id prefix
 * (rollout.list). The same id on two coordinators is a usage error that asks for --coordinator.
 */
async function findRollout(conns: readonly NodeConn[], id: string): Promise<{ conn: UpConn; rollout: Rollout }> {
  const up = upConns(conns);
  if (!up.length) throw new Error(`no agent reachable to look for rollout ${id}${downNote(conns)}; check them with: fleetml nodes`);
  const exact = await Promise.all(up.map(async (c) => {
    try { return { c, r: (await c.client.call('rollout.get', { id })).rollout, err: null }; } catch (e) {
      const code = codeOf(e);
      return { c, r: null, err: code === 'NOT_FOUND' || code === 'METHOD_NOT_FOUND' || code === 'INVALID_PARAMS' ? null : explainRolloutError(e, c.name, 'rollout.get') };
    }
  }));
  const hits = exact.filter((x) => x.r);
  if (hits.length > 1) throw new UsageError(`rollout ${id} is on ${hits.map((h) => h.c.name).join(', ')}: choose one with --coordinator NAME`);
  if (hits.length === 1) return { conn: hits[0].c, rollout: hits[0].r! };
  const lists = await Promise.all(up.map(async (c) => {
    try { return { c, rs: (await c.client.call('rollout.list', { limit: 1000 })).rollouts }; } catch { return { c, rs: [] as Rollout[] }; }
  }));
  const matches = lists.flatMap(({ c, rs }) => rs.filter((r) => r.id.startsWith(id)).map((rollout) => ({ conn: c, rollout })));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw new UsageError(`"${id}" matches ${matches.length} rollouts: ${matches.slice(0, 8).map((m) => `${m.rollout.id} on ${m.conn.name}`).join(', ')}; give more of the id`);
  const failed = exact.filter((x) => x.err).map((x) => x.err!.message);
  throw new UsageError(`no rollout "${id}" on ${up.map((c) => c.name).join(', ')}${failed.length ? ` (failed: ${failed.join('; ')})` : ''}${downNote(conns)}; list them with: fleetml rollout list`);
}

/** The nodes --nodes/--all name, as the agents call themselves (node.info), asked of every target in parallel. */
async function knownNodes(conns: readonly NodeConn[]): Promise<KnownNode[]> {
  return Promise.all(conns.map(async (c): Promise<KnownNode> => {
    if (!c.client) return { target: c.name, name: null, labels: null, error: c.error };
    try {
      const info = await c.client.call('node.info', {});
      return { target: c.name, name: info.name, labels: info.labels, error: null };
    } catch (e) { return { target: c.name, name: null, labels: null, error: (e as Error).message }; }
  }));
}

/** Exit code of a watched rollout: 0 when it ended well (promoted, or a shadow test completed), 1 any other end. */
export const watchExitCode = (r: Pick<Rollout, 'state'>) => (r.state === 'promoted' || r.state === 'completed' ? 0 : 1);

/**
 * Follow one rollout: subscribe to rollout.events on its coordinator (reconnecting, resubscribed with a fresh snapshot
 * after a drop), print it again on every change, resolve with the final rollout. The subscription is taken before the
 * first rollout.get, so no change between the two is missed; older versions (by updated_at) are ignored.
 */
async function watchRollout(t: Target, id: string, show: (r: Rollout) => void, onState: (s: string, err: string | null) => void): Promise<Rollout> {
  const c = new AgentClient({ url: t.url, token: t.token, ca: t.ca, reconnect: true, backoffMaxMs: 10_000 });
  try {
    await c.connect();
    let last: Rollout | null = null;
    let done: (r: Rollout) => void = () => undefined;
    const finished = new Promise<Rollout>((res) => { done = res; });
    const take = (r: Rollout | undefined) => {
      if (!r || r.id !== id || (last && r.updated_at < last.updated_at)) return;
      const same = last !== null && JSON.stringify(last) === JSON.stringify(r);
      last = r;
      if (!same) show(r);
      if (isTerminalRollout(r)) done(r);
    };
    c.on('state', (s: string, err: string | null) => onState(s, err));
    const sub = await c.subscribe('rollout.events', {}, (m) => {
      if (m.snapshot) take(m.data.rollouts.find((r) => r.id === id));
      else take(m.data.rollout);
    });
    take(sub.snapshot.rollouts.find((r) => r.id === id));
    take((await c.call('rollout.get', { id })).rollout);
    const r = await finished;
    await sub.close();
    return r;
  } finally { await c.close(); }
}

/** Options every rollout subcommand takes (targets, output, coordinator). */
type CommonOpts = { output?: string; url?: string; token?: string; inventory?: string; coordinator?: string };

/** `rollout start MODEL`: build the params from the flags (and the test set file), ask the coordinator, print the plan or the status. */
async function startAction(model: string, o: RolloutStartFlags & CommonOpts): Promise<void> {
  const out = parseOutput(o.output);
  const plan = buildRolloutStart(model, o);
  let testSet: ReturnType<typeof parseTestSetCsv> | null = null;
  if (o.testSet !== undefined) {
    let text: string;
    try { text = await readFile(o.testSet, 'utf8'); } catch (e) {
      throw new UsageError(`--test-set ${o.testSet}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a CSV file with a header row`);
    }
    testSet = parseTestSetCsv(text, { labelColumn: o.labelColumn, source: `--test-set ${o.testSet}`, name: basename(o.testSet) });
  }
  const { targets } = resolveTargets(o);
  const coordName = chooseCoordinator(targets.map((t) => t.name), o.coordinator);
  // --nodes/--all need every node's own name and labels; otherwise the coordinator alone is asked.
  const asked = plan.nodes ? targets : targets.filter((t) => t.name === coordName);
  await withTargets(asked, async (conns) => {
    const coord = conns.find((c) => c.name === coordName) ?? (asked.length === 1 ? conns[0] : undefined);
    if (!coord?.client) throw new Error(`the coordinator ${coordName} is not reachable: ${coord?.error ?? 'unknown node'}; choose another with --coordinator NAME, or check it with: fleetml nodes`);
    let nodes: string[] | undefined;
    let warnings: string[] = [];
    if (plan.nodes) ({ names: nodes, warnings } = resolveRolloutNodes(plan.nodes, await knownNodes(conns)));
    if (out === 'table') for (const w of warnings) console.error(`warning: ${w}`);
    // The test set is staged in chunks (rollout.uploadTestSet: any size, each chunk fits the agent's frame limit);
    // an agent older than protocol 1.7 gets it inline, as before.
    let gateSet: { test_set: TestSet } | { test_set_id: string } | null = null;
    if (plan.gate && testSet) {
      const inline: TestSet = { ...(testSet.name ? { name: testSet.name } : {}), rows: testSet.rows, labels: testSet.labels };
      try {
        gateSet = { test_set_id: (await uploadTestSet((m, p) => coord.client!.call(m, p as never), inline)).id };
      } catch (e) {
        if (codeOf(e) !== 'METHOD_NOT_FOUND') throw explainRolloutError(e, coord.name, 'rollout.uploadTestSet');
        gateSet = { test_set: inline };
      }
    }
    const params = {
      ...plan.params,
      ...(nodes ? { nodes } : {}),
      ...(plan.gate && gateSet ? { gate: { ...gateSet, metric: plan.gate.metric, bound: plan.gate.bound, ...(plan.gate.max_regression !== undefined ? { max_regression: plan.gate.max_regression } : {}) } } : {}),
    };
    let r: Rollout;
    try { r = (await coord.client.call('rollout.start', params, { timeoutMs: START_TIMEOUT_MS })).rollout; } catch (e) { throw explainRolloutError(e, coord.name, 'rollout.start'); }
    if (out === 'json') return printJson({ coordinator: coord.name, ...(warnings.length ? { warnings } : {}), rollout: r });
    if (plan.params.dry_run) { console.log(formatPlan(r)); return; }
    console.log(formatStatus(r, Date.now(), coord.name));
    console.log(`\nfollow it with: fleetml rollout watch ${r.id}`);
  });
}

/** `rollout status ID`: the rollout, found by id on every reachable node. */
async function statusAction(id: string, o: CommonOpts): Promise<void> {
  const out = parseOutput(o.output);
  await withTargets(targetsOf(o).only, async (conns) => {
    const { conn, rollout: r } = await findRollout(conns, id);
    if (out === 'json') return printJson({ coordinator: conn.name, rollout: r });
    console.log(formatStatus(r, Date.now(), conn.name));
  });
}

/** `rollout watch ID`: print the status on every change until the rollout ends; the exit code says how (watchExitCode). */
async function watchAction(id: string, o: CommonOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { only } = targetsOf(o);
  const { conn, first } = await withTargets(only, async (conns) => {
    const f = await findRollout(conns, id);
    return { conn: f.conn.name, first: f.rollout };
  });
  const target = only.find((t) => t.name === conn) ?? only[0];
  const tty = out === 'table' && Boolean(process.stdout.isTTY);
  const show = (r: Rollout) => {
    if (out === 'json') { process.stdout.write(JSON.stringify({ coordinator: conn, rollout: r }) + '\n'); return; }
    if (tty) process.stdout.write('\x1b[2J\x1b[H');
    else console.log(`--- ${new Date().toISOString()}`);
    console.log(formatStatus(r, Date.now(), conn));
  };
  if (isTerminalRollout(first)) { show(first); process.exitCode = watchExitCode(first); return; }
  const r = await watchRollout(target, first.id, show, (s, err) => {
    if (s !== 'open' && s !== 'closed' && s !== 'connecting') console.error(`${conn}: ${s}${err ? `: ${err}` : ''}; reconnecting…`);
  });
  if (out === 'table') console.log(`\nrollout ${r.id} ${r.state}`);
  process.exitCode = watchExitCode(r);
}

/** The verbs that act on one rollout, with the word their result line uses. */
type RolloutVerb = 'pause' | 'resume' | 'promote' | 'abort';

/** `rollout pause|resume|promote|abort ID`: find the rollout, ask its coordinator, print the result line. */
async function actAction(verb: RolloutVerb, past: string, id: string, o: CommonOpts & { reason?: string }): Promise<void> {
  const out = parseOutput(o.output);
  await withTargets(targetsOf(o).only, async (conns) => {
    const { conn, rollout: found } = await findRollout(conns, id);
    const method = `rollout.${verb}` as const;
    let r: Rollout;
    try { r = (await conn.client.call(method, { id: found.id, ...(o.reason !== undefined ? { reason: o.reason } : {}) }, { timeoutMs: START_TIMEOUT_MS })).rollout; } catch (e) { throw explainRolloutError(e, conn.name, method); }
    if (out === 'json') return printJson({ coordinator: conn.name, rollout: r });
    console.log(actionLine(past, r, conns.length > 1 ? conn.name : undefined));
  });
}

/** `rollout list [MODEL]`: rollouts of every reachable coordinator, newest first, and the ones that did not answer. */
async function listAction(model: string | undefined, o: CommonOpts & { limit: string }): Promise<void> {
  const out = parseOutput(o.output);
  const limit = /^\d+$/.test(o.limit) ? Number(o.limit) : NaN;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit "${o.limit}": a whole number from 1 to 1000`);
  await withTargets(targetsOf(o).only, async (conns) => {
    const up = upConns(conns);
    const res = await Promise.all(up.map(async (c) => {
      try { return { node: c.name, rollouts: (await c.client.call('rollout.list', { ...(model ? { name: model } : {}), limit })).rollouts, error: null }; } catch (e) {
        return { node: c.name, rollouts: [] as Rollout[], error: codeOf(e) === 'METHOD_NOT_FOUND' ? 'too old for rollouts' : explainRolloutError(e, c.name, 'rollout.list').message };
      }
    }));
    const unreachable = [...conns.filter((c) => !c.client).map((c) => ({ node: c.name, error: c.error })), ...res.filter((r) => r.error).map((r) => ({ node: r.node, error: r.error }))];
    const rows = res.flatMap((r) => r.rollouts.map((rollout) => ({ coordinator: r.node, rollout }))).sort((a, b) => b.rollout.created_at - a.rollout.created_at);
    if (out === 'json') return printJson({ rollouts: rows, unreachable });
    for (const u of unreachable) console.error(`${u.node}: ${u.error}`);
    if (!rows.length) { console.log(`no rollouts${model ? ` of ${model}` : ''}; start one with: fleetml rollout start MODEL --to VERSION`); return; }
    const now = Date.now();
    console.log(formatTable(ROLLOUT_LIST_HEADERS, rows.map((r) => listRow(r.coordinator, r.rollout, now))));
  });
}

/** `fleetml rollout …` commands. */
export function registerRolloutCommands(program: Command): void {
  program.enablePositionalOptions();
  const rollout = program.command('rollout').description('roll a model version out across nodes: test gate, canary/rolling/all-at-once/shadow, analysis, automatic rollback')
    .addHelpText('after', `
Examples:
  fleetml rollout start fraud --to 4 --all --dry-run                        # the plan: steps, weights per node, warnings
  fleetml rollout start fraud --to 4 --nodes gpu=a100 --steps 10,50,100 --step-duration 5m \\
      --test-set holdout.csv --gate "accuracy>=0.9" --max-regression 0.01
  fleetml rollout watch ID                                                   # until promoted or completed (exit 0), else 1
  fleetml rollout pause ID; fleetml rollout resume ID; fleetml rollout promote ID; fleetml rollout abort ID`);
  const cmd = (name: string, desc: string) => targetOptions(rollout.command(name).description(desc))
    .option('-o, --output <fmt>', 'table or json', 'table')
    .option('--coordinator <node>', 'the node that coordinates the rollout [start: the only target, else the first; others: found by id]');

  cmd('start <model>', 'start a rollout of MODEL to version --to, coordinated by one agent (see --coordinator)')
    .option('--to <version>', 'the candidate version (required)')
    .option('--from <version>', 'the version it replaces [what each node serves now]')
    .option('--nodes <selector>', 'nodes by name (a,b,c) or by labels (gpu=a100,zone=eu) [the coordinator alone]')
    .option('--all', 'every node of the inventory')
    .option('--strategy <s>', 'canary, rolling, all-at-once or shadow', 'canary')
    .option('--steps <list>', 'candidate traffic % per step (canary, shadow), ending at 100 for canary [10,50,100]')
    .option('--step-duration <dur>', 'how long each step runs before it is judged: 30s, 5m, 1h [5m]')
    .option('--max-unavailable <n>', 'nodes switched per wave (rolling) [1]')
    .option('--test-set <file>', 'labelled CSV (header; a "label" column, the other columns the features in order) scored before any traffic')
    .option('--label-column <name>', 'the label column of --test-set [label]')
    .option('--gate <expr>', 'the test gate: accuracy>=X, f1>=X, mae<=X or rmse<=X (needs --test-set)')
    .option('--max-regression <x>', 'how much worse than the stable version on the test set the candidate may be [0.01]')
    .option('--max-error-rate <x>', 'largest candidate error rate per step, 0-1 [0.01]')
    .option('--max-p95-ratio <x>', 'largest candidate/stable p95 latency ratio [1.5]')
    .option('--max-drift <x>', 'largest drift score of candidate vs stable inputs/outputs [0.2]')
    .option('--min-requests <n>', 'requests the candidate must serve in a step before it is judged [100]')
    .option('--max-waits <n>', 'extra step durations to wait for --min-requests before pausing for a human [3]')
    .option('--dry-run', 'print the plan (steps, weights per node, warnings) and change nothing')
    .option('--reason <text>', 'why, for the audit trail')
    .action(startAction);

  cmd('status <id>', 'one rollout: step and weights, each node, the last analysis next to its thresholds, every decision')
    .action(statusAction);

  cmd('watch <id>', 'print the status again on every change until the rollout ends: exit 0 when promoted (or a shadow test completed), 1 otherwise')
    .action(watchAction);

  const act = (verb: RolloutVerb, past: string, desc: string) => cmd(`${verb} <id>`, desc)
    .option('--reason <text>', 'why, for the audit trail')
    .action((id: string, o: CommonOpts & { reason?: string }) => actAction(verb, past, id, o));
  act('pause', 'paused', 'hold a rollout at its current step (traffic stays as it is)');
  act('resume', 'resumed', 'continue a paused rollout (the current step is analysed again from now)');
  act('promote', 'promoted', 'skip the remaining steps: every target node serves the candidate at 100%');
  act('abort', 'aborted', 'stop a rollout and restore the previous routing on every node it changed');

  cmd('list [model]', 'rollouts coordinated by every node (or --coordinator), newest first')
    .option('--limit <n>', 'at most N per coordinator', '50')
    .action(listAction);
}
