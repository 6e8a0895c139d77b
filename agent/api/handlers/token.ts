import { RpcError } from '../../../shared/protocol/index.js';
import type { TokenStore } from '../../store/tokens.js';
import type { HandlerMap } from '../rpc.js';

/** token.create / token.list / token.revoke (admin; create and revoke are audited by the dispatcher; revoke closes the token's connections). */
export function tokenHandlers(tokens: TokenStore, onRevoked: (ids: string[]) => void = () => undefined): HandlerMap {
  return {
    'token.create': (p) => {
      try {
        const r = tokens.create(p.name, p.role);
        return { token: r.token, info: r.row };
      } catch (e) { throw new RpcError('CONFLICT', (e as Error).message); }
    },
    'token.list': () => ({ tokens: tokens.list() }),
    'token.revoke': (p) => {
      const ids = tokens.revoke(p.token);
      onRevoked(ids); // open sessions of a revoked token end now, not at their next reconnect
      return { revoked: ids.length > 0 };
    },
  };
}
