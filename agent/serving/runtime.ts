// ONNX model runtime: each loaded model runs in `workers` worker threads, each with its own onnxruntime-node
// InferenceSession, so that session.run (synchronous native code) never blocks the agent's event loop.
// Requests go to the least-busy worker (ties round-robin). A crashed worker fails its in-flight requests with an Error
// and is replaced; the agent process keeps running. Importing this module has no side effects.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TensorSpec } from '../../shared/protocol/models.js';
import { readModelInfo, type OnnxModelInfo } from './onnx-pb.js';
import { WORKER_SOURCE, type FromWorker, type ToWorker, type WorkerInit } from './session-worker.js';
import { validateFeeds, zeroFeeds, type RawTensor } from './tensors.js';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface LoadOptions {
  /** Tried one at a time in order; 'cpu' is always tried last even if not listed (default ['cpu']). */
  providers: ExecutionProvider[];
  /** ORT intra-op threads per session (default 1). */
  intraOpThreads: number;
  /** Worker threads (sessions) for this model (default 1). */
  workers: number;
}

export interface InferResult {
  outputs: Record<string, RawTensor>;
  /** Time inside session.run in the worker, µs. */
  computeUs: number;
  /** Whole call (validation, queueing, transfer, compute), µs. */
  totalUs: number;
}

export interface InferOptions {
  /** Transfer (detach) the feeds' ArrayBuffers to the worker instead of copying them (default false). */
  transfer?: boolean;
}

export interface LoadedModel {
  readonly file: string;
  readonly info: OnnxModelInfo;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /** Execution provider that serves this model ('cpu' or 'cuda'). */
  readonly provider: string;
  /** Why an earlier provider in the list was not used (e.g. the CUDA error), if one failed. */
  readonly providerNote?: string;
  infer(feeds: Record<string, RawTensor>, opts?: InferOptions): Promise<InferResult>;
  /** One inference with zeros (dynamic dims = 1) on every worker. */
  warmup(): Promise<void>;
  close(): Promise<void>;
}

/** pino-compatible subset. */
export interface RuntimeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RuntimeOptions {
  log?: RuntimeLogger;
  /** ort.env.logLevel in workers (default 'fatal': ORT's native stderr lines are silenced; errors still reach JS). */
  ortLogLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

const noopLog: RuntimeLogger = { info: () => undefined, warn: () => undefined };

let ortUrlCache: string | null = null;
function ortUrl(): string {
  ortUrlCache ??= pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
  return ortUrlCache;
}

type ReadyMsg = Extract<FromWorker, { type: 'ready' }>;
interface Pending { resolve: (r: InferResult) => void; reject: (e: Error) => void; t0: number }
interface Slot {
  index: number;
  worker: Worker;
  ready: Promise<ReadyMsg>;
  inflight: Map<number, Pending>;
  /** Set when the latest (re)start failed; the next request tries to start it again. */
  failed: Error | null;
}

export class ModelRuntime {
  private readonly log: RuntimeLogger;
  private readonly ortLogLevel: string;
  private readonly models = new Set<LoadedModel>();

  constructor(opts: RuntimeOptions = {}) {
    this.log = opts.log ?? noopLog;
    this.ortLogLevel = opts.ortLogLevel ?? 'fatal';
  }

