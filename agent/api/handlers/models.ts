import type { ModelRegistry } from '../../serving/registry.js';
import type { ServingManager } from '../../serving/serving.js';
import { RpcError, splitPayload } from '../../../shared/protocol/index.js';
import type { BinaryHandlerMap, HandlerMap } from '../rpc.js';
import { evaluateVersion } from '../../serving/evaluate.js';
import type { FeedbackStore } from '../../serving/feedback.js';
import type { TestSetUploads } from '../../rollout/test-set-uploads.js';
import { parseWindow } from '../../drift/monitor.js';
import { fromBinary, ORT_TO_KSERVE, toBinary, type RawTensor } from '../../serving/tensors.js';

/** model.* handlers. Mutations need operate and are audited by the dispatcher. */
export function modelHandlers(registry: ModelRegistry, serving: ServingManager, testSets: TestSetUploads): HandlerMap {
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
    'model.infer': (p) => serving.infer(p.name, p.version, p.inputs, p.id),
    'model.alias': (p, ctx) => serving.alias(p.name, p.targets, ctx.principal.tokenName, p.reason ?? null, p.shadow),
    'model.history': (p) => ({ events: registry.aliasHistory(p.name, p.limit) }),
    'model.stats': (p) => ({ models: serving.statsOf(p.name, p.since) }),
    'model.evaluate': async (p, ctx) => {
      // a staged test set (rollout.uploadTestSet) of the same token, dropped after its last evaluation when asked
      const test_set = p.test_set ?? testSets.get(p.test_set_id!, ctx.principal.tokenName);
      try { return await evaluateVersion(registry, serving, { name: p.name, version: p.version, test_set }); } finally {
        if (p.test_set_id && p.release_test_set) testSets.release(p.test_set_id);
      }
    },
  };
}

/**
 * The binary form of model.infer (binary WebSocket frames and HTTP v2): params already checked by BinaryInferParams;
 * the payload is cut into views per input and each becomes an aligned tensor (one copy, no JSON); the outputs go back
 * as views of the session's buffers.
 */
export function modelBinaryHandlers(serving: ServingManager): BinaryHandlerMap {
  return {
    'model.infer': async (p, payload) => {
      const bytes = splitPayload(payload, p.inputs, 'inputs');
      const feeds: Record<string, RawTensor> = Object.create(null); // input names are the peer's: no prototype keys
      for (let i = 0; i < p.inputs.length; i++) {
        const t = p.inputs[i];
        const where = `inputs[${i}] "${t.name.slice(0, 64)}"`;
        if (Object.hasOwn(feeds, t.name)) throw new RpcError('INVALID_PARAMS', `${where}: given twice`);
        try { feeds[t.name] = fromBinary(where, t.datatype, t.shape, bytes[i]); } catch (e) { throw new RpcError('INVALID_PARAMS', (e as Error).message); }
      }
      const r = await serving.inferRaw(p.name, p.version, feeds, p.id);
      const parts: Buffer[] = [];
      const outputs = [];
      for (const name in r.outputs) {
        const t = r.outputs[name];
        const b = toBinary(t);
        parts.push(b);
        outputs.push({ name, datatype: ORT_TO_KSERVE[t.dtype], shape: t.dims, binary_data_size: b.length });
      }
      return { result: { model_name: r.name, model_version: r.version, id: r.id, timing_us: r.timing_us, outputs }, parts };
    },
  };
}

/** model.feedback and model.performance over the join store (null: feedback.enabled is false → UNAVAILABLE). */
export function modelFeedbackHandlers(registry: ModelRegistry, feedback: FeedbackStore | null, now: () => number = Date.now): HandlerMap {
  const store = () => {
    if (!feedback) throw new RpcError('UNAVAILABLE', 'this agent keeps no requests for feedback (feedback.enabled is false in its config)');
    return feedback;
  };
  return {
    'model.feedback': (p) => {
      const v = registry.resolve(p.name, p.version); // NOT_FOUND for a model (or version) this node does not have
      return store().label(v.name, p.version, p.labels);
    },
    'model.performance': (p) => {
      const fb = store();
      const since = now() - parseWindow(p.window);
      const versions = p.version ? [registry.resolve(p.name, p.version).version] : fb.versions(p.name).map((x) => x.version);
      if (!p.version) registry.resolve(p.name);
      return { name: p.name, versions: versions.map((version) => ({ version, ...fb.performance(p.name, version, since), window: p.window })) };
    },
  };
}
