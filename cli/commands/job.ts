// `fleetml job run|list|show|logs|cancel|wait|rm`: jobs across every agent of the inventory.
// Placement (shared/placement/place.ts) picks the node for `run`; the chosen agent's own queue does the rest.
// Job ids are unique across nodes ('j_' + random), so commands find a job by asking every agent;
// a unique id prefix, a unique job name, or NODE/ID are accepted too.
import type { Command } from 'commander';
import { RpcCallError } from '../../shared/client/agent-client.js';
import type { TargetOptions } from '../../shared/client/targets.js';
import type { Job, LogLine, NodeResources } from '../../shared/protocol/jobs.js';
import { place } from '../../shared/placement/place.js';
import { buildJobRun, resolveDriver, parseDuration, parseIntArg, parseLabels, parseStates, type JobRunFlags } from '../args/job.js';
import { downNote, findJob, onEach, pickNode, withConns, type NodeConn } from '../node-conn.js';
import { finalLine, formatLogLine, isTerminal, jobDetail, jobRow, JOB_LIST_HEADERS, logPrefix, sortJobs } from '../format/job.js';
import { followLogs, interruptSignal, waitForJobs, type Followed } from '../job-follow.js';
import { formatTable, parseOutput, printJson } from '../output.js';
import { targetOptions } from '../common.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Say what to try next for the agent errors a user can fix. */
function explain(e: unknown, node: string, what: string): Error {
  if (!(e instanceof RpcCallError)) return e as Error;
  const hint = e.codeName === 'FORBIDDEN' ? '; this needs a token with the operate role (create one with: fleetml token create --role operate)'
    : e.codeName === 'CONFLICT' && what === 'job.remove' ? '; only finished jobs can be removed: cancel it first with: fleetml job cancel ID'
    : e.codeName === 'METHOD_NOT_FOUND' ? '; the agent is too old for jobs: upgrade it'
    : '';
  return new Error(`${what} on ${node} refused (${e.codeName}): ${e.message}${hint}`);
}


/** --since as an absolute time (ms): a duration back from now, or an ISO date. */
function sinceTs(v: string | undefined, now: number): number | null {
  if (v === undefined) return null;
  if (/^\d{4}-\d\d-\d\d/.test(v)) { const t = Date.parse(v); if (Number.isFinite(t)) return t; }
  return now - parseDuration(v, '--since') * 1000;
}

/** `fleetml job …` commands: declares each subcommand and its options; the actions follow. */
export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('run and manage jobs (processes or containers) across the nodes');
  const cmd = (name: string, desc: string) => targetOptions(job.command(name).description(desc)).option('-o, --output <fmt>', 'table or json', 'table');

  cmd('run', 'place a job on a node (bin-pack on free GPUs unless --spread) and submit it: fleetml job run --gpus 1 -- CMD ARGS…')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--node <name>', 'run on this node (skip placement)')
    .option('--selector <k=v>', 'only nodes with this label (repeatable)', collect)
    .option('--gpus <n>', 'GPUs (exclusive) [0]')
    .option('--cpus <n>', 'CPU cores, fractions allowed')
    .option('--memory <size>', 'memory: 8g (×1000) or 8gi (×1024)')
    .option('--image <img>', 'container image (implies --driver docker; must be on the node)')
    .option('--driver <d>', 'process, docker, slurm or fake [the node\'s default driver: docker with --image, else process, unless it is slurm]')
    .option('--env <K=V>', 'environment variable (repeatable)', collect)
    .option('--mount <SRC:DST[:ro]>', 'bind mount from an allowed host path (repeatable)', collect)
    .option('--workdir <dir>', 'working directory')
    .option('--priority <p>', 'higher runs first, -1000..1000 [0]')
    .option('--timeout <dur>', 'kill after this long: 90s, 10m, 2h, 1d')
    .option('--restart <policy>', 'never or on-failure:N [never]')
    .option('--name <name>', 'job name')
    .option('--label <k=v>', 'job label (repeatable)', collect)
    .option('--spread', 'place on the node with the most free GPUs instead of bin-packing')
    .option('--partition <p>', 'Slurm partition (implies --driver slurm) [jobs.slurm.partition, else the cluster\'s default]')
    .option('--account <a>', 'Slurm account (implies --driver slurm)')
    .option('--qos <q>', 'Slurm QOS (implies --driver slurm)')
    .option('--constraint <expr>', 'Slurm node features, sbatch --constraint (implies --driver slurm)')
    .action(jobRunAction);

  cmd('list', 'jobs of every node, newest first')
    .option('--node <name>', 'only this node')
    .option('--state <s,s>', 'only these states (queued, starting, running, succeeded, failed, cancelled, lost)')
    .option('--label <k=v>', 'only jobs with this label (repeatable)', collect)
    .action(jobListAction);

  cmd('show <id>', 'one job: spec, state history, GPUs, exit reason (ID, unique prefix, name or NODE/ID)')
    .action(jobShowAction);

  cmd('logs <ids...>', 'output of one or more jobs; -f follows until they finish (lines prefixed [node/name] for several)')
    .option('-f, --follow', 'keep printing new lines until every job is finished (or Ctrl-C)')
    .option('--since <dur>', 'only lines newer than this: 10m, 2h, or an ISO time')
    .option('--tail <n>', 'only the last N lines of each job')
    .action(jobLogsAction);

  cmd('cancel <id>', 'cancel a queued or running job (SIGTERM, then SIGKILL after its stop grace)')
    .option('--reason <text>', 'why (kept in the job history)')
    .action(jobCancelAction);

  cmd('wait <ids...>', 'wait until jobs finish; exit code 0 only if all succeeded')
    .option('--timeout <dur>', 'give up after this long (exit 1): 30s, 10m, 2h')
    .action(jobWaitAction);

  cmd('rm <id>', 'remove a finished job and its logs')
    .action(jobRmAction);
}

