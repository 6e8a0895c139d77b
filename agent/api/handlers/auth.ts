import type { HandlerMap } from '../rpc.js';

/** auth.whoami. */
export function authHandlers(node: string): HandlerMap {
  return {
    'auth.whoami': (_p, ctx) => ({ token_name: ctx.principal.tokenName, token_id: ctx.principal.tokenId, role: ctx.principal.role, node }),
  };
}
