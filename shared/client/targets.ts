import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventory, resolveNode, type Target } from './inventory.js';
import { defaultDataDir, defaultInventoryPath, normaliseAgentUrl } from '../util/paths.js';

/** How a client command chose its agents (flags win over env, env over files). */
export interface TargetOptions { url?: string; token?: string; inventory?: string }

/**
 * Resolve which agents a command talks to, the way NOMAD_ADDR/NOMAD_TOKEN and DOCKER_HOST work:
 * 1. --url/--token, else FLEETML_URL/FLEETML_TOKEN (or FLEETML_TOKEN_FILE): one agent;
 * 2. --inventory FILE, else FLEETML_INVENTORY, else the default inventory if it exists: every node in it;
 * 3. else the local agent on 127.0.0.1:7070 with the admin token of the default data dir (the `npm start` set-up).
 */
export function resolveTargets(o: TargetOptions, env: NodeJS.ProcessEnv = process.env): { targets: Target[]; source: string } {
  const url = o.url ?? env.FLEETML_URL;
  if (url) {
    let token = o.token ?? env.FLEETML_TOKEN;
    if (!token && env.FLEETML_TOKEN_FILE) token = readFileSync(env.FLEETML_TOKEN_FILE, 'utf8').trim();
    if (!token) throw new Error('an agent URL was given without a token: pass --token or set FLEETML_TOKEN (create one with: fleetml token create --role read)');
    const u = normaliseAgentUrl(url);
    return { targets: [{ name: new URL(u).host, url: u, token, unnamed: true }], source: o.url ? '--url' : 'FLEETML_URL' };
  }
  const invPath = o.inventory ?? defaultInventoryPath(env);
  if (o.inventory || env.FLEETML_INVENTORY || existsSync(invPath)) {
    if (!existsSync(invPath)) throw new Error(`inventory ${invPath} does not exist; add nodes with: fleetml cluster add NAME URL --token-file FILE`);
    const inv = loadInventory(invPath);
    if (inv.nodes.length === 0) throw new Error(`inventory ${invPath} has no nodes; add one with: fleetml cluster add NAME URL --token-file FILE`);
    return { targets: inv.nodes.map(resolveNode), source: invPath };
  }
  const tokenFile = join(defaultDataDir(env), 'admin.token');
  if (existsSync(tokenFile)) {
    return { targets: [{ name: 'local', url: 'ws://127.0.0.1:7070/rpc', token: readFileSync(tokenFile, 'utf8').trim(), unnamed: true }], source: tokenFile };
  }
  throw new Error('no agent to talk to: pass --url and --token, set FLEETML_URL/FLEETML_TOKEN, or build an inventory with: fleetml cluster add NAME URL --token-file FILE');
}
