import { describe, expect, test } from 'vitest';
import { jobDetailLines } from '../../tui/render/job-detail.js';
import { JOB_COLUMNS, jobColumns, jobDriver, jobGpus, jobFilterText, jobReasonCell, jobRow } from '../../tui/render/job-row.js';
import { slurmPartitionText, slurmSummaryLine } from '../../tui/render/slurm-summary.js';
import { formatRow, layoutColumns } from '../../tui/render/table.js';
import { matchFilter } from '../../tui/state.js';
import { visibleJobs } from '../../tui/views/JobsView.js';
import { JOBS, T0 } from './fixtures.js';
import { SLURM_JOBS, loginNode, slurmCluster } from './slurm-fixtures.js';

const now = T0 + 700_000;
const text = (lines: { text: string }[]) => lines.map((l) => l.text).join('\n');

describe('slurm job rows', () => {
  test('the driver cell carries the Slurm id; other drivers and a job not yet in Slurm show the driver alone', () => {
    expect(jobDriver(SLURM_JOBS.pending())).toBe('slurm 17');
    expect(jobDriver(SLURM_JOBS.unsubmitted())).toBe('slurm');
    expect(jobDriver(JOBS.running())).toBe('docker');
  });
  test('a job pending in Slurm shows Slurm\'s reason; a running one its nodes; a finished one its exit', () => {
    expect(jobReasonCell(SLURM_JOBS.pending())).toBe('Slurm: Resources');
    expect(jobReasonCell({ ...SLURM_JOBS.pending(), slurm: { ...SLURM_JOBS.pending().slurm!, reason: null } })).toBe('Slurm: PENDING');
    expect(jobReasonCell(SLURM_JOBS.running())).toBe('on vm');
    expect(jobReasonCell(SLURM_JOBS.failed())).toBe('exit code 3');
    expect(jobReasonCell(JOBS.queued())).toBe('needs 2 GPUs, 1 free');
  });
  test('cells: node, id, name, state, "slurm 17", GPUs, age, "Slurm: Resources"', () => {
    expect(jobRow(SLURM_JOBS.pending(), now)).toEqual(['login-1', 'b2slurm0', 'waiter', 'queued', 'slurm 17', '0/1', '1m', 'Slurm: Resources']);
  });
  test('a running Slurm job holds all the GPUs it asked for (Slurm binds them; the agent has no UUIDs)', () => {
    expect(jobGpus(SLURM_JOBS.running())).toBe('2/2');
    expect(jobGpus(SLURM_JOBS.pending())).toBe('0/1');
    expect(jobGpus(SLURM_JOBS.failed())).toBe('0');
  });
  test('columns fit their cells: at 80 columns every column stays and neither the Slurm id nor the reason is cut', () => {
    for (const id of ['17', '207', '4829301']) {
      const j = { ...SLURM_JOBS.pending(), slurm: { ...SLURM_JOBS.pending().slurm!, job_id: id } };
      const rows = [jobRow(j, now), jobRow(JOBS.queued(), now), jobRow(JOBS.running(), now)];
      const cols = jobColumns(rows);
      const layout = layoutColumns(cols, 78);
      expect(layout.keep).toHaveLength(JOB_COLUMNS.length);
      const line = formatRow(cols, layout, rows[0]);
      expect(line).toHaveLength(78);
      expect(line).toContain(` slurm ${id} `);
      expect(line.trimEnd().endsWith('Slurm: Resources')).toBe(true);
      expect(line).not.toContain('…');
    }
  });
  test('column widths: short cells shrink NODE, ID, NAME (never below the header); DRIVER grows to 13 at most', () => {
    const w = (rows: string[][]) => jobColumns(rows).map((c) => c.width);
    expect(w([['n', 'job-1', 'x', 'queued', 'fake', '0', '1s', '']])).toEqual([4, 5, 4, 9, 6, 4, 5, 16]);
    expect(w([['a-very-long-node', 'a1b2c3d4', 'a-very-long-name', 'queued', 'slurm 123456789', '0', '1s', '']])).toEqual([10, 8, 12, 9, 13, 4, 5, 16]);
    expect(jobColumns([])).toEqual(JOB_COLUMNS);
  });
  test('the / filter matches the Slurm id, the partition, Slurm\'s state and reason', () => {
    const t = jobFilterText(SLURM_JOBS.pending());
    for (const q of ['slurm 17', '17', 'debug', 'PENDING', 'Resources']) expect(matchFilter(t, q)).toBe(true);
    expect(matchFilter(jobFilterText(JOBS.running()), 'slurm')).toBe(false);
    const nodes = [loginNode()];
    expect(visibleJobs(nodes, { view: 'jobs', arg: null, selected: 0, filter: 'slurm 16' } as never).map((j) => j.name)).toEqual(['hog']);
    expect(visibleJobs(nodes, { view: 'jobs', arg: null, selected: 0, filter: 'debug' } as never).map((j) => j.name)).toEqual(['waiter', 'hog', 'three']);
  });
});

describe('slurm job detail', () => {
  test('a SLURM section: job id, partition, Slurm state, reason, nodes, and what was asked of Slurm', () => {
    const t = text(jobDetailLines(SLURM_JOBS.pending(), now));
    expect(t).toMatch(/^SLURM\n {2}job id +17\n {2}partition +debug\n {2}state +PENDING\n {2}reason +Resources\n {2}nodes +–\n {2}asked +account ml\nHISTORY/m);
    expect(t).toContain('reason      pending in Slurm (job 17, partition debug): Resources');
    expect(t).toMatch(/^ {2}driver +slurm$/m);
    const r = text(jobDetailLines(SLURM_JOBS.running(), now));
    expect(r).toMatch(/^ {2}state +RUNNING$/m);
    expect(r).toMatch(/^ {2}nodes +vm$/m);
  });
  test('before sbatch answered: no Slurm id yet; other drivers have no SLURM section', () => {
    expect(text(jobDetailLines(SLURM_JOBS.unsubmitted(), now))).toMatch(/^SLURM\n {2}job id +not submitted yet$/m);
    expect(text(jobDetailLines(JOBS.running(), now))).not.toContain('SLURM');
  });
  test('the detail fits the 80×24 body (20 lines) with the SLURM section before the history', () => {
    const lines = jobDetailLines(SLURM_JOBS.pending(), now);
    expect(lines.findIndex((l) => l.text === 'HISTORY')).toBeLessThan(20);
  });
});

describe('slurm cluster line (node view)', () => {
  test('partitions with the default marked, free GPUs, nodes up; pending and running counts', () => {
    expect(slurmPartitionText(slurmCluster().partitions[0], true)).toBe('debug* up 1 node, GPUs 0/2 free');
    expect(slurmPartitionText(slurmCluster().partitions[1], false)).toBe('big down 1/4 nodes up, GPUs 8/32 free');
    expect(slurmSummaryLine(slurmCluster(), 200)).toBe('SLURM test · 1 pending 1 running · debug* up 1 node, GPUs 0/2 free · big down 1/4 nodes up, GPUs 8/32 free');
  });
  test('a failed read is said before the last good partitions; the line never exceeds the width', () => {
    expect(slurmSummaryLine(slurmCluster({ error: 'squeue timed out' }), 200)).toContain('read failed: squeue timed out · debug*');
    expect([...slurmSummaryLine(slurmCluster(), 80)].length).toBeLessThanOrEqual(80);
    expect(slurmSummaryLine(slurmCluster({ partitions: [], cluster: null }), 80)).toBe('SLURM · 1 pending 1 running · no partitions');
  });
});
