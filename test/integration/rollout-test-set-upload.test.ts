import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../../shared/client/agent-client.js';
import { uploadTestSet } from '../../shared/client/test-set-upload.js';
import type { GateFigures, Rollout, TestSet } from '../../shared/protocol/index.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { inProcessAgent } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';
import { CREDIT } from '../helpers/drift.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// A gate's test set larger than the agents' frame limit (api.max_frame_bytes 64 KiB here, to keep it fast) goes
// through rollout.uploadTestSet in chunks — from the client library and from `fleetml rollout start --test-set` — and
// the gate scores every row: on the coordinator itself, and on a peer (the coordinator stages it there the same way).
type A = Awaited<ReturnType<typeof inProcessAgent>>;
const FRAME = 64 * 1024;
const ROWS = 3000;
let co: A; let peer: A;
const clients: AgentClient[] = [];
let testSet: TestSet;

const connect = async (a: A) => { const c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false, callTimeoutMs: 60_000 }); await c.connect(); clients.push(c); return c; };
async function gated(c: AgentClient, id: string): Promise<Rollout> {
  for (let i = 0; i < 300; i++) {
    const r = (await c.call('rollout.get', { id })).rollout;
    if (r.state !== 'gating') return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`rollout ${id} still gating`);
}
const gateOf = (r: Rollout) => r.decisions.find((d) => d.kind === 'gate')!;

beforeAll(async () => {
  const small = (cfg: { api: { max_frame_bytes: number } }) => { cfg.api.max_frame_bytes = FRAME; };
  peer = await inProcessAgent({ name: 'ts-peer', jobDriver: ['fake'] }, small);
  co = await inProcessAgent({ name: 'ts-co', jobDriver: ['fake'] }, (cfg) => { small(cfg); cfg.peers = [{ name: 'ts-peer', url: peer.agent.url, token: peer.token }]; });
  for (const a of [co, peer]) {
    const c = await connect(a);
    await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    await c.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
    await pushModel(c, 'credit', modelBytes('logreg.onnx'), { version: 'v2' });
  }
  // labelled by v1 itself (accuracy 1), in requests that fit the frame limit
  const rows = normalRows(mulberry32(5), ROWS, CREDIT.means, CREDIT.stds);
  const labels: number[] = [];
  for (let i = 0; i < rows.length; i += 300) {
    const part = rows.slice(i, i + 300);
    const probs = (await clients[0].call('model.infer', { name: 'credit', version: 'v1', inputs: [{ name: 'input', datatype: 'FP32', shape: [part.length, 4], data: part.flat() }] })).outputs[0].data as number[];
    labels.push(...probs.map((p) => (p >= 0.5 ? 1 : 0)));
  }
  testSet = { name: 'big.csv', rows, labels };
  expect(Buffer.byteLength(JSON.stringify(testSet))).toBeGreaterThan(3 * FRAME);
}, 120_000);
afterAll(async () => { for (const c of clients) await c.close(); await co?.close(); await peer?.close(); });

describe('a test set larger than one frame', () => {
  it('cannot travel inline: the agent closes the connection (1009)', async () => {
    const c = await connect(co);
    const e = await c.call('rollout.start', { name: 'credit', to: 'v2', gate: { test_set: testSet, metric: 'accuracy', bound: 0.9 } }).catch((x) => x);
    expect(e).toBeInstanceOf(Error);
    expect((await clients[0].call('rollout.list', {})).rollouts).toEqual([]);
  });

  it('is staged in chunks by the client library and the gate on a peer scores every row', async () => {
    const c = clients[0];
    const staged = await uploadTestSet((m, p) => c.call(m, p as never), testSet);
    expect(staged).toMatchObject({ name: 'big.csv', rows: ROWS });
    const { rollout } = await c.call('rollout.start', { name: 'credit', to: 'v2', nodes: ['ts-peer'], step_duration_s: 60, gate: { test_set_id: staged.id, metric: 'accuracy', bound: 0.9 } });
    expect(rollout.spec.gate!.test_set).toEqual({ name: 'big.csv', rows: ROWS });
    const r = await gated(c, rollout.id);
    const gate = gateOf(r);
    expect(gate.outcome, gate.reason).toBe('pass');
    const f = gate.figures as GateFigures;
    expect(f.node).toBe('ts-peer');
    expect(f.rows).toBe(ROWS);
    expect(f.candidate_all.rows).toBe(ROWS);
    expect(f.current_all!.rows).toBe(ROWS);
    expect(f.candidate).toBe(1);
    // used once: stored with the rollout, the staged set is gone (and another token never saw it)
    const again = await c.call('rollout.start', { name: 'credit', to: 'v2', dry_run: true, gate: { test_set_id: staged.id, metric: 'accuracy', bound: 0.9 } }).catch((x) => x);
    expect(again.data?.code).toBe('NOT_FOUND');
    await c.call('rollout.abort', { id: rollout.id });
  }, 60_000);

  it('goes through `fleetml rollout start --test-set FILE` and the gate scores every row of the file', async () => {
    const file = join(co.dir, 'big.csv');
    writeFileSync(file, ['f0,f1,f2,f3,label', ...testSet.rows.map((row, i) => [...row, testSet.labels[i]].join(','))].join('\n') + '\n');
    const res = await fleetml(['rollout', 'start', 'credit', '--to', 'v2', '--test-set', file, '--gate', 'accuracy>=0.9', '--step-duration', '60', '--url', co.agent.url, '--token', co.token, '-o', 'json'], {}, 60_000);
    expect(res.code, res.stderr).toBe(0);
    const id = JSON.parse(res.stdout).rollout.id as string;
    const r = await gated(clients[0], id);
    const gate = gateOf(r);
    expect(gate.outcome, gate.reason).toBe('pass');
    expect((gate.figures as GateFigures).rows).toBe(ROWS);
    expect((gate.figures as GateFigures).node).toBe('ts-co');
    expect(r.spec.gate!.test_set).toEqual({ name: 'big.csv', rows: ROWS });
    await clients[0].call('rollout.abort', { id });
  }, 60_000);
});
