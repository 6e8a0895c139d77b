// The README's Models, ground truth, Drift and Rollouts examples, run as written (bash, `fleetml` from bin/ on PATH)
// against a real agent named gpu-01 labelled gpu=a100, in a directory holding the files they name. Only `ID` (the
// rollout id `rollout start` printed) and the agent's port are filled in; `rollout watch` (it waits for the end of a
// 15-minute rollout) is left out. A README edit that breaks an example fails here with the line.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join, delimiter } from 'node:path';
import * as ort from 'onnxruntime-node';
import { packageRoot } from '../../shared/util/package-root.js';
import { mulberry32, gaussian } from '../../shared/util/prng.js';
import { spawnAgent, type AgentProcess } from '../../scripts/lib/agent-process.js';
import { tempDir, freePort, fixture } from '../helpers/agent.js';
import { fleetml } from '../helpers/cli.js';
import { AgentClient } from '../../shared/client/agent-client.js';

const root = packageRoot();
const model = (f: string) => join(root, 'test', 'fixtures', 'models', f);
const README = readFileSync(join(root, 'README.md'), 'utf8');

/** The command lines of the sh block that follows the paragraph starting with `lead`. */
export function exampleLines(markdown: string, lead: string): string[] {
  const at = markdown.indexOf(`\n${lead}`);
  if (at < 0) throw new Error(`README has no paragraph starting "${lead}"`);
  const open = markdown.indexOf('```sh\n', at);
  const body = markdown.slice(open + 6, markdown.indexOf('\n```', open + 6));
  return body.split('\n').map(stripComment).filter((l) => l.trim());
}

/** A line without its trailing `# comment` (a # outside quotes, after a blank). */
export function stripComment(line: string): string {
  let q: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) { if (c === q) q = null; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

const tmp = tempDir('fleetml-readme-');
const work = join(tmp.dir, 'work');
let agent: AgentProcess;
let env: NodeJS.ProcessEnv;

const bash = (line: string, timeoutMs = 60_000) => new Promise<{ code: number | null; out: string }>((resolve) => {
  const c = spawn('bash', ['-c', `set -e; ${line}`], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.on('data', (d) => { out += d; });
  c.stderr.on('data', (d) => { out += d; });
  const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
  c.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
});

beforeAll(async () => {
  mkdirSync(work, { recursive: true });
  const port = await freePort();
  agent = await spawnAgent({
    dataDir: join(tmp.dir, 'data'), port, name: 'gpu-01',
    args: ['--label', 'gpu=a100', '--gpu-source', 'sim', '--gpu-fixture', fixture('rtx-a5000-2gpu-590.44-procs-q-x.xml'), '--job-driver', 'fake'],
  });
  env = {
    ...process.env, HOME: tmp.dir, PATH: `${join(root, 'bin')}${delimiter}${process.env.PATH}`,
    FLEETML_URL: agent.url, FLEETML_TOKEN: agent.token, FLEETML_INVENTORY: '', FLEETML_TOKEN_FILE: '', FLEETML_DATA_DIR: agent.dataDir,
  };
  // the files the examples name: three versions of one 4-feature scorer, its training data, a request, its label,
  // and a labelled hold-out set on which the candidate (v2) passes the gate
  copyFileSync(model('logreg.onnx'), join(work, 'fraud.onnx'));
  copyFileSync(model('logreg-drifted.onnx'), join(work, 'fraud-v2.onnx'));
  copyFileSync(model('logreg-slow.onnx'), join(work, 'fraud-v3.onnx'));
  const g = gaussian(mulberry32(14));
  const rows = Array.from({ length: 400 }, () => [g(), g(), g(), g()]);
  writeFileSync(join(work, 'train.csv'), ['amount,age,hour,merchant_risk', ...rows.slice(0, 300).map((r) => r.map((x) => x.toFixed(5)).join(','))].join('\n') + '\n');
  const hold = rows.slice(300);
  const s = await ort.InferenceSession.create(model('logreg-drifted.onnx'));
  const y = (await s.run({ input: new ort.Tensor('float32', Float32Array.from(hold.flat()), [hold.length, 4]) })).output!.data as Float32Array;
  await s.release();
  writeFileSync(join(work, 'holdout.csv'), ['amount,age,hour,merchant_risk,label', ...hold.map((r, i) => `${r.map((x) => x.toFixed(5)).join(',')},${y[i]! >= 0.5 ? 1 : 0}`)].join('\n') + '\n');
  writeFileSync(join(work, 'request.json'), JSON.stringify({ id: 'order-17', inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [0.4, -1.2, 0.3, 2.1] }] }));
  writeFileSync(join(work, 'labels.csv'), 'id,label\norder-17,1\n');
}, 60_000);

afterAll(async () => { await agent?.stop('SIGKILL'); tmp.cleanup(); });

describe('README examples, run as written against a real agent', () => {
  const blocks = ['Models (', 'Ground truth and live performance', 'Drift (', 'Rollouts ('];

  it('finds the example blocks', () => {
    for (const b of blocks) expect(exampleLines(README, b).length, b).toBeGreaterThan(0);
    expect(stripComment(`fleetml x --gate "a#b" # note`)).toBe('fleetml x --gate "a#b"');
  });

  it('every line of the Models, ground truth, Drift and Rollouts blocks exits 0, and the rollout ends on v2', async () => {
    let rolloutId = '';
    const failed: string[] = [];
    for (const b of blocks) {
      for (const written of exampleLines(README, b)) {
        if (/\brollout watch\b/.test(written)) continue;
        const line = written.replace(/\bID\b/g, rolloutId).replace('127.0.0.1:7070', `127.0.0.1:${agent.port}`);
        const r = await bash(line);
        if (r.code !== 0) failed.push(`${written}\n  → exit ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
        if (/rollout start/.test(line) && !line.includes('--dry-run')) {
          const list = await fleetml(['rollout', 'list', 'fraud', '-o', 'json'], { FLEETML_URL: agent.url, FLEETML_TOKEN: agent.token });
          const first = (JSON.parse(list.stdout).items ?? JSON.parse(list.stdout).rollouts)[0];
          rolloutId = String(first?.rollout?.id ?? 'none');
        }
      }
    }
    expect(failed).toEqual([]);
    // what the examples did, checked through the API: promote ends the rollout with all traffic on v2
    const status = JSON.parse((await fleetml(['rollout', 'status', rolloutId, '-o', 'json'], { FLEETML_URL: agent.url, FLEETML_TOKEN: agent.token })).stdout);
    expect(status.state ?? status.rollout?.state).toBe('promoted');
    const c = new AgentClient({ url: agent.url, token: agent.token, reconnect: false });
    await c.connect();
    const h = await c.call('model.history', { name: 'fraud', limit: 10 });
    await c.close();
    expect(h.events[0]!.targets).toEqual([{ version: 'v2', weight: 100 }]);
    // the examples' canary split and the reset to v1 before the rollout are in the routing history too
    expect(h.events.map((e) => e.targets.map((t) => `${t.version}=${t.weight}`).join(' '))).toEqual(expect.arrayContaining(['v1=90 v2=10', 'v1=100']));
  }, 300_000);
});
