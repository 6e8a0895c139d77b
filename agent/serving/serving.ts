import { RpcError } from '../../shared/protocol/index.js';
import type { JsonTensor, ModelVersion } from '../../shared/protocol/index.js';
import type { Logger } from '../log.js';
import type { ModelRegistry, StoredVersion } from './registry.js';
import type { ModelRuntime, LoadedModel } from './runtime.js';
import { fromJson, toJson, validateFeeds, type RawTensor } from './tensors.js';

/** Serving options (agent config `models`). */
export interface ServingOptions { providers: Array<'cuda' | 'cpu'>; intraOpThreads: number; workers: number }

/**
 * Loaded models and JSON inference. A version is loaded (and warmed up) before it serves; loading one never
 * disturbs another; concurrent loads of the same version share one promise. Inference on a version that is not
 * loaded loads it first.
 */
export class ServingManager {
  private loaded = new Map<string, Promise<LoadedModel>>();
  private ready = new Map<string, LoadedModel>();
  constructor(private readonly registry: ModelRegistry, private readonly runtime: ModelRuntime, private readonly opts: ServingOptions, private readonly log: Logger) {}

  private key(v: StoredVersion) { return `${v.name}@${v.version}`; }

  /** The wire view of a version (with whether and where it is loaded). */
  view(v: StoredVersion): ModelVersion {
    const m = this.ready.get(this.key(v));
    return { ...v, loaded: !!m, provider: m?.provider ?? null };
  }

  /** Load (once) and warm up a version. */
  async load(name: string, version?: string): Promise<ModelVersion> {
    const v = this.registry.resolve(name, version);
    await this.ensure(v);
    return this.view(v);
  }

  private ensure(v: StoredVersion): Promise<LoadedModel> {
    const k = this.key(v);
    let p = this.loaded.get(k);
    if (!p) {
      p = (async () => {
        const m = await this.runtime.load(this.registry.file(v), this.opts);
        await m.warmup();
        this.ready.set(k, m);
        this.log.info({ model: v.name, version: v.version, provider: m.provider }, 'model loaded');
        return m;
      })();
      this.loaded.set(k, p);
      p.catch(() => this.loaded.delete(k));
    }
    return p;
  }

  async unload(name: string, version?: string): Promise<ModelVersion> {
    const v = this.registry.resolve(name, version);
    const k = this.key(v);
    const p = this.loaded.get(k);
    this.loaded.delete(k);
    this.ready.delete(k);
    if (p) await (await p.catch(() => null))?.close();
    return this.view(v);
  }

  async remove(name: string, version?: string): Promise<boolean> {
    const v = this.registry.resolve(name, version);
    await this.unload(v.name, v.version);
    return this.registry.remove(v.name, v.version);
  }

  /** Run JSON inference; errors in the request are INVALID_PARAMS with a message naming the tensor. */
  async infer(name: string, version: string | undefined, inputs: JsonTensor[]): Promise<{ model_name: string; model_version: string; outputs: JsonTensor[]; timing_us: { queue: number; compute: number } }> {
    const feeds: Record<string, RawTensor> = {};
    try {
      for (const t of inputs) {
        if (feeds[t.name]) throw new Error(`input "${t.name}" given twice`);
        feeds[t.name] = fromJson(t);
      }
    } catch (e) { throw new RpcError('INVALID_PARAMS', `${name}: ${(e as Error).message}`); }
    const r = await this.inferRaw(name, version, feeds);
    return { model_name: r.name, model_version: r.version, outputs: Object.entries(r.outputs).map(([n, t]) => toJson(n, t)), timing_us: r.timing_us };
  }

  /** Run inference on raw tensors (binary transports: no JSON on the hot path). */
  async inferRaw(name: string, version: string | undefined, feeds: Record<string, RawTensor>): Promise<{ name: string; version: string; outputs: Record<string, RawTensor>; timing_us: { queue: number; compute: number } }> {
    const v = this.registry.resolve(name, version);
    const t0 = performance.now();
    const m = await this.ensure(v).catch((e) => { throw new RpcError('UNAVAILABLE', `model ${v.name} ${v.version} cannot be loaded: ${(e as Error).message}`); });
    try { validateFeeds(m.inputs, feeds); } catch (e) { throw new RpcError('INVALID_PARAMS', `${v.name} ${v.version}: ${(e as Error).message}`); }
    const t1 = performance.now();
    let r: Awaited<ReturnType<LoadedModel['infer']>>;
    try { r = await m.infer(feeds); } catch (e) { throw new RpcError('INTERNAL_ERROR', `${v.name} ${v.version}: inference failed: ${(e as Error).message}`); }
    const inferWallUs = (performance.now() - t1) * 1000;
    return {
      name: v.name, version: v.version, outputs: r.outputs,
      // queue: everything but the session run (load on first use, validation, waiting for a worker)
      timing_us: { queue: Math.round((t1 - t0) * 1000 + Math.max(0, inferWallUs - r.computeUs)), compute: Math.round(r.computeUs) },
    };
  }

  /** The signature of a version (loading it if needed): for the HTTP metadata endpoints. */
  async signature(name: string, version?: string): Promise<{ version: StoredVersion; ready: boolean }> {
    const v = this.registry.resolve(name, version);
    return { version: v, ready: this.ready.has(this.key(v)) };
  }

  /** Close every loaded model (agent shutdown). */
  async dispose(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear(); this.ready.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close()));
  }
}
