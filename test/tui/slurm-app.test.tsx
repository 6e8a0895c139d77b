import { describe, expect, test } from 'vitest';
import type { NodeResources } from '../../shared/protocol/jobs.js';
import { FakeFleetActions, FakeFleetSource, a5000 } from './fixtures.js';
import { ENTER, ESC, RIGHT, SHIFT_TAB, renderApp, tick } from './harness.js';
import { loginNode, slurmResources } from './slurm-fixtures.js';

/** The console on login-1 (Slurm jobs, no resources of its own) and gpu01, node.resources answered by `reader`. */
async function start(size = { rows: 24, columns: 80 }, reader: (node: string) => Promise<NodeResources> = async (n) => (n === 'login-1' ? slurmResources() : Promise.reject(new Error('unknown method')))) {
  const actions = new FakeFleetActions();
  const r = await renderApp({ source: new FakeFleetSource([loginNode(null), a5000()]), actions, resources: reader }, size);
  await tick(50); // the first poll round
  return { ...r, actions };
}

describe('slurm in the console (80×24)', () => {
  test(':jobs shows the Slurm id in the driver cell and Slurm\'s reason; / finds a job by its Slurm id', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'jobs', ENTER);
    expect(frame()).toMatch(/login-1 +b2slurm0 +waiter +queued +slurm 17 +0\/1 +\S+ Slurm: Resources/);
    expect(frame()).toMatch(/hog +running +slurm 16 +2\/2 .* on vm/);
    fits();
    await type('/', 'slurm 15', ENTER);
    expect(frame()).toContain('three');
    expect(frame()).not.toContain('waiter');
    await type(ESC, '/', 'debug', ENTER);
    expect(frame()).toContain('waiter');
    expect(frame()).not.toContain('train-big');
  });
  test('Enter on a Slurm job shows its SLURM section', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'jobs', ENTER, '/', 'waiter', ENTER, ENTER);
    expect(frame()).toContain('waiter on login-1: QUEUED');
    expect(frame()).toMatch(/SLURM\n {2}job id +17\n {2}partition +debug\n {2}state +PENDING\n {2}reason +Resources/);
    fits();
  });
  test('the form preselects the node\'s default driver (slurm) from node.resources and submits a GPU job to it', async () => {
    const { frame, type, actions, fits } = await start();
    await type(':', 'jobs', ENTER, 'n');
    expect(frame()).toMatch(/node +‹ login-1 ›/);
    expect(frame()).toContain('driver    ‹ slurm ›  Slurm cluster test: partition debug, 0/2 GPUs free');
    fits();
    await type('nvidia-smi -L', '\t', '1', ENTER);
    await tick();
    expect(actions.submitted).toEqual([{ node: 'login-1', spec: { driver: 'slurm', command: ['nvidia-smi', '-L'], gpus: 1, priority: 0 } }]);
  });
  test('a node whose agent has no node.resources offers every driver, starting with process', async () => {
    const { frame, type } = await start();
    await type(':', 'jobs', ENTER, 'n', SHIFT_TAB, SHIFT_TAB, SHIFT_TAB, RIGHT);
    expect(frame()).toMatch(/node +‹ gpu01 ›/);
    expect(frame()).toMatch(/driver +‹ process ›/);
  });
  test('the node view shows the Slurm cluster: partitions and free GPUs', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'node', ' ', 'login-1', ENTER);
    expect(frame()).toContain('SLURM test · 1 pending 1 running · debug* up 1 node, GPUs 0/2 free');
    fits();
  });
});
