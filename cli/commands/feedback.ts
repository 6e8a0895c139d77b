// `fleetml feedback send MODEL --file labels.csv|-`: true labels for past requests, joined by request id on the agents
// (model.feedback). A request id lives on the node that answered it, so the labels go to every reachable node that has
// the model (or --node N); each node joins the ids it kept, and the total says how many no node knew.
// -o json prints {sent, matched, already_labelled, unknown, nodes: [{node, matched, already_labelled, unknown, error}]}.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { RpcCallError } from '../../shared/client/agent-client.js';
import type { TargetOptions } from '../../shared/client/targets.js';
import { targetOptions } from '../common.js';
import { downNote, pickNode, upConns, withConns } from '../node-conn.js';
import { checkModelRef } from '../args/model.js';
import { chunkLabels, parseLabels } from '../args/feedback.js';
import { feedbackSummary } from '../format/feedback.js';
import { parseOutput, printJson, UsageError } from '../output.js';

/** Options of `fleetml feedback send`. */
export interface FeedbackSendOpts extends TargetOptions { output?: string; version?: string; node?: string; file?: string }

/** `fleetml feedback …` commands. */
export function registerFeedbackCommands(program: Command): void {
  const fb = program.command('feedback').description('ground truth for past requests: labels joined by request id into live accuracy / F1 / MAE / RMSE');
  targetOptions(fb.command('send <model>').description('send labels by request id: --file labels.csv (header id,label) or JSON lines, - for stdin'))
    .option('-o, --output <fmt>', 'table or json', 'table')
    .option('--version <v>', 'only join requests this version answered [whichever version answered each id]')
    .option('--node <name>', 'only this node [every reachable node that has the model]')
    .option('--file <file>', 'labels: CSV with a header naming id and label, or JSON lines {"id","label"}; - for stdin')
    .action(feedbackSendAction);
}

async function readInput(spec: string): Promise<string> {
  if (spec === '-') {
    if (process.stdin.isTTY) throw new UsageError('--file - reads the labels from stdin, but stdin is a terminal: pipe them in (… | fleetml feedback send MODEL --file -)');
    const parts: Buffer[] = [];
    for await (const chunk of process.stdin) parts.push(chunk as Buffer);
    return Buffer.concat(parts).toString('utf8');
  }
  try { return await readFile(spec, 'utf8'); } catch (e) { throw new UsageError(`--file ${spec}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
}

/** `fleetml feedback send MODEL`: parse and check every label first, then send them in calls of ≤ 10 000 per node. */
export async function feedbackSendAction(modelArg: string, o: FeedbackSendOpts): Promise<void> {
  const out = parseOutput(o.output);
  const { name, version } = checkModelRef(modelArg, o.version);
  if (!o.file) throw new UsageError('give the labels with --file labels.csv (a header "id,label"), or --file - to read them from stdin');
  const labels = parseLabels(await readInput(o.file), o.file === '-' ? 'stdin' : o.file);
  if (!labels.length) throw new UsageError(`${o.file} holds a header but no labels`);
  await withConns(o, async (conns) => {
    const scope = o.node ? [pickNode(conns, o.node)] : conns;
    const up = upConns(scope);
    if (!up.length) throw new Error(`no agent reachable${downNote(scope)}; check them with: fleetml nodes`);
    const nodes = await Promise.all(up.map(async (c) => {
      const r = { node: c.name, matched: 0, already_labelled: 0, unknown: 0, error: null as string | null, missing: false };
      try {
        for (const chunk of chunkLabels(labels)) {
          const x = await c.client.call('model.feedback', { name, ...(version ? { version } : {}), labels: chunk });
          r.matched += x.matched; r.already_labelled += x.already_labelled; r.unknown += x.unknown;
        }
      } catch (e) {
        r.missing = e instanceof RpcCallError && e.codeName === 'NOT_FOUND';
        const hint = e instanceof RpcCallError && e.codeName === 'FORBIDDEN' ? '; this needs a token with the operate role (create one with: fleetml token create --role operate)'
          : e instanceof RpcCallError && e.codeName === 'METHOD_NOT_FOUND' ? '; the agent is too old for feedback: upgrade it' : '';
        r.error = `${e instanceof RpcCallError ? `${e.codeName}: ` : ''}${(e as Error).message}${hint}`;
      }
      return r;
    }));
    // a node without the model is not a failure unless it was the one asked for
    const asked = nodes.filter((n) => !(n.missing && !o.node && nodes.length > 1));
    if (asked.every((n) => n.missing)) throw new UsageError(`no model ${name}${version ? ` version ${version}` : ''} on ${nodes.map((n) => n.node).join(', ')}${downNote(scope)}; list them with: fleetml model list`);
    const matched = asked.reduce((a, n) => a + n.matched, 0);
    const already = asked.reduce((a, n) => a + n.already_labelled, 0);
    const failed = asked.some((n) => n.error);
    if (out === 'json') {
      printJson({ sent: labels.length, matched, already_labelled: already, unknown: Math.max(0, labels.length - matched - already), nodes: asked.map(({ missing: _m, ...n }) => n) });
    } else {
      for (const c of scope.filter((x) => !x.client)) console.error(`${c.name}: not reachable: ${c.error}`);
      console.log(feedbackSummary(labels.length, asked));
    }
    if (failed) process.exitCode = 1;
  });
}
