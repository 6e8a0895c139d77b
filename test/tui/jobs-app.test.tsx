import { describe, expect, test } from 'vitest';
import { FakeFleetActions, T0 } from './fixtures.js';
import { CTRL_D, ENTER, ESC, RIGHT, SHIFT_TAB, TAB, renderApp, tick, type AppProps } from './harness.js';

async function start(props: Partial<AppProps> = {}, size = { rows: 24, columns: 100 }) {
  const actions = 'actions' in props ? props.actions : new FakeFleetActions();
  return { ...(await renderApp({ ...props, actions }, size)), actions: actions as FakeFleetActions };
}

describe(':jobs', () => {
  test('lists the jobs of every node, newest first, with state and reason', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'jobs', ENTER);
    const f = frame();
    expect(f).toContain('7 jobs · 1 running · 1 queued · 3 failed');
    expect(f).toContain('no job list yet from gpu03, gpu04');
    const rows = f.split('\n').filter((l) => /gpu01|mig01|cpu01/.test(l) && !l.includes('no job list'));
    expect(rows.map((l) => l.trim().split(/\s+/)[l.startsWith('>') ? 3 : 2])).toEqual(['train-big', 'sweep', 'eval', 'finetune', 'train', 'prep', 'long']);
    expect(f).toMatch(/> gpu01 +a1queued +train-big +queued +process +0\/2 .* needs 2 GPUs, 1 free/);
    expect(f).toMatch(/gpu01 +job-17 +train +running +docker +2\/2/);
    expect(f).toContain('OOM killed (exit 137)');
    fits();
  });
  test('aliases :job and :jb', async () => {
    for (const alias of ['job', 'jb']) {
      const { frame, type } = await start();
      await type(':', alias, ENTER);
      expect(frame()).toContain('train-big');
    }
  });
  test('/ filters on name, node, state and labels; f cycles states', async () => {
    const { frame, type } = await start();
    await type(':', 'jobs', ENTER, '/', 'team=research', ENTER);
    expect(frame()).toContain('sweep');
    expect(frame()).not.toContain('train-big');
    await type(ESC, '/', 'mig01', ENTER);
    expect(frame()).toContain('eval');
    expect(frame()).toContain('finetune');
    expect(frame()).not.toContain('sweep');
    await type(ESC, 'f');
    expect(frame()).toContain('jobs (active)');
    expect(frame()).toContain('train-big');
    expect(frame()).not.toContain('sweep');
    await type('f', 'f');
    expect(frame()).toContain('jobs (failed)');
    expect(frame()).toContain('eval');
    expect(frame()).not.toContain('prep');
  });
  test('Enter opens the job: spec, GPU UUIDs and state history', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'jobs', ENTER, '/', 'job-17', ENTER, ENTER);
    const f = frame();
    expect(f).toContain('job gpu01/job-17');
    expect(f).toContain('train on gpu01: RUNNING');
    expect(f).toContain('GPU-aaaa-0, GPU-aaaa-1');
    expect(f).toContain('HISTORY');
    expect(f).toMatch(/starting/);
    fits();
    await type(ESC);
    expect(frame()).toContain('job-17');
    expect(frame()).not.toContain('HISTORY');
  });
  test('the node view shows the job that owns a GPU process', async () => {
    const { frame, type } = await start();
    await type(ENTER);
    expect(frame()).toMatch(/4242 C +python train\.py +5\.0G +job-17/);
  });
});

describe('logs', () => {
  test('l follows the output live (stderr marked), t/w toggle, leaving disposes', async () => {
    const actions = new FakeFleetActions();
    actions.stored.set('gpu01/job-17', [
      { ts: T0, stream: 'stdout', line: 'epoch 1 loss 0.9' },
      { ts: T0 + 1, stream: 'stderr', line: 'warning: slow dataloader' },
    ]);
    const { frame, type, fits } = await start({ actions });
    await type(':', 'jobs', ENTER, '/', 'job-17', ENTER, 'l');
    await tick(150);
    expect(frame()).toContain('logs of job-17 train (running) · 2 lines');
    expect(frame()).toContain('epoch 1 loss 0.9');
    expect(frame()).toContain('! warning: slow dataloader');
    expect(actions.followerCount('gpu01', 'job-17')).toBe(1);
    actions.emit('gpu01', 'job-17', { ts: T0 + 2, stream: 'stdout', line: 'epoch 2 loss 0.5 '.repeat(10) });
    await tick(150);
    expect(frame()).toContain('epoch 2 loss 0.5');
    expect(frame()).toContain('…');
    await type('w');
    expect(frame()).toContain('wrap on');
    expect(frame()).not.toContain('…');
    await type('t');
    expect(frame()).toMatch(/\d\d:\d\d:\d\d\.\d{3} epoch 1 loss/);
    await type('s');
    expect(frame()).toContain('autoscroll off');
    fits();
    await type(ESC);
    expect(actions.followerCount('gpu01', 'job-17')).toBe(0);
    expect(actions.disposed).toBe(1);
  });
  test('a chatty job never grows the frame past the terminal', async () => {
    const actions = new FakeFleetActions();
    actions.stored.set('cpu01/f6canc00-0000-4000-8000-000000000006', Array.from({ length: 300 }, (_, i) => ({ ts: T0 + i, stream: 'stdout' as const, line: `row ${i} `.repeat(30) })));
    const { frame, type, fits } = await start({ actions }, { rows: 12, columns: 60 });
    await type(':', 'jobs', ENTER, '/', 'sweep', ENTER, 'l');
    await tick(150);
    expect(frame()).toContain('row 299');
    fits();
    await type('w');
    fits();
    await type('k');
    expect(frame()).not.toContain('row 299');
    expect(frame()).toContain('row 298');
    fits();
  });
});

