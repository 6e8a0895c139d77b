import { describe, expect, test } from 'vitest';
import type { LogLine } from '../../shared/protocol/jobs.js';
import { jobDetailLines, quoteArg } from '../../tui/render/job-detail.js';
import { JOB_COLUMNS, allJobs, fmtAge, jobCounts, jobFilterText, jobGpus, jobReason, jobRow, jobTone, matchStateFilter, nextStateFilter, parseJobKey, shortJobId } from '../../tui/render/job-row.js';
import { appendBounded, formatLogLine, logWindow, sanitize, wrapText } from '../../tui/render/log-lines.js';
import { processRows } from '../../tui/render/process-row.js';
import { formatRow, layoutColumns } from '../../tui/render/table.js';
import { JOBS, T0, a5000, fleet } from './fixtures.js';

const now = T0 + 700_000;

describe('job rows', () => {
  test('one row per job across nodes, newest first', () => {
    const jobs = allJobs(fleet());
    expect(jobs.map((j) => j.name)).toEqual(['train-big', 'sweep', 'eval', 'finetune', 'train', 'prep', 'long']);
    expect(new Set(jobs.map((j) => j.node))).toEqual(new Set(['gpu01', 'mig01', 'cpu01']));
  });
  test('cells: node, short id, name, state, driver, assigned/requested GPUs, age, reason', () => {
    expect(jobRow(JOBS.queued(), now)).toEqual(['gpu01', 'a1queued', 'train-big', 'queued', 'process', '0/2', '1m', 'needs 2 GPUs, 1 free']);
    expect(jobRow(JOBS.running(), now)).toEqual(['gpu01', 'job-17', 'train', 'running', 'docker', '2/2', '10m', '']);
    expect(jobRow(JOBS.succeeded(), now)[7]).toBe('exit 0');
    expect(jobRow(JOBS.failed(), now)[7]).toBe('exit code 3');
    expect(jobRow(JOBS.oom(), now)[7]).toBe('OOM killed (exit 137)');
    expect(jobRow(JOBS.cancelled(), now)[7]).toBe('cancelled by ops');
    expect(jobRow(JOBS.lost(), now)[7]).toContain('could not be recovered');
  });
  test('reason falls back to the exit code; the exit code is added when the reason lacks it', () => {
    expect(jobReason({ ...JOBS.failed(), reason: null })).toBe('exit 3');
    expect(jobReason({ ...JOBS.failed(), reason: 'driver error' })).toBe('driver error (exit 3)');
    expect(jobGpus(JOBS.succeeded())).toBe('0');
  });
  test('tones by state', () => {
    expect([JOBS.running(), JOBS.queued(), JOBS.failed(), JOBS.lost(), JOBS.cancelled(), JOBS.succeeded()].map(jobTone)).toEqual(['ok', 'warn', 'bad', 'bad', 'dim', undefined]);
  });
  test('ages as k9s shows them', () => {
    expect([fmtAge(5_000), fmtAge(125_000), fmtAge(3_600_000), fmtAge(5 * 3_600_000 + 12 * 60_000), fmtAge(3 * 86_400_000 + 4 * 3_600_000)]).toEqual(['5s', '2m', '1h', '5h12m', '3d4h']);
  });
  test('state filters cycle all → active → finished → failed → all', () => {
    expect([undefined, 'all', 'active', 'finished', 'failed'].map((f) => nextStateFilter(f as never))).toEqual(['active', 'active', 'finished', 'failed', 'all']);
    const jobs = Object.values(JOBS).map((f) => f());
    expect(jobs.filter((j) => matchStateFilter(j.state, 'active')).map((j) => j.name)).toEqual(['train-big', 'train']);
    expect(jobs.filter((j) => matchStateFilter(j.state, 'failed')).map((j) => j.name)).toEqual(['eval', 'finetune', 'long']);
    expect(jobs.filter((j) => matchStateFilter(j.state, 'finished'))).toHaveLength(5);
  });
  test('filter text carries labels as k=v', () => {
    expect(jobFilterText(JOBS.running())).toContain('team=ml');
    expect(jobFilterText(JOBS.running())).toContain('pytorch/pytorch:2.3.0');
  });
  test('keys and ids', () => {
    expect(parseJobKey('gpu01/a/b')).toEqual({ node: 'gpu01', id: 'a/b' });
    expect(parseJobKey('nope')).toBeNull();
    expect(shortJobId('job-17')).toBe('job-17');
    expect(jobCounts(allJobs(fleet()))).toBe('7 jobs · 1 running · 1 queued · 3 failed');
  });
  test('rows fit 80 columns', () => {
    const layout = layoutColumns(JOB_COLUMNS, 78);
    expect(formatRow(JOB_COLUMNS, layout, jobRow(JOBS.lost(), now)).length).toBe(78);
    expect(layout.keep).toHaveLength(JOB_COLUMNS.length);
  });
  test('the process table shows the owning job', () => {
    expect(processRows(a5000().stats!.gpu.gpus).map((r) => r.cells[5])).toEqual(['job-17', '', 'job-17']);
  });
});

