import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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
    expect(JSON.parse(body)).toEqual({ status: 'ok', service: 'fleetml-agent', pid: process.pid });
    const plain = new AgentClient({ url: `ws://127.0.0.1:${a.agent.port}/rpc`, token: a.token, reconnect: false, connectTimeoutMs: 2000 });
    await expect(plain.connect()).rejects.toBeDefined();
  });
});

// A rollout coordinator drives a wss:// peer whose certificate is self-signed when its config names that certificate
// (peers[].ca_file), and refuses the peer without it.
describe('TLS peers of a rollout coordinator', () => {
  let coord: Awaited<ReturnType<typeof inProcessAgent>> | null = null;
  afterAll(async () => { await coord?.close(); });
  it('reaches a self-signed peer with ca_file, and refuses it without', async () => {
    const certFile = join(t.dir, 'cert.pem');
    const tokenFile = join(t.dir, 'peer.token');
    writeFileSync(tokenFile, a.token, { mode: 0o600 });
    coord = await inProcessAgent({}, (cfg) => {
      cfg.peers = [{ name: 'trusted', url: a.agent.url, token_file: tokenFile, ca_file: certFile }, { name: 'untrusted', url: a.agent.url, token_file: tokenFile }];
    });
    const c = new AgentClient({ url: coord.agent.url, token: coord.token, reconnect: false });
    await c.connect();
    try {
      // a dry run asks each node for its versions: the TLS handshake with the peer must succeed for an answer
      const ok = await c.call('rollout.start', { name: 'nomodel', to: 'v2', nodes: ['trusted'], dry_run: true });
      expect(ok.rollout.warnings.join(' ')).toMatch(/node trusted has no version v2 of nomodel/);
      const bad = await c.call('rollout.start', { name: 'nomodel', to: 'v2', nodes: ['untrusted'], dry_run: true }).catch((e) => e);
      expect(bad.codeName).toBe('UNAVAILABLE');
      expect(bad.message).toMatch(/untrusted .*unreachable: .*(self[- ]signed|certificate)/i);
    } finally { await c.close(); }
  });
});
