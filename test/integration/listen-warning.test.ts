import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { loadConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { createLogger } from '../../agent/log.js';
import { AgentClient } from '../../shared/client/agent-client.js';
import { freePort, tempDir } from '../helpers/agent.js';

// An agent that listens beyond loopback without TLS says so: a warn line in its JSON log at start-up and the same
// text in node.info `warnings`. On loopback, or with TLS, it says nothing.
const t = tempDir();
const procs: AgentProcess[] = [];
const fds: number[] = [];
afterAll(async () => { for (const p of procs) await p.stop(); for (const fd of fds) closeSync(fd); t.cleanup(); });

const logLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
const plaintextWarnings = (file: string) => logLines(file).filter((l) => l.warning === 'plaintext_network_listen');
const info = async (url: string, token: string, ca?: string) => {
  const c = new AgentClient({ url, token, reconnect: false, ...(ca ? { ca } : {}) });
  await c.connect();
  try { return await c.call('node.info'); } finally { await c.close(); }
};

describe('listening beyond loopback', () => {
  it('warns in the log (level warn, journald-friendly JSON) and in node.info on 0.0.0.0 without TLS', async () => {
    const a = await spawnAgent({ dataDir: join(t.dir, 'open'), port: await freePort(), host: '0.0.0.0', name: 'open', args: ['--gpu-source', 'none', '--job-driver', 'fake'] });
    procs.push(a);
    const lines = plaintextWarnings(a.logFile);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, subsystem: 'api', tls: false, listen: `0.0.0.0:${a.port}` });
    expect(lines[0].msg).toMatch(/not a loopback address, without TLS/);
    const i = await info(`ws://127.0.0.1:${a.port}/rpc`, a.token);
    expect(i.warnings).toEqual([lines[0].msg]);
  });

  it('says nothing on 127.0.0.1', async () => {
    const a = await spawnAgent({ dataDir: join(t.dir, 'lo'), port: await freePort(), name: 'lo', args: ['--gpu-source', 'none', '--job-driver', 'fake'] });
    procs.push(a);
    expect(logLines(a.logFile).some((l) => l.msg === 'agent listening')).toBe(true);
    expect(plaintextWarnings(a.logFile)).toEqual([]);
    expect((await info(a.url, a.token)).warnings).toEqual([]);
  });

  it('says nothing on 0.0.0.0 with TLS', async () => {
    const key = join(t.dir, 'key.pem'), cert = join(t.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=fleetml-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const dataDir = join(t.dir, 'tls');
    const logFile = join(t.dir, 'tls.log');
    const fd = openSync(logFile, 'a');
    fds.push(fd); // closed after the file: the server may log a disconnect after stop() returns
    const agent = await startAgent(loadConfig({ listen: '0.0.0.0:0', dataDir, name: 'tls', gpuSource: 'none', jobDriver: ['fake'], tlsCert: cert, tlsKey: key }, {}), createLogger('info', fd));
    try {
      expect(agent.url).toMatch(/^wss:/);
      const i = await info(`wss://127.0.0.1:${agent.port}/rpc`, readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(), readFileSync(cert, 'utf8'));
      expect(i.warnings).toEqual([]);
    } finally { await agent.stop(); }
    expect(logLines(logFile).some((l) => l.msg === 'agent listening')).toBe(true);
    expect(plaintextWarnings(logFile)).toEqual([]);
  });
});
