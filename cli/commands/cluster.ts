import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadInventory, saveInventory, InventoryNode } from '../../shared/client/inventory.js';
import { defaultInventoryPath, normaliseAgentUrl } from '../../shared/util/paths.js';
import { formatTable, parseOutput, printJson, UsageError } from '../output.js';

/** `fleetml cluster add|rm|list`: edit the inventory (declarations; the actions follow). */
export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('edit the cluster inventory (default ~/.config/fleetml/cluster.yaml)');
  cluster.command('add <name> <url>').description('add or replace an agent in the inventory')
    .option('--token <token>', 'token (stored in the inventory file, mode 0600)')
    .option('--token-file <file>', 'file holding the token (preferred: the inventory then holds no secret)')
    .option('--ca-file <file>', 'PEM CA for wss:// with a private CA')
    .option('--inventory <file>', 'inventory file')
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(clusterAddAction);
  cluster.command('rm <name>').description('remove an agent from the inventory')
    .option('--inventory <file>', 'inventory file')
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(clusterRmAction);
  cluster.command('list').description('list the inventory')
    .option('--inventory <file>', 'inventory file')
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(clusterListAction);
}

/** Options every `fleetml cluster` subcommand takes. */
export interface ClusterOpts { inventory?: string; output?: string }
/** Options of `fleetml cluster add`. */
export interface ClusterAddOpts extends ClusterOpts { token?: string; tokenFile?: string; caFile?: string }

/** `fleetml cluster add NAME URL`: add or replace an inventory entry (a token or a token file is required). */
export function clusterAddAction(name: string, url: string, o: ClusterAddOpts): void {
  const out = parseOutput(o.output);
  if (!o.token && !o.tokenFile) throw new UsageError('give --token or --token-file (create a token on the node with: fleetml token create --role read)');
  try { normaliseAgentUrl(url); } catch (e) { throw new UsageError((e as Error).message); }
  const path = o.inventory ?? defaultInventoryPath();
  const inv = loadInventory(path);
  const entry = InventoryNode.safeParse({ name, url, ...(o.token ? { token: o.token } : {}), ...(o.tokenFile ? { token_file: resolve(o.tokenFile) } : {}), ...(o.caFile ? { ca_file: resolve(o.caFile) } : {}) });
  if (!entry.success) throw new UsageError(`invalid node: ${entry.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const i = inv.nodes.findIndex((n) => n.name === name);
  if (i >= 0) inv.nodes[i] = entry.data; else inv.nodes.push(entry.data);
  saveInventory(path, inv);
  if (out === 'json') return printJson({ inventory: path, node: { ...entry.data, token: entry.data.token ? '(set)' : undefined } });
  console.log(`${i >= 0 ? 'updated' : 'added'} ${name} → ${normaliseAgentUrl(url)} in ${path}`);
}

/** `fleetml cluster rm NAME`: remove an inventory entry. */
export function clusterRmAction(name: string, o: ClusterOpts): void {
  const out = parseOutput(o.output);
  const path = o.inventory ?? defaultInventoryPath();
  const inv = loadInventory(path);
  const before = inv.nodes.length;
  inv.nodes = inv.nodes.filter((n) => n.name !== name);
  if (inv.nodes.length === before) throw new UsageError(`no node named "${name}" in ${path}; see: fleetml cluster list`);
  saveInventory(path, inv);
  if (out === 'json') return printJson({ inventory: path, removed: name });
  console.log(`removed ${name} from ${path}`);
}

/** `fleetml cluster list`: the inventory, without secrets. */
export function clusterListAction(o: ClusterOpts): void {
  const out = parseOutput(o.output);
  const path = o.inventory ?? defaultInventoryPath();
  const inv = loadInventory(path);
  const rows = inv.nodes.map((n) => ({ name: n.name, url: normaliseAgentUrl(n.url), auth: n.token_file ? `token_file ${n.token_file}` : n.token ? 'token (inline)' : 'none' }));
  if (out === 'json') return printJson({ inventory: path, nodes: rows });
  if (!rows.length) { console.log(`no nodes in ${path}; add one with: fleetml cluster add NAME URL --token-file FILE`); return; }
  console.log(formatTable(['NAME', 'URL', 'AUTH'], rows.map((r) => [r.name, r.url, r.auth])));
}
