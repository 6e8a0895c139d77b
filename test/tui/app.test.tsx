import { describe, expect, test, vi } from 'vitest';
import { KEYMAP, type KeyBinding } from '../../tui/keymap.js';
import { FakeFleetSource, a5000, fleet } from './fixtures.js';
import { DOWN, ENTER, ESC, renderApp as start, tick } from './harness.js';

describe('cluster view', () => {
  test('lists every node, marks unreachable/unauthorized and simulated', async () => {
    const { frame } = await start();
    const f = frame();
    for (const n of ['gpu01', 'cpu01', 'gpu03', 'gpu04', 'mig01', 'sim01']) expect(f).toContain(n);
    expect(f).toContain('UNREACHABLE 5s');
    expect(f).toContain('ECONNREFUSED');
    expect(f).toContain('UNAUTHORIZED');
    expect(f).toMatch(/sim01 .*SIM/);
    expect(f).toContain('No GPU: ');
    expect(f).toContain('fleetml · lab · 6 nodes · 4 up · 2 down · 5 GPUs · 1 SIM');
  });
  test('the footer is generated from the keymap', async () => {
    const { frame } = await start();
    expect(frame().split('\n').at(-1)).toContain('<:> command  </> filter  <enter> open');
  });
});

describe('navigation', () => {
  test('Enter drills into the selected node: GPUs and processes; Esc goes back', async () => {
    const { frame, type } = await start();
    await type(ENTER);
    const f = frame();
    expect(f).toContain('node gpu01');
    expect(f).toContain('RTX A5000');
    expect(f).toMatch(/0 +4242 C +python train\.py +5\.0G/);
    expect(f).toMatch(/1 +4242 C +python train\.py +19\.5G/);
    expect(f).toContain('Xorg');
    expect(f).toContain('CUDA 12.4');
    await type(ESC);
    expect(frame()).toContain('UNREACHABLE');
    expect(frame()).not.toContain('python train.py');
  });
  test('arrow keys move the selection before drilling in', async () => {
    const { frame, type } = await start();
    await type(DOWN, ENTER);
    expect(frame()).toContain('No GPU: no NVIDIA driver');
  });
  test('drilling into an unreachable node shows the error', async () => {
    const { frame, type } = await start();
    await type('j', 'j', ENTER);
    expect(frame()).toContain('UNREACHABLE 5s: connect ECONNREFUSED');
  });
  test(':node NAME opens that node; :nodes returns', async () => {
    const { frame, type } = await start();
    await type(':', 'node mig01');
    expect(frame()).toContain(':node mig01');
    await type(ENTER);
    expect(frame()).toContain('MIG×1 A100');
    await type(':', 'no', ENTER);
    expect(frame()).toContain('gpu04');
    expect(frame()).not.toContain('MIG×1 A100');
  });
  test('an unknown command says what to try', async () => {
    const { frame, type } = await start();
    await type(':', 'jobz', ENTER);
    expect(frame()).toContain('unknown command "jobz"');
  });
  test(':node with an unknown name says so', async () => {
    const { frame, type } = await start();
    await type(':', 'node nope', ENTER);
    expect(frame()).toContain('node "nope" not found');
  });
});

describe('filter', () => {
  test('/ narrows rows, ! inverts, Esc clears', async () => {
    const { frame, type } = await start();
    await type('/', 'gpu0');
    expect(frame()).toContain('/gpu0');
    expect(frame()).not.toContain('cpu01');
    expect(frame()).toContain('gpu03');
    await type(ENTER);
    expect(frame()).toContain('cluster (filter: gpu0)');
    await type(ESC);
    expect(frame()).toContain('cpu01');
    await type('/', '!gpu', ENTER);
    expect(frame()).toContain('cpu01');
    expect(frame()).not.toContain('gpu01 ');
  });
  test('Enter after filtering opens the filtered row', async () => {
    const { frame, type } = await start();
    await type('/', 'sim', ENTER, ENTER);
    expect(frame()).toContain('node sim01');
    expect(frame()).toContain('SIMULATED');
    expect(frame()).toContain('SIM RTX A5000');
  });
});

describe('help', () => {
  test('? shows help generated from the keymap; ? again closes it', async () => {
    const { frame, type } = await start();
    await type('?');
    for (const b of KEYMAP.filter((x) => !x.views)) expect(frame()).toContain(b.description);
    expect(frame()).toContain(':nodes');
    await type('?');
    expect(frame()).toContain('gpu01');
    expect(frame()).not.toContain('COMMANDS');
  });
});

describe('read-only', () => {
  const keymap: KeyBinding[] = [...KEYMAP, { keys: ['ctrl+d'], description: 'drain', action: 'drain', dangerous: true, footer: true }];
  test('dangerous keys are hidden from footer and help in read-only mode', async () => {
    const rw = await start({ keymap }, { rows: 24, columns: 120 });
    expect(rw.frame()).toContain('drain');
    const ro = await start({ keymap, readonly: true }, { rows: 24, columns: 120 });
    expect(ro.frame()).toContain('READ-ONLY');
    expect(ro.frame()).not.toContain('drain');
    await ro.type('?');
    expect(ro.frame()).not.toContain('drain');
  });
});

describe('size', () => {
  test.each([[24, 80], [10, 60], [40, 160], [6, 40]])('never renders more than rows-1 lines or wider than columns (%i×%i)', async (rows, columns) => {
    const { frame, type } = await start({}, { rows, columns });
    const check = () => {
      const lines = frame().split('\n');
      expect(lines.length).toBeLessThanOrEqual(rows - 1);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
    };
    check();
    await type(ENTER);
    check();
    await type(ESC, '?');
    check();
  });
  test('scrolls the selection into view with many nodes', async () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ ...a5000(), name: `n${String(i).padStart(3, '0')}` }));
    const { frame, type } = await start({ source: new FakeFleetSource(many) }, { rows: 12, columns: 80 });
    expect(frame().split('\n').length).toBeLessThanOrEqual(11);
    await type('G');
    expect(frame()).toContain('> n199');
    expect(frame()).not.toContain('n000');
  });
  test('a tiny terminal gets a one-line notice', async () => {
    const { frame } = await start({}, { rows: 4, columns: 30 });
    expect(frame()).toContain('terminal too small');
  });
});

describe('updates', () => {
  test('source changes are batched into the view; unsubscribes on unmount', async () => {
    const source = new FakeFleetSource(fleet());
    const { frame, unmount } = await start({ source });
    expect(source.listenerCount).toBe(1);
    const up = { ...fleet()[2], conn: 'up' as const, error: null, retryInMs: null, stats: a5000().stats };
    source.set([fleet()[0], fleet()[1], up]);
    source.set([fleet()[0], fleet()[1], up]);
    await tick(300);
    expect(frame()).not.toContain('UNREACHABLE');
    unmount();
    expect(source.listenerCount).toBe(0);
  });
  test('q quits and calls onQuit', async () => {
    const onQuit = vi.fn();
    const { type } = await start({ onQuit });
    await type('q');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });
  test(':q quits too', async () => {
    const onQuit = vi.fn();
    const { type } = await start({ onQuit });
    await type(':', 'q', ENTER);
    expect(onQuit).toHaveBeenCalledTimes(1);
  });
});
