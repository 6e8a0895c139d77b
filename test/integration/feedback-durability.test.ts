import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';
import { fleetml } from '../helpers/cli.js';

// The join store across kill -9: requests flushed before the kill and every label acknowledged survive; what was still
// in the buffer (at most the last second of requests) may be lost. Then the CLI: `fleetml feedback send` from a CSV
// file and the live performance in `fleetml model show`.
let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let port: number;
const args = ['--gpu-source', 'none', '--job-driver', 'fake'];
const connect = async () => { const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 }); await c.connect(); return c; };
const infer = (c: AgentClient, id: string, x: number) => c.call('model.infer', { name: 'lr', id, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [x, -x, x / 2, 1] }] });
beforeAll(async () => { tmp = tempDir(); port = await freePort(); agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'fd', args }); }, 60_000);
afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

describe('feedback across kill -9', () => {
  it('keeps the flushed requests and every acknowledged label; loses at most the unflushed buffer', async () => {
    let c = await connect();
    await pushModel(c, 'lr', modelBytes('logreg.onnx'), { version: 'v1' });
    const preds: number[] = [];
    for (let i = 0; i < 20; i++) preds.push((await infer(c, `a-${i}`, i / 5 - 2)).outputs[0].data[0] as number >= 0.5 ? 1 : 0);
    await new Promise((r) => setTimeout(r, 1500)); // one flush interval (1 s) and a margin
    const labelled = await c.call('model.feedback', { name: 'lr', labels: preds.slice(0, 10).map((p, i) => ({ id: `a-${i}`, label: i < 8 ? p : 1 - p })) });
    expect(labelled.matched).toBe(10);
    for (let i = 0; i < 5; i++) await infer(c, `b-${i}`, i);
    await c.close();
    await agent.stop('SIGKILL'); // b-* were answered less than a second ago: maybe still in the buffer
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'fd', args });
    c = await connect();
    const perf = (await c.call('model.performance', { name: 'lr', version: 'v1', window: '1h' })).versions[0];
    expect(perf).toMatchObject({ task: 'classification', accuracy: 0.8, labelled: 10 });
    expect(perf.requests).toBeGreaterThanOrEqual(20);
    expect(perf.requests).toBeLessThanOrEqual(25);
    expect(await c.call('model.feedback', { name: 'lr', labels: preds.map((p, i) => ({ id: `a-${i}`, label: p })) })).toEqual({ matched: 10, unknown: 0, already_labelled: 10 });
    const b = await c.call('model.feedback', { name: 'lr', labels: Array.from({ length: 5 }, (_, i) => ({ id: `b-${i}`, label: 1 })) });
    expect(b.matched + b.unknown).toBe(5);
    expect(b.matched).toBe(perf.requests - 20);
    await c.close();
  }, 60_000);

  it('fleetml feedback send --file labels.csv, then fleetml model show prints the live accuracy', async () => {
    const c = await connect();
    const preds: number[] = [];
    for (let i = 0; i < 6; i++) preds.push((await infer(c, `cli-${i}`, i - 3)).outputs[0].data[0] as number >= 0.5 ? 1 : 0);
    await c.close();
    const file = join(tmp.dir, 'labels.csv');
    writeFileSync(file, `id,label\n${preds.map((p, i) => `cli-${i},${i === 0 ? 1 - p : p}`).join('\n')}\nnot-a-request,1\n`);
    const env = { FLEETML_URL: agent.url, FLEETML_TOKEN: agent.token };
    const sent = await fleetml(['feedback', 'send', 'lr', '--file', file, '-o', 'json'], env);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ sent: 7, matched: 6, already_labelled: 0, unknown: 1 });
    const table = await fleetml(['feedback', 'send', 'lr', '--file', file], env);
    expect(table.stdout).toMatch(/7 labels: 0 matched, 6 already labelled, 1 unknown/);
    const bad = join(tmp.dir, 'bad.csv');
    writeFileSync(bad, 'id,label\nx-1,yes\n');
    const refused = await fleetml(['feedback', 'send', 'lr', '--file', bad], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/line 2: the label "yes" is not a number/);
    const req = join(tmp.dir, 'req.json');
    writeFileSync(req, JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    const inferred = await fleetml(['model', 'infer', 'lr', '--input', req, '--id', 'cli-infer-1'], env);
    expect(inferred.stdout).toMatch(/request id cli-infer-1/);
    expect((await fleetml(['model', 'infer', 'lr', '--input', req, '--id', 'has space'], env)).code).toBe(2);
    const show = await fleetml(['model', 'show', 'lr', '-o', 'json'], env);
    const v1 = JSON.parse(show.stdout).versions[0];
    // 20 a-*, the b-* that survived the kill (0-5), 6 cli-*
    expect(v1.performance).toMatchObject({ version: 'v1', task: 'classification' });
    expect(v1.performance.labelled).toBeGreaterThanOrEqual(26);
    expect(v1.performance.labelled).toBeLessThanOrEqual(31);
    const text = await fleetml(['model', 'show', 'lr'], env);
    expect(text.stdout).toMatch(/live\s+accuracy 0\.\d{3}\s+f1 0\.\d{3}\s+\(\d+ labelled of \d+ kept, 1h\)/);
  }, 60_000);
});