/** Options every `fleetml job` subcommand takes: the targets and -o. */
export interface JobCommonOpts extends TargetOptions { output?: string }
/** Options of `fleetml job run`. */
export interface JobRunOpts extends JobCommonOpts, JobRunFlags {}
/** Options of `fleetml job list`. */
export interface JobListOpts extends JobCommonOpts { node?: string; state?: string; label?: string[] }
/** Options of `fleetml job logs`. */
export interface JobLogsOpts extends JobCommonOpts { follow?: boolean; since?: string; tail?: string }
/** Options of `fleetml job cancel`. */
export interface JobCancelOpts extends JobCommonOpts { reason?: string }
/** Options of `fleetml job wait`. */
export interface JobWaitOpts extends JobCommonOpts { timeout?: string }

/** `fleetml job run -- CMD…`: place the job (or take --node) and submit it; prints where and the job id. */
export async function jobRunAction(command: string[], o: JobRunOpts): Promise<void> {
  const out = parseOutput(o.output);
  const plan = buildJobRun(o, command);
  await withConns(o, async (conns) => {
    let target: NodeConn;
    let reason: string;
    let queued = false;
    let spec = plan.spec;
    if (plan.node) {
      target = pickNode(conns, plan.node);
      reason = 'chosen with --node';
      // the node's default driver (slurm on a login node) applies when no --driver was given
      if (plan.driverDefaulted && target.client) {
        const r = await target.client.call('node.resources', {}).catch(() => null);
        spec = resolveDriver(plan, r?.default_driver);
      }
    } else {
      const res = await onEach(conns, (c) => c.call('node.resources', {}));
      const skipped = [...conns.filter((c) => !c.client).map((c) => `${c.name} (${c.error})`), ...res.filter((r) => r.error).map((r) => `${r.node} (${r.error})`)];
      if (skipped.length) console.error(`skipped, not reachable: ${skipped.join('; ')}`);
      // placement speaks of nodes by the names this command uses (inventory names), not the agents' own
      const nodes: NodeResources[] = res.filter((r) => r.value).map((r) => ({ ...r.value!, node: r.node }));
      if (!nodes.length) throw new Error(`no agent answered node.resources; check them with: fleetml nodes${downNote(conns)}`);
      const d = place({ gpus: spec.gpus ?? 0, cpus: spec.cpus, memory_bytes: spec.memory_bytes, selector: plan.selector, driver: spec.driver,
        defaultDriver: plan.driverDefaulted, partition: spec.slurm?.partition }, nodes, { strategy: plan.strategy });
      if (d.node === null) {
        const lines = d.candidates.map((c) => `  ${c.node}: ${c.why}`).join('\n');
        const notAsked = skipped.length ? `\n  (not asked, not reachable: ${skipped.map((x) => x.split(' ')[0]).join(', ')})` : '';
        throw new Error(`cannot place the job: ${d.reason}\n${lines}${notAsked}\ntry fewer --gpus/--cpus/--memory, another --selector, or see capacity with: fleetml nodes`);
      }
      target = conns.find((c) => c.name === d.node)!;
      spec = resolveDriver(plan, nodes.find((n) => n.node === d.node)?.default_driver);
      reason = d.reason;
      queued = d.queued;
    }
    let submitted: Job;
    try { submitted = (await target.client!.call('job.submit', { spec })).job; } catch (e) { throw explain(e, target.name, 'job.submit'); }
    if (out === 'json') return printJson({ node: target.name, reason, queued, job: submitted });
    // a queued decision's reason already reads "queued on NODE: …"
    console.log(queued ? reason : `placed on ${target.name}: ${reason}`);
    console.log(submitted.id);
  });
}

