import { describe, expect, it } from 'vitest';
import { admit, misfit, type QueuedRequest } from '../../agent/jobs/admission.js';

const job = (id: string, gpus: number, o: Partial<QueuedRequest> = {}): QueuedRequest => ({ id, gpus, cpus: 0, memoryBytes: 0, priority: 0, submittedAt: 0, ...o });
const free = (n: number, cpus = 8, mem = 64 * 2 ** 30) => ({ gpus: Array.from({ length: n }, (_, i) => `GPU-${i}`), cpus, memoryBytes: mem });

describe('admission', () => {
  it('starts by priority, then submission order, handing out exclusive GPUs in index order', () => {
    const d = admit([job('a', 1, { submittedAt: 1 }), job('b', 1, { submittedAt: 2, priority: 5 }), job('c', 1, { submittedAt: 0 })], free(2), 10, 60_000);
    expect(d.start).toEqual([{ id: 'b', gpus: ['GPU-0'] }, { id: 'c', gpus: ['GPU-1'] }]);
    expect(d.waiting).toEqual([{ id: 'a', reason: 'needs 1 GPU, 0 free' }]);
  });
  it('lets a smaller job backfill ahead of a larger one that cannot fit yet', () => {
    const d = admit([job('big', 4, { submittedAt: 0 }), job('small', 1, { submittedAt: 1 })], free(2), 1000, 60_000);
    expect(d.start.map((s) => s.id)).toEqual(['small']);
    expect(d.waiting).toEqual([{ id: 'big', reason: 'needs 4 GPUs, 2 free' }]);
  });
  it('holds free GPUs for a job that has waited past the starvation limit, but lets CPU-only jobs through', () => {
    const d = admit([job('big', 4, { submittedAt: 0 }), job('small', 1, { submittedAt: 1 }), job('cpu', 0, { submittedAt: 2, cpus: 1 })], free(2), 120_000, 60_000);
    expect(d.start).toEqual([{ id: 'cpu', gpus: [] }]);
    expect(d.waiting.find((w) => w.id === 'small')!.reason).toBe('needs 1 GPU, 0 free (held for big, queued 120 s)');
  });
  it('checks CPU and memory too, with reasons in units people read', () => {
    expect(misfit(job('x', 0, { cpus: 4 }), free(0, 1.5))).toBe('needs 4 CPUs, 1.5 free');
    expect(misfit(job('x', 0, { memoryBytes: 8 * 2 ** 30 }), free(0, 8, 2 * 2 ** 30))).toBe('needs 8.0 GiB memory, 2.0 GiB free');
    expect(misfit(job('x', 2), free(2))).toBeNull();
  });
  it('never hands the same GPU to two jobs', () => {
    const d = admit(Array.from({ length: 10 }, (_, i) => job(`j${i}`, 1 + (i % 3), { submittedAt: i })), free(8), 0, 60_000);
    const all = d.start.flatMap((s) => s.gpus);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeLessThanOrEqual(8);
  });
});
