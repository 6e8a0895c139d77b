import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, tempDir } from '../helpers/agent.js';
import { modelBytes, pushModel } from '../helpers/models.js';

// kill -9 in the middle of an upload leaves nothing half-written; a committed version survives kill -9.
let tmp: ReturnType<typeof tempDir>;
let agent: AgentProcess;
let port: number;
const args = ['--gpu-source', 'none', '--job-driver', 'fake'];
const connect = async () => { const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false, callTimeoutMs: 30_000 }); await c.connect(); return c; };
beforeAll(async () => { tmp = tempDir(); port = await freePort(); agent = await spawnAgent({ dataDir: join(tmp.dir, 'a'), port, name: 'md', args }); }, 60_000);
afterAll(async () => { await agent?.stop(); tmp?.cleanup(); });

describe('model uploads across kill -9', () => {
  it('sweeps an interrupted upload and refuses to continue it', async () => {
    let c = await connect();
    const bytes = modelBytes('mlp.onnx');
    const first = await c.call('model.push', { name: 'mlp', offset: 0, data_b64: bytes.subarray(0, 100_000).toString('base64'), final: false });
    expect(first.received_bytes).toBe(100_000);
    expect(readdirSync(join(agent.dataDir, 'models', 'uploads'))).toHaveLength(1);
    await c.close();
    await agent.stop('SIGKILL');
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'md', args });
    c = await connect();
    expect(readdirSync(join(agent.dataDir, 'models', 'uploads'))).toEqual([]);
    expect((await c.call('model.list', {})).models).toEqual([]);
    const cont = await c.call('model.push', { name: 'mlp', upload_id: first.upload_id, offset: 100_000, data_b64: bytes.subarray(100_000, 200_000).toString('base64'), final: false }).catch((x) => x);
    expect(cont.codeName).toBe('NOT_FOUND');
    expect(cont.message).toMatch(/start again from offset 0/);
    // a full push now works, and the committed version survives another kill -9
    const r = await pushModel(c, 'mlp', bytes);
    expect(r.model!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    await c.close();
    await agent.stop('SIGKILL');
    agent = await spawnAgent({ dataDir: agent.dataDir, port, name: 'md', args });
    c = await connect();
    const [v] = (await c.call('model.list', { name: 'mlp' })).models;
    expect(v).toMatchObject({ version: 'v1', sha256: r.model!.sha256 });
    const out = await c.call('model.infer', { name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => i / 64) }] });
    expect(out.outputs.length).toBeGreaterThan(0);
    await c.close();
  }, 90_000);
});
