import { homedir } from 'node:os';
import { join } from 'node:path';

/** Default agent data dir: $STATE_DIRECTORY (systemd StateDirectory=), else $XDG_DATA_HOME/fleetml, else ~/.local/share/fleetml. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0];
  return join(env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share'), 'fleetml');
}

/** User config dir of the client: $XDG_CONFIG_HOME/fleetml, else ~/.config/fleetml. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'fleetml');
}

/** Default inventory file. */
export function defaultInventoryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLEETML_INVENTORY || join(userConfigDir(env), 'cluster.yaml');
}

/** Expand a leading ~/ to the home directory. */
export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

/** Normalise what a user types for an agent address into a WebSocket URL ending in /rpc.
 * Accepts host:port, ws(s)://…, http(s)://… (mapped to ws(s)). */
export function normaliseAgentUrl(input: string): string {
  let s = input.trim();
  if (!/^[a-z]+:\/\//i.test(s)) s = `ws://${s}`;
  const u = new URL(s);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`unsupported scheme in agent URL "${input}": use ws://, wss://, http:// or https://`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/rpc';
  return u.toString();
}
