import { describe, expect, test } from 'vitest';
import { FakeFleetActions, FakeFleetSource } from './fixtures.js';
import { DOWN, ENTER, ESC, renderApp, type AppProps } from './harness.js';

const start = (props: Partial<AppProps> = {}, size = { rows: 24, columns: 100 }) => renderApp({ actions: new FakeFleetActions(), ...props }, size);

describe(':models', () => {
  test('lists every version of every node with its serving figures', async () => {
    const { frame, type, fits } = await start();
    await type(':', 'models', ENTER);
    const f = frame();
    expect(f).toContain('4 versions of 2 models · 3 loaded · no model list yet from gpu03, gpu04');
    expect(f).toMatch(/NODE +NAME +VERSION +LOADED +REQ\/S +P50 \(QUEUE\/COMPUTE\) +P95 +ERRORS +(BATCH +)?SIZE +PUSHED/);
    expect(f).toMatch(/> gpu01 +bert-sentiment +0\.3\.1 +no +– +– +– +– +438M +\S+/);
    expect(f).toMatch(/gpu01 +resnet50 +2 +yes \(cuda\) +42 +6\.2ms \(350µs\/5\.8ms\) +15ms +3 +93M/);
    expect(f).toMatch(/gpu01 +resnet50 +1 +yes \(cuda\) +0\.4 +7\.9ms \(120µs\/7\.7ms\) +21ms +0 +93M/);
    // Loaded a moment ago on mig01: figures unknown render as "–", not 0.
    expect(f).toMatch(/mig01 +resnet50 +2 +yes \(cpu\) +– +– +– +0 +93M/);
    fits();
  });
  test('a wide terminal shows the live accuracy of labelled versions (fleetml feedback send)', async () => {
    const { frame, type, fits } = await start({}, { rows: 24, columns: 120 });
    await type(':', 'models', ENTER);
    expect(frame()).toMatch(/ERRORS +LIVE +SIZE +PUSHED/);
    expect(frame()).toMatch(/gpu01 +resnet50 +2 +yes \(cuda\) +42 +6\.2ms \(350µs\/5\.8ms\) +15ms +3 +acc 0\.750 +93M/);
    fits();
  });
  test('aliases :model and :mo', async () => {
    for (const alias of ['model', 'mo']) {
      const { frame, type } = await start();
      await type(':', alias, ENTER);
      expect(frame()).toContain('bert-sentiment');
    }
  });
  test('/ filters on node, name@version, provider and lineage', async () => {
    const { frame, type } = await start();
    await type(':', 'models', ENTER, '/', 'mig01', ENTER);
    expect(frame()).toContain('models (filter: mig01)');
    expect(frame()).toMatch(/mig01 +resnet50/);
    expect(frame()).not.toMatch(/gpu01 +resnet50/);
    await type(ESC, '/', 'resnet50@1', ENTER);
    expect(frame()).toMatch(/gpu01 +resnet50 +1/);
    expect(frame()).not.toContain('bert-sentiment');
    await type(ESC, '/', 'nomatch', ENTER);
    expect(frame()).toContain('no model matches "nomatch"');
  });
  test('Enter opens the version: signature, lineage, hash and figures; Esc goes back', async () => {
    const { frame, type, fits } = await start({}, { rows: 40, columns: 100 });
    await type(':', 'models', ENTER, DOWN, ENTER);
    const f = frame();
    expect(f).toContain('model gpu01/resnet50@2');
    expect(f).toContain('resnet50@2 on gpu01: LOADED (cuda)');
    expect(f).toMatch(/inputs +input +float32 +\[batch, 3, 224, 224\]/);
    expect(f).toMatch(/outputs +logits +float32 +\[batch, 1000\]/);
    expect(f).toContain('commit      9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d');
    expect(f).toContain('dataset     ab12cd34ef56 imagenet-train-2024.tar');
    expect(f).toContain('top1=0.802');
    expect(f).toContain(`sha256      ${'c2'.padEnd(64, 'f')}`);
    expect(f).toMatch(/by bob/);
    expect(f).toContain('p50 6.2ms (queue 350µs · compute 5.8ms) · p95 15ms');
    fits();
    await type(ESC);
    expect(frame()).toContain('4 versions of 2 models');
  });
  test('unknown figures and lineage render as "–" in the detail view', async () => {
    const { frame, type } = await start({}, { rows: 40, columns: 100 });
    await type(':', 'models', ENTER, '/', 'mig01', ENTER, ENTER);
    expect(frame()).toContain('resnet50@2 on mig01: LOADED (cpu)');
    expect(frame()).toContain('latency     p50 – (queue – · compute –) · p95 –');
    await type(':', 'models', ENTER, '/', 'bert', ENTER, ENTER);
    expect(frame()).toContain('commit      –');
    expect(frame()).toContain('figures     – (not loaded)');
  });
  test('no models yet: says how to push one', async () => {
    const src = new FakeFleetSource();
    src.nodes = src.nodes.map((n) => ({ ...n, models: n.models && [], modelStats: n.modelStats && [] }));
    const { frame, type } = await start({ source: src });
    await type(':', 'models', ENTER);
    expect(frame()).toContain('no models yet');
  });
  test('without FleetActions the models views offer no mutating key (load, unload, traffic, rollout)', async () => {
    const { frame, type } = await start({ actions: undefined });
    await type(':', 'models', ENTER, '?');
    const keys = frame().split('COMMANDS')[0];
    expect(keys).toContain('<enter>          open');
    expect(keys).not.toMatch(/new job|cancel|logs|dangerous|load|traffic|rollout/);
    await type(ESC, 'n');
    expect(frame()).not.toContain('NEW JOB');
    await type('l');
    expect(frame()).not.toContain('y/n');
  });
  test('help lists the new views', async () => {
    const { frame, type } = await start({}, { rows: 60, columns: 100 });
    await type('?');
    expect(frame()).toMatch(/:models :model :mo +models view/);
    expect(frame()).toMatch(/:model-detail :md NODE\/NAME@VERSION +model-detail view/);
  });
  test.each([[24, 80], [10, 60], [8, 40]])('model views never exceed the terminal (%i×%i)', async (rows, columns) => {
    const { type, fits, frame } = await start({}, { rows, columns });
    await type(':', 'models', ENTER);
    fits();
    await type(DOWN, ENTER);
    fits();
    expect(frame()).toContain('resnet50@2');
    for (let i = 0; i < 30; i++) await type(DOWN);
    fits();
    await type(ESC, '?');
    fits();
  });
});
