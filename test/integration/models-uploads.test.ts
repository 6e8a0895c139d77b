import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../shared/client/agent-client.js';
import { clientWithNewToken, inProcessAgent } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// Unfinished chunked uploads are bounded per token (uploads.max_per_token) and per node (uploads.max_total), and an
// upload left idle past uploads.expiry_s is removed with its temporary file: abandoned pushes cannot fill the disk.
const bytes = modelBytes('mlp.onnx');
const half = bytes.subarray(0, 1024);
const sha = createHash('sha256').update(bytes).digest('hex');
const open = async (c: AgentClient, name: string) => (await c.call('model.push', { name, offset: 0, data_b64: half.toString('base64'), final: false })).upload_id;
const refusal = (c: AgentClient, name: string) => open(c, name).then(() => null, (e) => e);

describe('upload caps', () => {
  let a: Awaited<ReturnType<typeof inProcessAgent>>;
  let alice: AgentClient, bob: AgentClient;
  beforeAll(async () => {
    a = await inProcessAgent({ jobDriver: ['fake'], gpuSource: 'none', gpuFixture: [] }, (cfg) => { cfg.uploads = { max_per_token: 2, max_total: 3, expiry_s: 3600 }; });
    const url = { url: a.agent.url, token: a.token };
    alice = (await clientWithNewToken(url, 'alice', 'operate')).client;
    bob = (await clientWithNewToken(url, 'bob', 'operate')).client;
    await pushModel(alice, 'ref', modelBytes('logreg.onnx')); // for the reference uploads below
  });
  afterAll(async () => { await alice?.close(); await bob?.close(); await a?.close(); });

  it('refuses one upload too many per token, lets another token go on up to the total, and frees a slot when one finishes', async () => {
    const first = await open(alice, 'm1');
    await open(alice, 'm2');
    const e = await refusal(alice, 'm3');
    expect(e?.codeName).toBe('OVERLOADED');
    expect(e.message).toMatch(/uploads\.max_per_token 2/);
    expect(e.message).toMatch(/finish one/);
    expect(e.data).toMatchObject({ limit: 'uploads.max_per_token', max: 2 });

    await open(bob, 'm4'); // bob has none: allowed, and the node now holds its total of 3
    const total = await refusal(bob, 'm5');
    expect(total?.codeName).toBe('OVERLOADED');
    expect(total.message).toMatch(/uploads\.max_total 3/);
    expect(total.data).toMatchObject({ limit: 'uploads.max_total', max: 3 });

    // alice finishes her first upload: the slot is free again (for bob too, as the total was the limit)
    const done = await alice.call('model.push', { name: 'm1', upload_id: first, offset: half.length, data_b64: bytes.subarray(half.length).toString('base64'), final: true, sha256: sha });
    expect(done.model?.sha256).toBe(sha);
    await open(bob, 'm5');
    expect(readdirSync(join(a.dir, 'models', 'uploads'))).toHaveLength(3);
  });

  it('caps unfinished drift reference uploads the same way (counted apart from model uploads)', async () => {
    const ref = (c: AgentClient) => c.call('drift.setReference', { name: 'ref', format: 'csv', data: 'a,b,c,d\n1,2,3,4\n', final: false });
    // alice holds 2 unfinished model uploads: reference uploads have their own count
    await ref(alice);
    await ref(alice);
    const e = await ref(alice).catch((x) => x);
    expect(e?.codeName).toBe('OVERLOADED');
    expect(e.message).toMatch(/reference uploads.*uploads\.max_per_token 2/);
    await ref(bob);
    expect((await ref(bob).catch((x) => x))?.data).toMatchObject({ limit: 'uploads.max_total', max: 3 });
  });
});

describe('upload expiry', () => {
  let a: Awaited<ReturnType<typeof inProcessAgent>>;
  let c: AgentClient;
  beforeAll(async () => {
    a = await inProcessAgent({ jobDriver: ['fake'], gpuSource: 'none', gpuFixture: [] }, (cfg) => { cfg.uploads = { max_per_token: 1, max_total: 32, expiry_s: 1 }; });
    c = (await clientWithNewToken({ url: a.agent.url, token: a.token }, 'pusher', 'operate')).client;
  });
  afterAll(async () => { await c?.close(); await a?.close(); });

  it('removes an upload idle past uploads.expiry_s from disk without any further call, refuses its id, and frees its slot', async () => {
    const id = await open(c, 'idle');
    const part = join(a.dir, 'models', 'uploads', `${id}.part`);
    expect(existsSync(part)).toBe(true);
    expect((await refusal(c, 'other'))?.codeName).toBe('OVERLOADED'); // max_per_token 1
    const end = Date.now() + 5000;
    while (existsSync(part) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(part)).toBe(false); // the expiry timer removed it
    const e = await c.call('model.push', { name: 'idle', upload_id: id, offset: half.length, data_b64: half.toString('base64'), final: false }).catch((x) => x);
    expect(e.codeName).toBe('NOT_FOUND');
    expect(e.message).toMatch(/expired/);
    expect(await open(c, 'other')).toMatch(/^u_/); // the slot is free
  });
});