/** `fleetml job list`: jobs of every node (or --node), newest first; unreachable nodes on stderr. */
export async function jobListAction(o: JobListOpts): Promise<void> {
  const out = parseOutput(o.output);
  const state = o.state ? parseStates(o.state) : undefined;
  const label = parseLabels(o.label);
  await withConns(o, async (conns) => {
    const scope = o.node ? [pickNode(conns, o.node)] : conns;
    const res = await onEach(scope, (c) => c.call('job.list', { ...(state ? { state } : {}), ...(Object.keys(label).length ? { label } : {}), limit: 10_000 }));
    const unreachable = [...scope.filter((c) => !c.client).map((c) => ({ node: c.name, error: c.error })), ...res.filter((r) => r.error).map((r) => ({ node: r.node, error: r.error }))];
    const rows = sortJobs(res.flatMap((r) => (r.value?.jobs ?? []).map((job) => ({ node: r.node, job }))));
    if (out === 'json') return printJson({ jobs: rows, unreachable });
    for (const u of unreachable) console.error(`${u.node}: not reachable: ${u.error}`);
    const now = Date.now();
    if (!rows.length) { console.log(`no jobs${state || o.label ? ' match' : ''}; start one with: fleetml job run -- CMD`); return; }
    console.log(formatTable(JOB_LIST_HEADERS, rows.map((r) => jobRow(r.node, r.job, now))));
  });
}

/** `fleetml job show REF`: one job in detail. */
export async function jobShowAction(ref: string, o: JobCommonOpts): Promise<void> {
  const out = parseOutput(o.output);
  await withConns(o, async (conns) => {
    const { conn, job: j } = await findJob(conns, ref);
    if (out === 'json') return printJson({ node: conn.name, job: j });
    console.log(jobDetail(conn.name, j, Date.now()));
  });
}

/** `fleetml job logs REF…`: stored output, or with -f followed until the jobs finish. */
export async function jobLogsAction(refs: string[], o: JobLogsOpts): Promise<void> {
  const out = parseOutput(o.output);
  const tail = o.tail === undefined ? undefined : parseIntArg(o.tail, '--tail', 1, 10_000);
  const since = sinceTs(o.since, Date.now());
  await withConns(o, async (conns) => {
    const items: Followed[] = [];
    for (const r of refs) { const f = await findJob(conns, r); if (!items.some((x) => x.job.id === f.job.id)) items.push(f); }
    const prefixed = items.length > 1;
    // -o json: one JSON object per line (NDJSON), so followed output can be read as it comes
    const emit = (f: Followed, l: LogLine) => {
      if (out === 'json') process.stdout.write(JSON.stringify({ node: f.conn.name, id: f.job.id, name: f.job.name, ...l }) + '\n');
      else process.stdout.write(formatLogLine(l, prefixed ? logPrefix(f.conn.name, f.job) : null) + '\n');
    };
    if (o.follow) {
      const int = interruptSignal();
      try {
        const r = await followLogs(items, { tail: tail ?? 200, sinceTs: since, signal: int.signal, emit });
        if (r === 'lost') { console.error('connection to an agent lost; run the command again to resume'); process.exitCode = 1; }
      } finally { int.dispose(); }
      return;
    }
    const all: Array<{ f: Followed; l: LogLine }> = [];
    for (const f of items) {
      const r = await f.conn.client.call('job.logs', { id: f.job.id, ...(since !== null ? { since } : {}), ...(tail ? { tail } : {}) });
      if (r.truncated && out !== 'json') console.error(`${logPrefix(f.conn.name, f.job)} older lines were dropped by the agent`);
      for (const l of r.lines) all.push({ f, l });
    }
    if (prefixed) all.sort((a, b) => a.l.ts - b.l.ts); // stable: a job's own order is kept
    for (const { f, l } of all) emit(f, l);
  });
}

