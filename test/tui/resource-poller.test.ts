import { describe, expect, test } from 'vitest';
import type { NodeResources } from '../../shared/protocol/jobs.js';
import { resourcesOf, withResources } from '../../tui/node-resources.js';
import { ResourcePoller, resourceReaderOf } from '../../tui/resource-poller.js';
import { FakeFleetActions, a5000, fleet } from './fixtures.js';
import { slurmResources } from './slurm-fixtures.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('resource poller', () => {
  test('polls every node it is given, never two rounds at once, and publishes what it got', async () => {
    let running = 0;
    let overlapped = false;
    const calls: string[] = [];
    const reader = async (node: string): Promise<NodeResources> => {
      calls.push(node);
      running++;
      if (running > 2) overlapped = true; // two nodes per round run together; a second round must not join them
      await tick(30);
      running--;
      return slurmResources({ node });
    };
    const got: Record<string, NodeResources>[] = [];
    const p = new ResourcePoller(reader, () => ['a', 'b'], (r) => got.push(r), { pollMs: 10 });
    p.start();
    p.nudge(); // ignored: a round is in flight
    await tick(150);
    p.dispose();
    const n = calls.length;
    await tick(60);
    expect(overlapped).toBe(false);
    expect(calls.length).toBe(n); // nothing after dispose
    expect(n).toBeGreaterThanOrEqual(4);
    expect(Object.keys(got.at(-1)!)).toEqual(['a', 'b']);
  });
  test('a failing node backs off (doubling) and keeps its last good answer; the others go on', async () => {
    let t = 0;
    const calls: string[] = [];
    let fail = false;
    const reader = async (node: string) => {
      calls.push(node);
      if (node === 'old' && fail) throw new Error('unknown method node.resources');
      return slurmResources({ node });
    };
    let last: Record<string, NodeResources> = {};
    const p = new ResourcePoller(reader, () => ['old', 'new'], (r) => { last = r; }, { pollMs: 5, maxBackoffMs: 1000, now: () => t });
    p.start();
    await tick(2);
    fail = true;
    await tick(40);
    const oldCalls = calls.filter((c) => c === 'old').length;
    expect(oldCalls).toBe(2); // the good one, then one failure; now it waits 10 ms of fake time
    expect(calls.filter((c) => c === 'new').length).toBeGreaterThan(3);
    expect(last.old?.node).toBe('old');
    expect(p.backoff(1)).toBe(10);
    expect(p.backoff(20)).toBe(1000);
    t = 11;
    await tick(20);
    expect(calls.filter((c) => c === 'old').length).toBe(3);
    p.dispose();
  });
  test('resources ride on the nodes; a node that already carries some keeps them', () => {
    const [a, b] = fleet();
    const own = { ...b, resources: slurmResources({ node: 'own' }) };
    const out = withResources([a, own], { gpu01: slurmResources({ node: 'gpu01' }), cpu01: slurmResources({ node: 'other' }) });
    expect(resourcesOf(out[0])?.node).toBe('gpu01');
    expect(resourcesOf(out[1])?.node).toBe('own');
    expect(resourcesOf(a5000())).toBeNull();
  });
  test('a reader comes from the fleet client (client(name)), not from other actions', async () => {
    expect(resourceReaderOf(undefined)).toBeUndefined();
    expect(resourceReaderOf(new FakeFleetActions())).toBeUndefined();
    const asked: string[] = [];
    const fleetClient = Object.assign(new FakeFleetActions(), {
      client: (name: string) => (name === 'gone' ? undefined : { call: async (m: string) => { asked.push(`${name}:${m}`); return slurmResources({ node: name }); } }),
    });
    const read = resourceReaderOf(fleetClient)!;
    expect((await read('login-1')).node).toBe('login-1');
    expect(asked).toEqual(['login-1:node.resources']);
    await expect(read('gone')).rejects.toThrow('no connection to gone');
  });
});
