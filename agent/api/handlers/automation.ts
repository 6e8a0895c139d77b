import type { AutomationManager } from '../../automation/manager.js';
import type { HandlerMap } from '../rpc.js';

/** auto.* handlers (mutations need operate and are audited by the dispatcher; each run step is audited by the manager). */
export function automationHandlers(auto: AutomationManager): HandlerMap {
  return {
    'auto.create': (p, ctx) => ({ automation: auto.create(p.spec, ctx.principal.tokenName) }),
    'auto.list': (p) => ({ automations: auto.list(p.model) }),
    'auto.get': (p) => ({ automation: auto.get(p.name), runs: auto.history({ name: p.name, limit: 20 }) }),
    'auto.pause': (p) => ({ automation: auto.setState(p.name, 'paused') }),
    'auto.resume': (p) => ({ automation: auto.setState(p.name, 'active') }),
    'auto.run': (p, ctx) => ({ run: auto.runNow(p.name, ctx.principal.tokenName, p.reason) }),
    'auto.remove': (p) => ({ removed: auto.remove(p.name) }),
    'auto.history': (p) => ({ runs: auto.history(p) }),
  };
}