/** `fleetml job cancel REF`: cancel a queued or running job. */
export async function jobCancelAction(ref: string, o: JobCancelOpts): Promise<void> {
  const out = parseOutput(o.output);
  await withConns(o, async (conns) => {
    const { conn, job: j } = await findJob(conns, ref);
    let r: Job;
    try { r = (await conn.client.call('job.cancel', { id: j.id, ...(o.reason ? { reason: o.reason } : {}) })).job; } catch (e) { throw explain(e, conn.name, 'job.cancel'); }
    if (out === 'json') return printJson({ node: conn.name, job: r });
    console.log(isTerminal(j) ? `${conn.name}/${j.id} had already finished: ${j.state}` : `${conn.name}/${r.id}: ${r.state}${r.reason ? ` — ${r.reason}` : ''}`);
  });
}

/** `fleetml job wait REF…`: wait until the jobs finish; exit code 1 unless all succeeded. */
export async function jobWaitAction(refs: string[], o: JobWaitOpts): Promise<void> {
  const out = parseOutput(o.output);
  const timeoutMs = o.timeout === undefined ? null : parseDuration(o.timeout, '--timeout') * 1000;
  await withConns(o, async (conns) => {
    const items: Followed[] = [];
    for (const r of refs) { const f = await findJob(conns, r); if (!items.some((x) => x.job.id === f.job.id)) items.push(f); }
    // jobs already finished are reported at once; the others as they finish
    if (out !== 'json') for (const f of items) if (isTerminal(f.job)) console.log(finalLine(f.conn.name, f.job));
    const int = interruptSignal();
    let how: string;
    try {
      how = await waitForJobs(items, { timeoutMs, signal: int.signal, onChange: (f) => { if (out !== 'json' && isTerminal(f.job)) console.log(finalLine(f.conn.name, f.job)); } });
    } finally { int.dispose(); }
    const ok = how === 'done' && items.every((f) => f.job.state === 'succeeded');
    if (!ok) process.exitCode = 1;
    if (out === 'json') return printJson({ result: how, succeeded: ok, jobs: items.map((f) => ({ node: f.conn.name, job: f.job })) });
    if (how !== 'done') {
      const open = items.filter((f) => !isTerminal(f.job)).map((f) => `${f.conn.name}/${f.job.id} (${f.job.state})`);
      console.error(how === 'timeout' ? `timed out after ${o.timeout}; not finished: ${open.join(', ')}` : how === 'lost' ? `connection to an agent lost; not finished: ${open.join(', ')}; run the command again` : `interrupted; not finished: ${open.join(', ')}`);
    }
  });
}

/** `fleetml job rm REF`: remove a finished job and its logs. */
export async function jobRmAction(ref: string, o: JobCommonOpts): Promise<void> {
  const out = parseOutput(o.output);
  await withConns(o, async (conns) => {
    const { conn, job: j } = await findJob(conns, ref);
    if (!isTerminal(j)) throw new Error(`job ${conn.name}/${j.id} is ${j.state}; cancel it first with: fleetml job cancel ${j.id}`);
    let removed: boolean;
    try { removed = (await conn.client.call('job.remove', { id: j.id })).removed; } catch (e) { throw explain(e, conn.name, 'job.remove'); }
    if (out === 'json') return printJson({ node: conn.name, id: j.id, removed });
    console.log(removed ? `removed ${conn.name}/${j.id}` : `${conn.name}/${j.id} was already gone`);
  });
}
