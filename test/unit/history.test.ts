import { describe, expect, it } from 'vitest';
import { RingSeries, History } from '../../agent/telemetry/history.js';
import { parseNetDev, parseDiskStats, RateMeter, parseProcStat, cpuUtil } from '../../agent/telemetry/proc-counters.js';

describe('ring buffer history', () => {
  it('keeps the newest capacity points in order, nulls included', () => {
    const r = new RingSeries(3);
    [1, 2, null, 4, 5].forEach((v, i) => r.push(i, v));
    expect(r.read()).toEqual({ ts: [2, 3, 4], values: [null, 4, 5] });
    expect(r.read(3)).toEqual({ ts: [4], values: [5] });
  });
  it('drops metrics that stop appearing after a full window (a GPU removed)', () => {
    const h = new History(2);
    h.push(0, { a: 1, gone: 1 }, 2000);
    h.push(1000, { a: 2 }, 2000);
    h.push(3500, { a: 3 }, 2000);
    expect(Object.keys(h.read())).toEqual(['a']);
    expect(h.read(['a']).a.values).toEqual([2, 3]);
  });
});

describe('/proc counters', () => {
  it('parses /proc/net/dev without loopback', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0
  eth0: 5000 10 0 0 0 0 0 0 7000 12 0 0 0 0 0 0`;
    expect([...parseNetDev(text)]).toEqual([['eth0', { rx: 5000, tx: 7000 }]]);
  });
  it('sums whole disks from /proc/diskstats, skipping partitions and loop devices', () => {
    const text = ` 253       0 vda 100 0 2000 0 50 0 4000 0 0 0 0
 253       1 vda1 90 0 1800 0 40 0 3000 0 0 0 0
   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0
 259       0 nvme0n1 1 0 8 0 1 0 16 0 0 0 0`;
    expect(parseDiskStats(text)).toEqual({ read: (2000 + 8) * 512, write: (4000 + 16) * 512 });
  });
  it('turns counters into rates and treats a reset as unknown', () => {
    const m = new RateMeter<'x'>();
    expect(m.rate('x', 100, 0)).toBeNull();
    expect(m.rate('x', 1100, 500)).toBe(2000);
    expect(m.rate('x', 50, 1000)).toBeNull();
  });
});

describe('/proc/stat CPU utilisation', () => {
  it('computes busy share between two readings, counting iowait as idle', () => {
    const a = parseProcStat('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\ncpu1 50 0 50 350 50 0 0 0 0 0\nintr 1\n');
    const b = parseProcStat('cpu  200 0 200 1300 300 0 0 0 0 0\ncpu0 150 0 150 350 50 0 0 0 0 0\ncpu1 50 0 50 950 250 0 0 0 0 0\n');
    expect(cpuUtil(a.all, b.all)).toBe(20);
    expect(cpuUtil(a.cores[0], b.cores[0])).toBe(100);
    expect(cpuUtil(a.cores[1], b.cores[1])).toBe(0);
    expect(cpuUtil(undefined, b.all)).toBeNull();
  });
});
