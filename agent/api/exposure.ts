import { isIP } from 'node:net';
import type { AgentConfig } from '../config.js';
import { splitListen } from '../config.js';

/** Whether a listen host accepts connections from this machine only: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost.
 * Any other name counts as reachable from the network (a name may resolve to anything). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** Warnings about how the agent is exposed, for the start-up log and node.info `warnings` (stable texts). */
export function exposureWarnings(config: Pick<AgentConfig, 'listen' | 'tls'>): string[] {
  const { host } = splitListen(config.listen);
  if (config.tls || isLoopbackHost(host)) return [];
  return [`listening on ${config.listen}, which is not a loopback address, without TLS: tokens and data cross the network in clear. `
    + 'Set tls.cert and tls.key (docs/operations.md, TLS), or listen on 127.0.0.1 and reach the agent through an SSH tunnel'];
}