describe('cancel', () => {
  test('ctrl-d asks first; n keeps the job, y cancels it on its node', async () => {
    const { frame, type, actions } = await start();
    await type(':', 'jobs', ENTER, '/', 'job-17', ENTER, CTRL_D);
    expect(frame()).toContain('Cancel job job-17 (train) on gpu01? y/n');
    await type('n');
    expect(frame()).not.toContain('y/n');
    expect(actions.cancelled).toEqual([]);
    await type(CTRL_D, 'y');
    await tick();
    expect(actions.cancelled).toEqual([{ node: 'gpu01', id: 'job-17' }]);
    expect(frame()).toContain('cancelling job job-17 on gpu01');
  });
  test('a finished job is not cancelled', async () => {
    const { frame, type, actions } = await start();
    await type(':', 'jobs', ENTER, '/', 'prep', ENTER, CTRL_D);
    expect(frame()).toContain('already succeeded');
    await type('y');
    expect(actions.cancelled).toEqual([]);
  });
  test('read-only, or no actions, hides ctrl-d and n', async () => {
    for (const props of [{ readonly: true }, { actions: undefined }]) {
      const { frame, type } = await start(props, { rows: 40, columns: 160 });
      await type(':', 'jobs', ENTER);
      expect(frame()).not.toContain('<ctrl+d>');
      await type(CTRL_D);
      expect(frame()).not.toContain('y/n');
      await type('n');
      expect(frame()).not.toContain('NEW JOB');
      await type('?');
      expect(frame()).not.toContain('cancel');
      expect(frame()).not.toContain('new job');
    }
  });
  test('with actions the footer offers them', async () => {
    const { frame, type } = await start({}, { rows: 24, columns: 160 });
    await type(':', 'jobs', ENTER, '/', 'job-17', ENTER);
    expect(frame()).toContain('<l> logs  <ctrl+d> cancel  <n> new job');
  });
  test('the footer shows only the keys that apply to the selected job: no logs before it started, no cancel once finished', async () => {
    const { frame, type } = await start({}, { rows: 24, columns: 160 });
    await type(':', 'jobs', ENTER);
    const footer = () => frame().split('\n').at(-1) ?? '';
    expect(frame()).toMatch(/^> gpu01 +a1queued +train-big +queued/m);
    expect(footer()).toContain('<ctrl+d> cancel  <n> new job');
    expect(footer()).not.toContain('<l> logs');
    await type('/', 'succeeded', ENTER);
    expect(frame()).toMatch(/^> \S+ +\S+ +\S* +succeeded/m);
    expect(footer()).toContain('<l> logs  <n> new job');
    expect(footer()).not.toContain('cancel');
  });
});

describe('submit', () => {
  test('n opens the form; the typed spec goes to submitJob on the chosen node', async () => {
    const { frame, type, actions, fits } = await start();
    await type(':', 'jobs', ENTER, 'n');
    expect(frame()).toContain('NEW JOB');
    expect(frame()).toMatch(/node +‹ gpu01 ›/);
    await type(`python -c 'print(1)'`, TAB, '1', TAB, '7', TAB, 'hello', ...Array(6).fill(SHIFT_TAB), RIGHT, RIGHT);
    expect(frame()).toMatch(/node +‹ mig01 ›/);
    fits();
    await type(ENTER);
    await tick();
    expect(actions.submitted).toEqual([{ node: 'mig01', spec: { driver: 'process', command: ['python', '-c', 'print(1)'], gpus: 1, priority: 7, name: 'hello' } }]);
    expect(frame()).not.toContain('NEW JOB');
    expect(frame()).toContain('submitted job new00000 on mig01');
  });
  test('the agent error is shown and the form stays open; Esc cancels', async () => {
    const actions = new FakeFleetActions();
    actions.refuse = 'needs 4 GPUs but the node has 2';
    const { frame, type } = await start({ actions });
    await type(':', 'jobs', ENTER, 'n', 'sleep 1', ENTER);
    await tick();
    expect(frame()).toContain('error: submit refused by gpu01: needs 4 GPUs but the node has 2');
    expect(frame()).toContain('NEW JOB');
    await type(ESC);
    expect(frame()).not.toContain('NEW JOB');
    expect(frame()).toContain('train-big');
  });
  test('a form the schema rejects is not sent', async () => {
    const { frame, type, actions } = await start();
    await type(':', 'jobs', ENTER, 'n', ENTER);
    expect(frame()).toContain('error: command is empty');
    expect(actions.submitted).toEqual([]);
  });
});

describe('size', () => {
  test.each([[24, 80], [10, 60], [8, 40]])('job views never exceed the terminal (%i×%i)', async (rows, columns) => {
    const actions = new FakeFleetActions();
    actions.stored.set('gpu01/job-17', Array.from({ length: 50 }, (_, i) => ({ ts: T0 + i, stream: 'stderr' as const, line: `e${i} `.repeat(40) })));
    const { type, fits } = await start({ actions }, { rows, columns });
    await type(':', 'jobs', ENTER);
    fits();
    await type('/', 'job-17', ENTER, ENTER);
    fits();
    await type('l');
    await tick(150);
    fits();
    await type('w');
    fits();
    await type(ESC, ESC, 'n');
    fits();
  });
});

