/**
 * Pre-flight memory checks of a rollout — pure: what a node reports (node.info, node.stats, model.list) in, one
 * PreflightCheck out. start.ts gathers the figures and refuses the rollout on any `fail` (a dry run only warns).
 *
 * Estimates (documented in docs/rollouts.md):
 *   host memory  LOAD_MEMORY_FACTOR × file size per version to load, against the host's available memory
 *   GPU memory   max(models.gpu_load_min_bytes, LOAD_MEMORY_FACTOR × file size) per version to load, against GPU 0's
 *                fb_total − fb_used (onnxruntime's CUDA provider loads on device 0); checked only when the node's
 *                first provider is CUDA and its telemetry shows a GPU; on simulated GPUs (whose loads run on CPU) a
 *                shortfall is reported as skipped unless models.gpu_preflight_simulated rehearses the real node's limits
 * "Versions to load" are the candidate and, when it is not loaded yet, the stable version (pre-flight loads it).
 */
import type { GpuState, PreflightCheck } from '../../shared/protocol/index.js';

/** Estimated memory a loaded version needs, as a multiple of its file size (weights plus onnxruntime arenas). */
export const LOAD_MEMORY_FACTOR = 3;

/** A version the rollout will load on a node. */
export interface ToLoad { version: string; size_bytes: number }

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const list = (xs: readonly ToLoad[]) => xs.map((x) => `${x.version} (${(x.size_bytes / 2 ** 20).toFixed(1)} MiB file)`).join(' and ');

/** Host memory: the versions to load against the host's available memory (skipped when nothing is loaded or it is unknown). */
export function hostMemoryCheck(node: string, load: readonly ToLoad[], availableBytes: number | null): PreflightCheck {
  if (!load.length) return { node, check: 'host_memory', outcome: 'skipped', detail: 'the candidate and the stable version are loaded already' };
  const need = load.reduce((a, x) => a + x.size_bytes * LOAD_MEMORY_FACTOR, 0);
  if (availableBytes === null) return { node, check: 'host_memory', outcome: 'skipped', detail: 'the node does not report its available memory', free_bytes: null, need_bytes: need };
  const ok = availableBytes >= need;
  return {
    node, check: 'host_memory', outcome: ok ? 'pass' : 'fail', free_bytes: availableBytes, need_bytes: need,
    detail: `${node}: loading ${list(load)} needs about ${mib(need)} of host memory (${LOAD_MEMORY_FACTOR}× the file size); ${mib(availableBytes)} are available`,
  };
}

/**
 * GPU memory of GPU 0 against the versions to load on the CUDA provider. Skipped (with the reason) when nothing is to
 * be loaded, the node does not say its providers (older agent), its first provider is CPU, or it has no GPU reading.
 */
export function gpuMemoryCheck(node: string, load: readonly ToLoad[], providers: readonly string[] | undefined, gpu: GpuState | null, minBytes: number, enforceSimulated = false): PreflightCheck {
  const skip = (detail: string): PreflightCheck => ({ node, check: 'gpu_memory', outcome: 'skipped', detail: `${node}: ${detail}` });
  if (!load.length) return skip('the candidate and the stable version are loaded already');
  if (!providers) return skip('the node does not say which execution provider it loads with (agent older than protocol 1.7): GPU memory not checked');
  if (providers[0] !== 'cuda') return skip(`models load with the ${providers[0] ?? 'cpu'} provider there (models.providers): no GPU memory needed`);
  if (!gpu || gpu.status !== 'ok' || gpu.gpus.length === 0) return skip(`no GPU in its telemetry (${gpu ? gpu.status : 'no sample'}${gpu?.reason ? `: ${gpu.reason}` : ''}): models load on CPU there`);
  const g0 = [...gpu.gpus].sort((a, b) => a.index - b.index)[0];
  if (g0.status !== 'ok' || g0.fb_total_bytes === null || g0.fb_used_bytes === null) return skip(`GPU ${g0.index} reports no memory reading${g0.error ? ` (${g0.error})` : ''}: GPU memory not checked`);
  const free = g0.fb_total_bytes - g0.fb_used_bytes;
  const need = load.reduce((a, x) => a + Math.max(minBytes, x.size_bytes * LOAD_MEMORY_FACTOR), 0);
  const sim = gpu.simulated ? ' (simulated GPU telemetry)' : '';
  const what = `loading ${list(load)} with the CUDA provider needs about ${mib(need)} on GPU ${g0.index}${g0.name ? ` (${g0.name})` : ''} (max(models.gpu_load_min_bytes ${mib(minBytes)}, ${LOAD_MEMORY_FACTOR}× the file size) per version)`;
  // Simulated GPUs: the agent loads on CPU there, so a shortfall is only reported unless the operator rehearses the
  // real node's limits (models.gpu_preflight_simulated).
  const outcome = free >= need ? 'pass' : gpu.simulated && !enforceSimulated ? 'skipped' : 'fail';
  const note = outcome === 'skipped' ? '; not enforced on simulated GPUs, whose loads run on CPU (models.gpu_preflight_simulated)' : '';
  return {
    node, check: 'gpu_memory', outcome, free_bytes: free, need_bytes: need,
    detail: `${node}: ${what}; ${mib(free)} are free (fb_total − fb_used)${sim}${note}`,
  };
}
