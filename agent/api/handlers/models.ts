import type { ModelRegistry } from '../../serving/registry.js';
import type { ServingManager } from '../../serving/serving.js';
import type { HandlerMap } from '../rpc.js';
import { evaluateVersion } from '../../serving/evaluate.js';

/** model.* handlers. Mutations need operate and are audited by the dispatcher. */
export function modelHandlers(registry: ModelRegistry, serving: ServingManager): HandlerMap {
  return {
    'model.push': async (p, ctx) => {
      const r = await registry.push({ ...p, data: Buffer.from(p.data_b64, 'base64') }, ctx.principal.tokenName);
      return { upload_id: r.upload_id, received_bytes: r.received_bytes, model: r.version ? serving.view(r.version) : null };
    },
    'model.list': (p) => ({ models: registry.list(p.name).map((v) => serving.view(v)) }),
    'model.get': (p) => ({ versions: (p.version ? [registry.resolve(p.name, p.version)] : registry.list(p.name)).map((v) => serving.view(v)) }),
    'model.load': async (p) => ({ model: await serving.load(p.name, p.version, p.batching) }),
    'model.unload': async (p) => ({ model: await serving.unload(p.name, p.version) }),
    'model.remove': async (p) => ({ removed: await serving.remove(p.name, p.version) }),
    'model.infer': (p) => serving.infer(p.name, p.version, p.inputs),
    'model.alias': (p, ctx) => serving.alias(p.name, p.targets, ctx.principal.tokenName, p.reason ?? null, p.shadow),
    'model.history': (p) => ({ events: registry.aliasHistory(p.name, p.limit) }),
    'model.stats': (p) => ({ models: serving.statsOf(p.name, p.since) }),
    'model.evaluate': (p) => evaluateVersion(registry, serving, p),
  };
}
