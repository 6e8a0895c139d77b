import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcNameCache, readProcName } from '../../../agent/telemetry/gpu/proc-name.js';

const linux = process.platform === 'linux';
const fakeProc = mkdtempSync(join(tmpdir(), 'fleetml-fake-proc-'));
afterAll(() => rmSync(fakeProc, { recursive: true, force: true }));

function fakePid(pid: number, files: { cmdline?: string; comm?: string }): void {
  mkdirSync(join(fakeProc, String(pid)), { recursive: true });
  if (files.cmdline !== undefined) writeFileSync(join(fakeProc, String(pid), 'cmdline'), files.cmdline);
  if (files.comm !== undefined) writeFileSync(join(fakeProc, String(pid), 'comm'), files.comm);
}

describe('readProcName', () => {
  it.runIf(linux)('own pid → argv[0] of this process', async () => {
    // The vitest worker retitles itself (process.title rewrites the argv area), so compare with
    // what the kernel shows right now rather than with process.argv0.
    const argv0 = readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0];
    expect(argv0).not.toBe('');
    expect(await readProcName(process.pid)).toBe(argv0);
  });
  it.runIf(linux)('a node child → the node binary path it was started with', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(await readProcName(child.pid!)).toBe(process.execPath);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(await readProcName(child.pid!)).toBeNull(); // reaped: /proc/<pid> is gone
  });
  it('a pid that does not exist → null', async () => {
    expect(await readProcName(2 ** 31 - 1)).toBeNull();
  });
  it('invalid pids → null without touching /proc', async () => {
    for (const pid of [0, -1, 1.5, Number.NaN]) expect(await readProcName(pid)).toBeNull();
  });
  it('argv[0] only: NUL-separated arguments are dropped, spaces and commas kept', async () => {
    fakePid(100, { cmdline: '/opt/my app/bin/python3, x\0train.py\0--lr\0' + '0.1\0', comm: 'python3\n' });
    expect(await readProcName(100, fakeProc)).toBe('/opt/my app/bin/python3, x');
  });
  it('empty cmdline (kernel thread, zombie) → comm without its newline', async () => {
    fakePid(101, { cmdline: '', comm: 'kworker/0:1\n' });
    expect(await readProcName(101, fakeProc)).toBe('kworker/0:1');
  });
  it('cmdline unreadable but comm readable → comm; both missing → null', async () => {
    fakePid(102, { comm: 'Xorg\n' });
    mkdirSync(join(fakeProc, '102', 'cmdline')); // EISDIR on read: not "gone", so comm is tried
    expect(await readProcName(102, fakeProc)).toBe('Xorg');
    fakePid(103, {});
    expect(await readProcName(103, fakeProc)).toBeNull();
  });
});

describe('ProcNameCache', () => {
  it('reads each pid once while it stays listed, forgets pids no longer seen', async () => {
    const reads: number[] = [];
    const cache = new ProcNameCache(async (pid) => (reads.push(pid), pid === 3 ? null : `p${pid}`));
    expect(await cache.lookup([1, 2, 3])).toEqual(new Map([[1, 'p1'], [2, 'p2'], [3, null]]));
    expect(await cache.lookup([1, 2, 3, 1])).toEqual(new Map([[1, 'p1'], [2, 'p2'], [3, null]]));
    expect(reads).toEqual([1, 2, 3]); // null (gone / not visible) is cached too
    await cache.lookup([2, 4]);
    expect(cache.size).toBe(2);
    await cache.lookup([1]); // 1 was dropped with the previous tick → read again (pid may be reused)
    expect(reads).toEqual([1, 2, 3, 4, 1]);
    expect(cache.size).toBe(1);
  });
  it('a failing reader gives null instead of throwing', async () => {
    const cache = new ProcNameCache(async () => { throw new Error('boom'); });
    expect(await cache.lookup([7])).toEqual(new Map([[7, null]]));
  });
  it('fill() names only processes without a name and returns copies', async () => {
    const cache = new ProcNameCache(async (pid) => `/bin/p${pid}`);
    const procs = [{ pid: 1, process_name: null }, { pid: 2, process_name: 'given' }];
    expect(await cache.fill(procs)).toEqual([{ pid: 1, process_name: '/bin/p1' }, { pid: 2, process_name: 'given' }]);
    expect(procs[0].process_name).toBeNull();
  });
  it.runIf(linux)('default reader resolves this process', async () => {
    const argv0 = readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0];
    expect((await new ProcNameCache().lookup([process.pid])).get(process.pid)).toBe(argv0);
  });
});
