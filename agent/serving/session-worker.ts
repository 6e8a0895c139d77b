// The code of a model worker thread, as a string run with `new Worker(WORKER_SOURCE, { eval: true })`.
//
// Why a string: the worker must start the same way from source under vitest (where a .ts worker file cannot be run by
// plain node and tsx is not installed) and from the compiled dist/ (tsc emits only .ts → .js and would not copy a
// separate .mjs). An eval worker needs no file at all. The code is plain JavaScript that works whether node evaluates
// it as CommonJS or as an ES module (it only uses dynamic import()), and it loads onnxruntime-node from the absolute
// file URL the parent resolved, so it does not depend on the working directory.
//
// Protocol (structured-clone messages):
//   parent → worker: { type: 'infer', id, feeds: { [name]: { dtype, dims, data } } }
//   worker → parent: { type: 'ready', provider, notes, inputs, outputs } | { type: 'error', message }
//                    { type: 'result', id, outputs, computeUs } (output ArrayBuffers transferred) | { type: 'fail', id, message }

import type { TensorSpec } from '../../shared/protocol/models.js';
import type { RawTensor } from './tensors.js';

export interface WorkerInit {
  /** file: URL of onnxruntime-node's entry, resolved by the parent. */
  ortUrl: string;
  /** Model file path. */
  file: string;
  /** Execution providers to try one at a time, in order (each alone: ORT does not fall back within one list). */
  providers: string[];
  intraOpThreads: number;
  /** ort.env.logLevel ('fatal' silences ORT's native stderr lines, e.g. for a CUDA EP that is not installed). */
  logLevel: string;
}

export type ToWorker = { type: 'infer'; id: number; feeds: Record<string, RawTensor> };
export type FromWorker =
  | { type: 'ready'; provider: string; notes: string[]; inputs: TensorSpec[]; outputs: TensorSpec[] }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, RawTensor>; computeUs: number }
  | { type: 'fail'; id: number; message: string };

export const WORKER_SOURCE = String.raw`
(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  const post = (m, transfer) => parentPort.postMessage(m, transfer);
  const errMsg = (e) => (e && e.message) ? e.message : String(e);
  let ort, session, provider = null;
  const notes = [];
  try {
    const mod = await import(workerData.ortUrl);
    ort = (mod.default && mod.default.InferenceSession) ? mod.default : mod;
    try { ort.env.logLevel = workerData.logLevel; } catch (e) { /* older ORT */ }
    for (const p of workerData.providers) {
      try {
        session = await ort.InferenceSession.create(workerData.file, {
          executionProviders: [p],
          intraOpNumThreads: workerData.intraOpThreads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
        });
        provider = p;
        break;
      } catch (e) {
        notes.push(p + ': ' + errMsg(e));
      }
    }
  } catch (e) {
    notes.push('cannot load onnxruntime-node: ' + errMsg(e));
  }
  if (!session) { post({ type: 'error', message: notes.join('; ') || 'no execution provider configured' }); return; }
  const spec = (list) => list.map((m) => ({
    name: m.name,
    dtype: m.isTensor === false ? 'unsupported' : m.type,
    shape: (m.shape || []).map((d) => (typeof d === 'number' && d >= 0) ? d : (typeof d === 'string' ? d : '')),
  }));
  post({ type: 'ready', provider, notes, inputs: spec(session.inputMetadata), outputs: spec(session.outputMetadata) });
  parentPort.on('message', async (msg) => {
    if (!msg || msg.type !== 'infer') return;
    try {
      const feeds = {};
      for (const name of Object.keys(msg.feeds)) {
        const t = msg.feeds[name];
        feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
      }
      const t0 = performance.now();
      const res = await session.run(feeds);
      const computeUs = Math.round((performance.now() - t0) * 1000);
      const outputs = {};
      const transfer = [];
      for (const name of Object.keys(res)) {
        const v = res[name];
        let data = v.data;
        if (ArrayBuffer.isView(data)) { data = data.slice(); transfer.push(data.buffer); } else { data = Array.from(data); }
        outputs[name] = { dtype: v.type, dims: Array.from(v.dims, Number), data };
        if (typeof v.dispose === 'function') v.dispose();
      }
      post({ type: 'result', id: msg.id, outputs, computeUs }, transfer);
    } catch (e) {
      post({ type: 'fail', id: msg.id, message: errMsg(e) });
    }
  });
})().catch((e) => { throw e; });
`;
