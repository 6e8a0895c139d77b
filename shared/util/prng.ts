/** mulberry32: a small seeded PRNG (uniform [0, 1)), so fixtures, benchmarks and tests are the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform source (Box–Muller), for seeded synthetic datasets. */
export function gaussian(rnd: () => number): () => number {
  return () => {
    const u = Math.max(rnd(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
}

/** n rows of independent normal features with the given means and standard deviations. */
export function normalRows(rnd: () => number, n: number, means: readonly number[], stds: readonly number[]): number[][] {
  const g = gaussian(rnd);
  return Array.from({ length: n }, () => means.map((m, j) => m + stds[j] * g()));
}