describe('job detail', () => {
  test('spec, placement, exit and history; env values stay hidden', () => {
    const text = jobDetailLines(JOBS.running(), now).map((l) => l.text).join('\n');
    expect(text).toContain('train on gpu01: RUNNING');
    expect(text).toContain('docker · image pytorch/pytorch:2.3.0');
    expect(text).toContain('torchrun --nproc-per-node 2 train.py');
    expect(text).toContain('HF_TOKEN, EPOCHS');
    expect(text).not.toContain('hf_secret_value');
    expect(text).toContain('/data → /data (ro)');
    expect(text).toContain('gpus 2 · cpus 8 · memory 32.0G');
    expect(text).toContain('priority 0 · timeout 3600s · restart on-failure ×2');
    expect(text).toContain('GPU-aaaa-0, GPU-aaaa-1');
    expect(text).toMatch(/HISTORY\n {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}queued\s*\n {2}\S+ \S+ {2}starting\s*\n {2}\S+ \S+ {2}running/);
  });
  test('exit code, OOM and reasons of finished jobs', () => {
    const oom = jobDetailLines(JOBS.oom(), now).map((l) => l.text).join('\n');
    expect(oom).toContain('exit        137 (OOM killed)');
    expect(oom).toContain('gpu uuids   none assigned');
    const q = jobDetailLines(JOBS.queued(), now).map((l) => l.text).join('\n');
    expect(q).toMatch(/queued +needs 2 GPUs, 1 free/);
  });
  test('arguments are quoted for display', () => {
    expect(['a', 'b c', "it's", ''].map(quoteArg)).toEqual(['a', "'b c'", "'it'\\''s'", "''"]);
  });
});

describe('log lines', () => {
  const line = (i: number, stream: LogLine['stream'] = 'stdout', text = `line ${i}`): LogLine => ({ ts: T0 + i, stream, line: text });
  test('the buffer keeps the newest lines', () => {
    const r = appendBounded([line(1), line(2)], [line(3), line(4)], 3);
    expect(r.lines.map((l) => l.line)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(r.dropped).toBe(1);
  });
  test('stderr is marked and dimmed; timestamps on demand; escapes and tabs cannot break the frame', () => {
    expect(formatLogLine(line(1, 'stderr', 'boom'), false)).toBe('! boom');
    expect(formatLogLine(line(1), true)).toMatch(/^\d\d:\d\d:\d\d\.\d{3} line 1$/);
    expect(sanitize('\x1b[31mred\x1b[0m\tx\r')).toBe('red    x');
    expect(logWindow([line(1, 'stderr')], { width: 20, height: 5, wrap: false, timestamps: false, anchor: null })).toEqual([{ text: '! line 1', tone: 'dim' }]);
  });
  test('never more rows than the height; the tail by default, the anchor when scrolled', () => {
    const lines = Array.from({ length: 100 }, (_, i) => line(i));
    const tail = logWindow(lines, { width: 40, height: 5, wrap: false, timestamps: false, anchor: null });
    expect(tail.map((r) => r.text)).toEqual(['line 95', 'line 96', 'line 97', 'line 98', 'line 99']);
    const at = logWindow(lines, { width: 40, height: 3, wrap: false, timestamps: false, anchor: 10 });
    expect(at.map((r) => r.text)).toEqual(['line 8', 'line 9', 'line 10']);
  });
  test('wrap splits long lines into rows; no wrap cuts them', () => {
    const long = [line(0, 'stdout', 'x'.repeat(25))];
    expect(wrapText('abcdefg', 3)).toEqual(['abc', 'def', 'g']);
    expect(logWindow(long, { width: 10, height: 10, wrap: true, timestamps: false, anchor: null }).map((r) => r.text)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
    expect(logWindow(long, { width: 10, height: 2, wrap: true, timestamps: false, anchor: null })).toHaveLength(2);
    expect(logWindow(long, { width: 10, height: 10, wrap: false, timestamps: false, anchor: null }).map((r) => r.text)).toEqual([`${'x'.repeat(9)}…`]);
  });
});
