import type { DriftMonitor } from '../../drift/monitor.js';
import type { HandlerMap } from '../rpc.js';

/** drift.* handlers (setReference and a drift.config with `set` are audited by the dispatcher). */
export function driftHandlers(drift: DriftMonitor): HandlerMap {
  return {
    'drift.report': (p) => drift.report(p),
    'drift.history': (p) => drift.history(p),
    'drift.setReference': (p, ctx) => drift.setReference(p, ctx.principal.tokenName),
    'drift.config': (p, ctx) => drift.config(p.name, p.set, ctx.principal.tokenName),
    'drift.compare': (p) => drift.compare(p),
  };
}
