import type { RolloutCoordinator } from '../../rollout/coordinator.js';
import type { TestSetUploads } from '../../rollout/test-set-uploads.js';
import type { HandlerMap } from '../rpc.js';

/** rollout.* handlers (mutations need operate and are audited by the dispatcher; the coordinator audits its own decisions). */
export function rolloutHandlers(co: RolloutCoordinator, testSets: TestSetUploads): HandlerMap {
  return {
    'rollout.uploadTestSet': (p, ctx) => testSets.receive(p, ctx.principal.tokenName),
    'rollout.start': async (p, ctx) => ({ rollout: await co.startRollout(p, ctx.principal.tokenName, ctx.principal.role) }),
    'rollout.get': (p) => ({ rollout: co.get(p.id) }),
    'rollout.list': (p) => ({ rollouts: co.list(p.name, p.limit) }),
    'rollout.pause': async (p, ctx) => ({ rollout: await co.pause(p.id, ctx.principal.tokenName, p.reason, ctx.principal.role) }),
    'rollout.resume': async (p, ctx) => ({ rollout: await co.resume(p.id, ctx.principal.tokenName, p.reason, ctx.principal.role) }),
    'rollout.promote': async (p, ctx) => ({ rollout: await co.promote(p.id, ctx.principal.tokenName, p.reason, ctx.principal.role) }),
    'rollout.abort': async (p, ctx) => ({ rollout: await co.abort(p.id, ctx.principal.tokenName, p.reason, ctx.principal.role) }),
  };
}
