import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { inProcessAgent } from '../helpers/agent.js';

// The README's "script without the client library" must keep working against a real agent.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
beforeAll(async () => { a = await inProcessAgent({}); });
afterAll(async () => { await a.close(); });

describe('README example: plain WebSocket + JSON', () => {
  it('connects, reads node.info, subscribes and prints three samples', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [join(__dirname, '..', '..', 'docs', 'examples', 'plain-ws.mjs')], { env: { ...process.env, FLEETML_URL: a.agent.url, FLEETML_TOKEN: a.token }, timeout: 15_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    expect(out).toContain('connected to test-node as admin');
    expect(out).toMatch(/test-node: \d+ cores, 2 GPU\(s\) via sim \(simulated\)/);
    expect(out.match(/^seq \d+: cpu/gm)).toHaveLength(3);
  });
});
