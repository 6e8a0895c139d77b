import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../shared/client/agent-client.js';
import { mulberry32, normalRows } from '../../shared/util/prng.js';
import { modelBytes, modelFile, pushModel } from '../helpers/models.js';
import { CREDIT, csvOf, sendRows } from '../helpers/drift.js';
import { agentWith, untilRun } from '../helpers/automation.js';

// An automation whose rollout spans two agents: the candidate trained on the coordinator is pushed to the other node
// (verified there like any upload, with the same lineage) and promoted on both.
type A = Awaited<ReturnType<typeof agentWith>>;
let co: A;
let peer: A;
const rnd = mulberry32(21);
let on = false;
let loops: Promise<void>[] = [];
const traffic = (cs: AgentClient[]) => { on = true; loops = cs.map(async (c) => { while (on) { await sendRows(c, 'credit', normalRows(rnd, 20, CREDIT.means, CREDIT.stds), 20).catch(() => undefined); await new Promise((r) => setTimeout(r, 5)); } }); };

beforeAll(async () => {
  peer = await agentWith({}, { name: 'peer' });
  co = await agentWith({}, { name: 'co' }, (cfg) => { cfg.peers = [{ name: 'peer', url: peer.agent.url, token: peer.token }]; });
  for (const a of [co, peer]) {
    await pushModel(a.client, 'credit', modelBytes('logreg.onnx'), { version: 'v1' });
    await a.client.call('model.alias', { name: 'credit', targets: [{ version: 'v1', weight: 100 }] });
  }
  const data = join(co.work, 'train.csv');
  writeFileSync(data, csvOf([...CREDIT.names, 'label'], normalRows(rnd, 50, CREDIT.means, CREDIT.stds).map((r) => [...r, 1])), { mode: 0o644 });
  await co.client.call('auto.create', { spec: { name: 'credit-fleet', model: 'credit', trigger: { kind: 'manual' }, data: { file: data }, nodes: ['co', 'peer'],
    job: { driver: 'process', command: ['sh', '-c', `cp ${modelFile('logreg.onnx')} "$FLEETML_OUTPUT"`] },
    rollout: { strategy: 'canary', steps: [50, 100], step_duration_s: 1.5, analysis: { min_requests: 20, max_waits: 10, max_p95_ratio: 50 } } } });
}, 60_000);
afterAll(async () => { on = false; await Promise.all(loops); await co?.close(); await peer?.close(); });

describe('an automation across nodes', () => {
  it('pushes the candidate to the rollout\'s other node and promotes it on both', async () => {
    traffic([co.client, peer.client]);
    const { run } = await co.client.call('auto.run', { name: 'credit-fleet' });
    const done = await untilRun(co.client, 'credit-fleet', undefined, 60_000);
    on = false; await Promise.all(loops);
    expect(done.state, done.history.map((h) => `${h.state}: ${h.reason}`).join(' | ')).toBe('succeeded');
    expect(done.history.map((h) => h.reason)).toContain(`registered credit auto-${run.id} (parent v1); pushed to peer`);
    const v = (await peer.client.call('model.get', { name: 'credit', version: `auto-${run.id}` })).versions[0];
    expect(v.lineage).toMatchObject({ dataset_sha256: done.data_digest, meta: { automation: 'credit-fleet', run_id: run.id, job_id: done.job_id } });
    expect(v.pushed_by).toMatch(/^admin/); // the peer's token in the coordinator's peers config
    for (const a of [co, peer]) expect((await a.client.call('model.history', { name: 'credit', limit: 1 })).events[0].targets).toEqual([{ version: `auto-${run.id}`, weight: 100 }]);
  }, 90_000);
});
