import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcStat } from '../../../agent/runtime/process/proc-identity.js';
import { exitWithoutRecord, markSignalled, parseExitRecord } from '../../../agent/runtime/process/exit-record.js';
import { LogTailer, readOffsets } from '../../../agent/runtime/process/log-tailer.js';
import { createLogger } from '../../../agent/log.js';

const root = mkdtempSync(join(tmpdir(), 'fleetml-process-parts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = () => mkdtempSync(join(root, `d${++n}-`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('/proc/<pid>/stat', () => {
  it('reads state, pgid, session and start time, even with spaces and parentheses in the name', () => {
    const line = '4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ startTime: '987654', zombie: false, pgid: 4242, sid: 4242 });
    expect(parseProcStat(line.replace(') S ', ') Z '))?.zombie).toBe(true);
    expect(parseProcStat('garbage')).toBeNull();
  });
});

describe('exit records', () => {
  it('decodes exit codes, names the signal of 128+N statuses, and accepts signal:NAME', () => {
    expect(parseExitRecord('0\n')).toEqual({ exitCode: 0, signal: null, oomKilled: false, error: null });
    expect(parseExitRecord('3')).toMatchObject({ exitCode: 3, signal: null });
    expect(parseExitRecord('143\n')).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    expect(parseExitRecord('137')).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(parseExitRecord('signal:SIGKILL')).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    expect(parseExitRecord('')).toBeNull();
    expect(parseExitRecord('12ab')).toBeNull();
  });
  it('without a record: the signal stop() sent, else an error', () => {
    const d = newDir();
    expect(exitWithoutRecord(d, true).error).toMatch(/vanished while the agent was down/);
    expect(exitWithoutRecord(d, false).error).toMatch(/without an exit record/);
    markSignalled(d, 'SIGTERM');
    expect(exitWithoutRecord(d, false)).toEqual({ exitCode: 143, signal: 'SIGTERM', oomKilled: false, error: null });
    markSignalled(d, 'SIGKILL');
    expect(exitWithoutRecord(d, false)).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });
});

describe('LogTailer', () => {
  const logger = createLogger('silent');
  type Line = [string, string];
  const opts = { pollMs: 10, persistMs: 10, maxBytesPerTick: 1 << 20, maxLineBytes: 16 };
  function tail(dir: string, ended: () => boolean = () => false) {
    const lines: Line[] = [];
    const t = new LogTailer(dir, (s, l) => { lines.push([s, l]); }, ended, logger, opts);
    t.start();
    return { lines, t };
  }

  it('delivers complete lines only, joining partial writes, and strips \\r', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'stdout.log'), 'a\r\nb');
    const { lines, t } = tail(dir);
    await sleep(40);
    expect(lines).toEqual([['stdout', 'a']]);
    appendFileSync(join(dir, 'stdout.log'), 'c\n');
    await sleep(40);
    t.dispose();
    expect(lines).toEqual([['stdout', 'a'], ['stdout', 'bc']]);
    expect(readOffsets(dir)).toEqual({ stdout: 6, stderr: 0 });
  });

  it('cuts lines longer than maxLineBytes without splitting a UTF-8 character', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'stderr.log'), `${'x'.repeat(15)}é${'y'.repeat(20)}\n`);
    const { lines, t } = tail(dir);
    await sleep(40);
    t.dispose();
    expect(lines.map((l) => l[1])).toEqual(['x'.repeat(15), `é${'y'.repeat(14)}`, 'y'.repeat(6)]);
  });

  it('resumes from persisted offsets and flushes a last partial line once the task ended', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'stdout.log'), 'one\ntwo\n');
    const first = tail(dir);
    await sleep(40);
    first.t.dispose();
    appendFileSync(join(dir, 'stdout.log'), 'three\nfour');
    const second = tail(dir, () => true);
    await sleep(60);
    expect(first.lines.map((l) => l[1])).toEqual(['one', 'two']);
    expect(second.lines.map((l) => l[1])).toEqual(['three', 'four']);
    expect(JSON.parse(readFileSync(join(dir, 'log-offsets.json'), 'utf8'))).toMatchObject({ stdout: 18 });
  });

  it('persists offsets right after delivering (persistMs 0), so a hard crash repeats nothing', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'stdout.log'), 'a\nb\npartial');
    const lines: string[] = [];
    const t = new LogTailer(dir, (_s, l) => { lines.push(l); }, () => false, logger, { ...opts, persistMs: 0 });
    t.start();
    await sleep(40);
    expect(lines).toEqual(['a', 'b']);
    expect(readOffsets(dir)).toEqual({ stdout: 4, stderr: 0 }); // before any dispose
    t.dispose();
  });

  it('starts over when a file was truncated', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'log-offsets.json'), JSON.stringify({ stdout: 500, stderr: 0 }));
    writeFileSync(join(dir, 'stdout.log'), 'fresh\n');
    const { lines, t } = tail(dir);
    await sleep(40);
    t.dispose();
    expect(lines).toEqual([['stdout', 'fresh']]);
  });
});
