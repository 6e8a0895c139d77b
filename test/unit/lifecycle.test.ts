import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../agent/lifecycle.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Lifecycle', () => {
  it('closes parts newest first, awaiting each before the next', async () => {
    const log: string[] = [];
    const l = new Lifecycle();
    l.use('db', { close: () => { log.push('db'); } });
    l.use('serving', { dispose: async () => { await tick(); log.push('serving'); } });
    l.use('api', { stop: async () => { log.push('api:start'); await tick(); log.push('api:end'); } });
    l.use('timer', setInterval(() => undefined, 1000), clearInterval);
    await l.close();
    expect(log).toEqual(['api:start', 'api:end', 'serving', 'db']);
  });

  it('keeps closing after a disposer throws, and reports the failure by name', async () => {
    const log: string[] = [];
    const errors: string[] = [];
    const l = new Lifecycle((name, e) => errors.push(`${name}: ${(e as Error).message}`));
    l.use('db', () => { log.push('db'); });
    l.use('jobs', async () => { throw new Error('boom'); });
    l.use('api', () => { log.push('api'); });
    await l.close();
    expect(log).toEqual(['api', 'db']);
    expect(errors).toEqual(['jobs: boom']);
  });

  it('closes once however often close() is called, and refuses parts registered after', async () => {
    let n = 0;
    const l = new Lifecycle();
    l.use('x', async () => { await tick(); n++; });
    await Promise.all([l.close(), l.close()]);
    await l.close();
    expect(n).toBe(1);
    expect(() => l.use('late', () => undefined)).toThrow(/after close/);
  });

  it('goes on after a part that does not close in time, and says which', async () => {
    const log: string[] = [];
    const errors: string[] = [];
    const l = new Lifecycle((name, e) => errors.push(`${name}: ${(e as Error).message}`), 30);
    l.use('db', () => { log.push('db'); });
    l.use('rollouts', () => new Promise(() => undefined)); // never settles
    await l.close();
    expect(log).toEqual(['db']);
    expect(errors).toEqual(['rollouts: did not close within 0.03 s; shutdown goes on without it']);
  });
});
