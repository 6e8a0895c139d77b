import { afterAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { PreflightCheck } from '../../shared/protocol/index.js';
import { fixture, inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// The pre-flight of rollout.start on real agents with simulated GPUs (real nvidia-smi captures): GPU memory of GPU 0
// from telemetry against the candidate's estimated need, skipped on CPU and GPU-less nodes, and a stable version that
// is not loaded gets loaded before the first step.
type A = Awaited<ReturnType<typeof inProcessAgent>>;
const opened: Array<{ a: A; c: AgentClient }> = [];

/** An agent replaying `fx` with credit v1 serving (alias 100 %) and v2 pushed, not loaded. */
async function node(name: string, fx: string | null, patch?: Parameters<typeof inProcessAgent>[1]) {
  const a = await inProcessAgent({ name, jobDriver: ['fake'], ...(fx ? { gpuFixture: [fixture(fx)] } : { gpuSource: 'none', gpuFixture: [] }) }, patch);
  const c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 30_000 });
  await c.connect();
  opened.push({ a, c });
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
  await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
  // the GPU readings come from the first telemetry sample
  for (let i = 0; i < 50 && (await c.call('node.stats', {}).catch(() => null)) === null; i++) await new Promise((r) => setTimeout(r, 100));
  return { a, c };
}
const check = (p: PreflightCheck[] | undefined, kind: PreflightCheck['check']) => p?.find((x) => x.check === kind);
const alias = async (c: AgentClient) => (await c.call('model.history', { name: 'credit', limit: 1 })).events[0]?.targets;

afterAll(async () => { for (const { a, c } of opened) { await c.close(); await a.close(); } });

describe('rollout pre-flight: GPU memory', () => {
  it('refuses a node whose GPU 0 has less free memory than the candidate needs, naming the node and both figures', async () => {
    // GRID P4-1Q vGPU: 1024 MiB, 807 MiB used → 217 MiB free (the sim source moves `used` by ±5 % of the total: 166 to
    // 268 MiB free); the estimate is at least models.gpu_load_min_bytes (512 MiB)
    const { c } = await node('pf-full', 'grid-p4-1q-vgpu-win-513.46-q-x.xml', (cfg) => { cfg.models.gpu_preflight_simulated = true; });
    const e = await c.call('rollout.start', { name: 'credit', to: 'v2' }).catch((x) => x);
    expect(e.data?.code).toBe('CONFLICT');
    expect(e.message).toMatch(/not enough GPU memory/);
    expect(e.message).toMatch(/pf-full: loading v2 .* needs about 512 MiB on GPU 0 \(GRID P4-1Q\).*; (\d+) MiB are free \(fb_total − fb_used\) \(simulated GPU telemetry\)/);
    const free = Number(/; (\d+) MiB are free/.exec(e.message)![1]);
    expect(free).toBeGreaterThanOrEqual(166);
    expect(free).toBeLessThanOrEqual(268);
    expect((await c.call('rollout.list', {})).rollouts).toEqual([]);
    expect(await alias(c)).toEqual([{ version: 'v1', weight: 100 }]);
    // a dry run shows the failed check and warns instead of refusing
    const dry = (await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout;
    const g = check(dry.preflight, 'gpu_memory')!;
    expect(g.outcome).toBe('fail');
    expect(g.free_bytes).toBeGreaterThanOrEqual(165 * 2 ** 20);
    expect(g.free_bytes).toBeLessThanOrEqual(269 * 2 ** 20);
    expect(g.need_bytes).toBe(512 * 2 ** 20);
    expect(dry.warnings.some((w) => /pf-full: .* MiB are free/.test(w))).toBe(true);
  }, 60_000);

  it('on simulated GPUs a shortfall is only reported, unless models.gpu_preflight_simulated rehearses the limits', async () => {
    const { c } = await node('pf-sim', 'grid-p4-1q-vgpu-win-513.46-q-x.xml');
    const r = (await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout;
    const g = check(r.preflight, 'gpu_memory')!;
    expect(g.outcome).toBe('skipped');
    expect(g.detail).toMatch(/not enforced on simulated GPUs/);
    expect(g.need_bytes).toBeGreaterThan(g.free_bytes!);
  });

  it('passes where GPU 0 has room, and a lower models.gpu_load_min_bytes lets the small card through', async () => {
    const { c } = await node('pf-h200', 'h200-580.159-procs-q-x.xml'); // 143771 MiB, 1869 used (± 5 % of the total)
    const r = (await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout;
    const g = check(r.preflight, 'gpu_memory')!;
    expect(g.outcome).toBe('pass');
    expect(g.free_bytes).toBeGreaterThan((143771 - 1869 - 7189) * 2 ** 20);
    expect(g.detail).toMatch(/pf-h200: loading v2 .* on GPU 0 \(NVIDIA H200\)/);
    const small = await node('pf-small', 'grid-p4-1q-vgpu-win-513.46-q-x.xml', (cfg) => { cfg.models.gpu_load_min_bytes = 64 * 2 ** 20; });
    const ok = (await small.c.call('rollout.start', { name: 'credit', to: 'v2', step_duration_s: 60 })).rollout;
    expect(check(ok.preflight, 'gpu_memory')!.outcome).toBe('pass');
    await small.c.call('rollout.abort', { id: ok.id });
  }, 60_000);

  it('skips the check on a node without GPUs and where models load with the CPU provider, and says so', async () => {
    const { c } = await node('pf-nogpu', null);
    const r = (await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout;
    const g = check(r.preflight, 'gpu_memory')!;
    expect(g.outcome).toBe('skipped');
    expect(g.detail).toMatch(/no GPU in its telemetry \(absent/);
    const cpu = await node('pf-cpu', 'grid-p4-1q-vgpu-win-513.46-q-x.xml', (cfg) => { cfg.models.providers = ['cpu']; });
    const r2 = (await cpu.c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout;
    expect(check(r2.preflight, 'gpu_memory')).toMatchObject({ outcome: 'skipped', detail: expect.stringMatching(/cpu provider there \(models.providers\): no GPU memory needed/) });
    expect(check(r2.preflight, 'host_memory')!.outcome).toBe('pass');
  }, 60_000);
});

describe('rollout pre-flight: the stable version', () => {
  it('loads a stable version that is not loaded before the first step (a dry run only says it would)', async () => {
    const { c } = await node('pf-stable', 'h200-580.159-procs-q-x.xml');
    await c.call('model.unload', { name: 'credit', version: 'v1' });
    const loaded = async () => (await c.call('model.list', { name: 'credit' })).models.find((m) => m.version === 'v1')!.loaded;
    expect(await loaded()).toBe(false);
    const dry = (await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout;
    expect(check(dry.preflight, 'stable_loaded')).toMatchObject({ outcome: 'would_load' });
    expect(await loaded()).toBe(false);
    // the memory estimate counts both versions to load: twice the per-version minimum
    expect(check(dry.preflight, 'gpu_memory')!.need_bytes).toBe(2 * 512 * 2 ** 20);
    const r = (await c.call('rollout.start', { name: 'credit', to: 'v2', step_duration_s: 60 })).rollout;
    expect(check(r.preflight, 'stable_loaded')).toMatchObject({ outcome: 'loaded', detail: expect.stringMatching(/stable version v1 is not loaded: loaded before the first step/) });
    expect(await loaded()).toBe(true);
    const again = (await c.call('rollout.abort', { id: r.id })).rollout;
    expect(again.state).toBe('aborted');
    expect(check((await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true })).rollout.preflight, 'stable_loaded')!.outcome).toBe('pass');
  }, 60_000);
});
