import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import { AgentClient } from '../../shared/client/agent-client.js';
import { inProcessAgent, tempDir } from '../helpers/agent.js';

// TLS: with a cert and key configured the agent serves wss:// and https:// only.
let a: Awaited<ReturnType<typeof inProcessAgent>>;
let t: ReturnType<typeof tempDir>;
let ca: string;
beforeAll(async () => {
  t = tempDir();
  const key = join(t.dir, 'key.pem'), cert = join(t.dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=fleetml-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  ca = readFileSync(cert, 'utf8');
  a = await inProcessAgent({ tlsCert: cert, tlsKey: key });
});
afterAll(async () => { await a?.close(); t?.cleanup(); });

describe('TLS', () => {
  it('announces a wss:// URL and accepts a client that trusts the CA', async () => {
    expect(a.agent.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/rpc$/);
    const c = new AgentClient({ url: a.agent.url, token: a.token, ca, reconnect: false });
    await c.connect();
    expect((await c.call('auth.whoami')).role).toBe('admin');
    await c.close();
  });
  it('refuses a client that does not trust the certificate', async () => {
    const c = new AgentClient({ url: a.agent.url, token: a.token, reconnect: false });
    await expect(c.connect()).rejects.toThrow(/self[- ]signed|certificate/i);
  });
  it('serves health over https and nothing over plain ws', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https.get(`https://127.0.0.1:${a.agent.port}/healthz`, { ca }, (res) => { let s = ''; res.on('data', (d) => { s += d; }); res.on('end', () => resolve(s)); }).on('error', reject);
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
    const plain = new AgentClient({ url: `ws://127.0.0.1:${a.agent.port}/rpc`, token: a.token, reconnect: false, connectTimeoutMs: 2000 });
    await expect(plain.connect()).rejects.toBeDefined();
  });
});