  /** Loads a model file. Rejects with a clear Error (and leaves no worker running) for a missing or non-ONNX file,
   * or one onnxruntime cannot load. */
  async load(file: string, opts: Partial<LoadOptions> = {}): Promise<LoadedModel> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new Error(`cannot load model ${file}: ${(e as Error).message}`);
    }
    let info: OnnxModelInfo;
    try {
      info = readModelInfo(bytes);
    } catch (e) {
      throw new Error(`cannot load model ${file}: ${(e as Error).message}`);
    }
    const providers: string[] = [...(opts.providers?.length ? opts.providers : ['cpu'])];
    if (!providers.includes('cpu')) providers.push('cpu');
    const workers = Math.max(1, Math.floor(opts.workers ?? 1));
    const init: Omit<WorkerInit, 'providers'> = { ortUrl: ortUrl(), file, intraOpThreads: Math.max(0, Math.floor(opts.intraOpThreads ?? 1)), logLevel: this.ortLogLevel };
    const model = new PooledModel(file, info, init, workers, this.log, (m) => this.models.delete(m));
    await model.start(providers);
    this.models.add(model);
    return model;
  }

  /** Closes every model loaded by this runtime. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.models].map((m) => m.close()));
  }
}

class PooledModel implements LoadedModel {
  inputs: TensorSpec[] = [];
  outputs: TensorSpec[] = [];
  provider = '';
  providerNote?: string;
  private slots: Slot[] = [];
  private nextId = 1;
  private rr = 0;
  private closed = false;
  private providers: string[] = [];

  constructor(
    readonly file: string,
    readonly info: OnnxModelInfo,
    private readonly init: Omit<WorkerInit, 'providers'>,
    private readonly workerCount: number,
    private readonly log: RuntimeLogger,
    private readonly onClose: (m: LoadedModel) => void,
  ) {}

  async start(providers: string[]): Promise<void> {
    const first = this.spawn(0, providers);
    this.slots.push(first);
    let ready: ReadyMsg;
    try {
      ready = await first.ready;
    } catch (e) {
      await this.shutdown();
      throw new Error(`cannot load model ${this.file}: ${(e as Error).message}`);
    }
    this.provider = ready.provider;
    this.inputs = ready.inputs;
    this.outputs = ready.outputs;
    if (ready.notes.length) {
      this.providerNote = ready.notes.join('; ');
      this.log.warn({ model: this.file, provider: ready.provider, note: this.providerNote }, `execution provider fallback: serving on ${ready.provider}`);
    }
    // The other workers use the provider that worked, so a broken CUDA is not retried per worker.
    this.providers = [ready.provider];
    for (let i = 1; i < this.workerCount; i++) this.slots.push(this.spawn(i, this.providers));
    try {
      await Promise.all(this.slots.map((s) => s.ready));
    } catch (e) {
      await this.shutdown();
      throw new Error(`cannot load model ${this.file}: ${(e as Error).message}`);
    }
    this.log.info({ model: this.file, provider: this.provider, workers: this.workerCount }, 'model loaded');
  }

  private spawn(index: number, providers: string[]): Slot {
    const workerData: WorkerInit = { ...this.init, providers };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, execArgv: [], name: `onnx-${index}` });
    let resolveReady!: (m: ReadyMsg) => void, rejectReady!: (e: Error) => void;
    let settled = false, wasReady = false;
    const ready = new Promise<ReadyMsg>((res, rej) => { resolveReady = res; rejectReady = rej; });
    ready.catch(() => undefined); // never an unhandled rejection
    const slot: Slot = { index, worker, ready, inflight: new Map(), failed: null };
    let lastError: Error | null = null;
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready': settled = wasReady = true; resolveReady(m); break;
        case 'error': settled = true; rejectReady(new Error(m.message)); void worker.terminate(); break;
        case 'result': case 'fail': {
          const p = slot.inflight.get(m.id);
          if (!p) return;
          slot.inflight.delete(m.id);
          if (m.type === 'result') p.resolve({ outputs: m.outputs, computeUs: m.computeUs, totalUs: Math.round((performance.now() - p.t0) * 1000) });
          else p.reject(new Error(`inference failed: ${m.message}`));
        }
      }
    });
    worker.on('error', (e) => { lastError = e; });
    worker.on('messageerror', (e) => { lastError = e instanceof Error ? e : new Error(String(e)); });
    worker.on('exit', (code) => {
      const why = `model worker ${index} exited (code ${code}${lastError ? `: ${lastError.message}` : ''})`;
      if (!settled) { settled = true; rejectReady(new Error(why)); }
      const err = new Error(this.closed ? 'model closed while the request was running' : `${why} while running the request; it was not completed`);
      for (const p of slot.inflight.values()) p.reject(err);
      slot.inflight.clear();
      // Only a worker that had loaded is replaced here; a failed start is retried by the next request (pick()).
      if (!this.closed && wasReady && this.slots[index] === slot && this.provider) this.replace(index, why);
    });
    return slot;
  }

  private replace(index: number, why: string): void {
    this.log.warn({ model: this.file, worker: index, reason: why }, 'model worker died; starting a replacement');
    const slot = this.spawn(index, this.providers);
    this.slots[index] = slot;
    slot.ready.then(
      () => this.log.info({ model: this.file, worker: index }, 'replacement model worker ready'),
      (e: Error) => { slot.failed = e; this.log.warn({ model: this.file, worker: index, err: e.message }, 'replacement model worker failed to start'); },
    );
  }

  private pick(): Slot {
    let best: Slot | null = null;
    const n = this.slots.length;
    for (let k = 0; k < n; k++) {
      const s = this.slots[(this.rr + k) % n];
      if (!best || s.inflight.size < best.inflight.size) best = s;
    }
    this.rr = (this.rr + 1) % n;
    if (best!.failed) this.replace(best!.index, `restart after failure: ${best!.failed.message}`);
    return this.slots[best!.index];
  }

  infer(feeds: Record<string, RawTensor>, opts: InferOptions = {}): Promise<InferResult> {
    if (this.closed) return Promise.reject(new Error(`model ${this.file} is closed`));
    try {
      validateFeeds(this.inputs, feeds);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.runOn(this.pick(), feeds, opts.transfer ?? false);
  }

  private runOn(slot: Slot, feeds: Record<string, RawTensor>, transfer: boolean): Promise<InferResult> {
    const id = this.nextId++;
    return new Promise<InferResult>((resolve, reject) => {
      slot.inflight.set(id, { resolve, reject, t0: performance.now() });
      slot.ready.then(
        () => {
          if (!slot.inflight.has(id)) return; // already failed (worker died)
          const list: ArrayBuffer[] = [];
          if (transfer) {
            for (const t of Object.values(feeds)) {
              const d = t.data;
              if (ArrayBuffer.isView(d) && d.buffer instanceof ArrayBuffer && !list.includes(d.buffer)) list.push(d.buffer);
            }
          }
          const msg: ToWorker = { type: 'infer', id, feeds };
          try {
            slot.worker.postMessage(msg, list);
          } catch (e) {
            slot.inflight.delete(id);
            reject(new Error(`cannot send the request to the model worker: ${(e as Error).message}`));
          }
        },
        (e: Error) => {
          if (slot.inflight.delete(id)) reject(new Error(`model worker unavailable: ${e.message}`));
        },
      );
    });
  }

  /** A few runs per worker before the version serves: onnxruntime allocates its arenas and picks kernels on the first
   * runs, which would otherwise land on the first requests (and on a rollout's latency comparison). */
  async warmup(): Promise<void> {
    for (let i = 0; i < 3; i++) await Promise.all(this.slots.map((s) => this.runOn(s, zeroFeeds(this.inputs), true)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => undefined)));
  }

  /** Test hook: terminates worker `index` as if it crashed (it is replaced). Resolves once it has exited. */
  async _terminateWorkerForTest(index = 0): Promise<void> {
    await this.slots[index].worker.terminate();
  }

  /** Number of requests in flight per worker (diagnostics). */
  get inflight(): number[] {
    return this.slots.map((s) => s.inflight.size);
  }
}
