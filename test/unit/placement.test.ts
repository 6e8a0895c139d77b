import { describe, expect, it } from 'vitest';
import { place, type PlacementRequest } from '../../shared/placement/place.js';
import type { NodeResources } from '../../shared/protocol/jobs.js';

/** A node.resources answer: `gpus` GPUs of which `free` are free; 32 CPUs, 256 GiB unless given. */
function node(name: string, gpus: number, free: number, o: Partial<NodeResources> = {}): NodeResources {
  return {
    node: name, labels: {},
    gpus: Array.from({ length: gpus }, (_, i) => ({ uuid: `GPU-${name}-${i}`, index: i, name: 'H100', fb_total_bytes: 80 * 2 ** 30, job_id: i < gpus - free ? 'j_x' : null, busy_external: false })),
    gpus_free: free, cpus_total: 32, cpus_free: 32, memory_total_bytes: 256 * 2 ** 30, memory_free_bytes: 256 * 2 ** 30,
    queued: 0, running: gpus - free,
    drivers: [{ name: 'process', available: true, reason: null }, { name: 'docker', available: false, reason: 'no docker socket' }, { name: 'fake', available: true, reason: null }],
    simulated: true, ...o,
  };
}
const req = (gpus: number, o: Partial<PlacementRequest> = {}): PlacementRequest => ({ gpus, selector: {}, ...o });

describe('place: bin-pack', () => {
  const nodes = [node('gpu-1', 8, 5), node('gpu-2', 8, 3), node('gpu-3', 4, 4)];
  it('chooses the node with the fewest free GPUs left after the job and says why', () => {
    const d = place(req(2), nodes, { strategy: 'binpack' });
    expect(d.node).toBe('gpu-2');
    expect(d.reason).toBe('bin-pack: gpu-2 has 1 free GPU left after this job (gpu-3: 2 left, gpu-1: 3 left)');
    expect(d).toMatchObject({ queued: false });
  });
  it('an exact fit wins', () => {
    expect(place(req(4), nodes, { strategy: 'binpack' }).node).toBe('gpu-3');
  });
  it('breaks ties on least free CPU, then on name', () => {
    const tied = [node('b', 8, 4, { cpus_free: 10 }), node('a', 8, 4, { cpus_free: 20 }), node('c', 8, 4, { cpus_free: 10 })];
    expect(place(req(2), tied, { strategy: 'binpack' }).node).toBe('b');
  });
});

describe('place: spread', () => {
  it('chooses the node with the most free GPUs left', () => {
    const d = place(req(2), [node('gpu-1', 8, 5), node('gpu-2', 8, 3), node('gpu-3', 4, 4)], { strategy: 'spread' });
    expect(d.node).toBe('gpu-1');
    expect(d.reason).toMatch(/^spread: gpu-1 has 3 free GPUs left after this job \(gpu-3: 2 left, gpu-2: 1 left\)$/);
  });
  it('breaks ties on most free CPU, then on name', () => {
    expect(place(req(1), [node('b', 4, 4, { cpus_free: 8 }), node('a', 4, 4, { cpus_free: 8 }), node('c', 4, 4, { cpus_free: 2 })], { strategy: 'spread' }).node).toBe('a');
  });
});

describe('place: filters', () => {
  it('skips nodes whose labels do not match the selector', () => {
    const nodes = [node('a', 8, 8, { labels: { pool: 'train' } }), node('b', 8, 2, { labels: { pool: 'serve' } }), node('c', 8, 1)];
    expect(place(req(1, { selector: { pool: 'train' } }), nodes, { strategy: 'binpack' }).node).toBe('a');
    const d = place(req(1, { selector: { pool: 'infer' } }), nodes, { strategy: 'binpack' });
    expect(d.node).toBeNull();
    if (d.node === null) {
      expect(d.candidates).toEqual([
        { node: 'a', why: 'labels do not match: pool=infer wanted, has pool=train' },
        { node: 'b', why: 'labels do not match: pool=infer wanted, has pool=serve' },
        { node: 'c', why: 'labels do not match: pool=infer wanted, label missing' },
      ]);
    }
  });
  it('checks CPU and memory as well as GPUs', () => {
    const nodes = [node('a', 8, 1, { cpus_free: 1 }), node('b', 8, 4)];
    expect(place(req(1, { cpus: 4 }), nodes, { strategy: 'binpack' }).node).toBe('b');
    expect(place(req(1, { memory_bytes: 300 * 2 ** 30 }), nodes, { strategy: 'binpack' })).toMatchObject({ node: null });
  });
  it('skips nodes whose driver is unavailable', () => {
    const d = place(req(1, { driver: 'docker' }), [node('a', 8, 8)], { strategy: 'binpack' });
    expect(d).toMatchObject({ node: null, candidates: [{ node: 'a', why: 'driver docker unavailable (no docker socket)' }] });
  });
});

describe('place: queue when nothing fits now', () => {
  it('queues on a node that could fit when idle, saying why', () => {
    const d = place(req(2), [node('gpu-1', 8, 0, { queued: 3 }), node('gpu-2', 4, 0), node('gpu-3', 1, 1)], { strategy: 'binpack' });
    expect(d).toEqual({ node: 'gpu-2', reason: 'queued on gpu-2: needs 2 GPUs, 0 free', queued: true });
  });
  it('prefers the shortest queue, then the smallest shortfall', () => {
    const d = place(req(4), [node('a', 8, 0), node('b', 8, 3), node('c', 8, 3, { queued: 1 })], { strategy: 'spread' });
    expect(d).toMatchObject({ node: 'b', queued: true, reason: 'queued on b: needs 4 GPUs, 3 free' });
  });
});

describe('place: impossible', () => {
  it('returns null with one reason per node', () => {
    const d = place(req(16), [node('b', 8, 8), node('a', 4, 4, { labels: { zone: 'x' } })], { strategy: 'binpack' });
    expect(d.node).toBeNull();
    if (d.node === null) {
      expect(d.reason).toBe('no node can ever run this job (2 nodes checked)');
      expect(d.candidates).toEqual([
        { node: 'a', why: 'never fits: needs 16 GPUs, has 4' },
        { node: 'b', why: 'never fits: needs 16 GPUs, has 8' },
      ]);
    }
  });
  it('no nodes at all', () => {
    expect(place(req(1), [], { strategy: 'binpack' })).toEqual({ node: null, reason: 'no nodes to place on', candidates: [] });
  });
});

describe('place: determinism', () => {
  it('the order of the nodes does not change the decision, and the input is not modified', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, '0')}`, i % 2 ? 8 : 4, (i * 7) % 5));
    const frozen = JSON.stringify(nodes);
    const a = place(req(2), nodes, { strategy: 'binpack' });
    const b = place(req(2), [...nodes].reverse(), { strategy: 'binpack' });
    expect(b).toEqual(a);
    expect(JSON.stringify(nodes)).toBe(frozen);
    for (const s of ['binpack', 'spread'] as const) expect(place(req(3), nodes, { strategy: s })).toEqual(place(req(3), [...nodes].sort(() => 0.5 - Math.random()), { strategy: s }));
  });
  it('gpus 0 places anywhere (by CPU tie-break)', () => {
    expect(place(req(0), [node('a', 4, 0), node('b', 4, 0, { cpus_free: 4 })], { strategy: 'binpack' }).node).toBe('b');
  });
});
