import { parseAliasTargets } from '../../cli/args/model.js';
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  buildLineage, checkModelRef, formatBytes, parseGitCommit, parseInferInput, parseMeta, parseNodeChoice,
  readInferInput, requireSingleTarget, type InputReaders,
} from '../../cli/args/model.js';
import { formatTensor, modelDetail, modelRow, pushedLine } from '../../cli/format/model.js';
import { registerModelCommands } from '../../cli/commands/model.js';
import { planChunks, pushModel, PUSH_CHUNK_BYTES, sha256File } from '../../shared/client/model-push.js';
import { UsageError } from '../../cli/output.js';
import type { ModelVersion } from '../../shared/protocol/models.js';
import type { AgentClient } from '../../shared/client/agent-client.js';

describe('planChunks', () => {
  it('cuts a file into ordered chunks, the last one final', () => {
    expect(planChunks(10, 4)).toEqual([{ offset: 0, length: 4, final: false }, { offset: 4, length: 4, final: false }, { offset: 8, length: 2, final: true }]);
    expect(planChunks(8, 4)).toEqual([{ offset: 0, length: 4, final: false }, { offset: 4, length: 4, final: true }]);
    expect(planChunks(3, 4)).toEqual([{ offset: 0, length: 3, final: true }]);
    expect(planChunks(1, 1)).toEqual([{ offset: 0, length: 1, final: true }]);
  });
  it('an empty file has no chunks', () => { expect(planChunks(0, 4)).toEqual([]); });
  it('defaults to 512 KiB chunks that cover the file exactly once', () => {
    const size = 3 * PUSH_CHUNK_BYTES + 17;
    const plan = planChunks(size);
    expect(PUSH_CHUNK_BYTES).toBe(512 * 1024);
    expect(plan).toHaveLength(4);
    expect(plan.every((c) => c.length <= PUSH_CHUNK_BYTES)).toBe(true);
    expect(plan.reduce((a, c) => a + c.length, 0)).toBe(size);
    plan.forEach((c, i) => { if (i) expect(c.offset).toBe(plan[i - 1].offset + plan[i - 1].length); });
    expect(plan.filter((c) => c.final)).toEqual([plan[3]]);
  });
  it('base64 of a full chunk fits the protocol limit', () => {
    expect(Buffer.alloc(PUSH_CHUNK_BYTES).toString('base64').length).toBeLessThanOrEqual(Math.ceil((512 * 1024 * 4) / 3) + 4);
  });
  it('rejects nonsense sizes', () => {
    expect(() => planChunks(-1, 4)).toThrow(RangeError);
    expect(() => planChunks(1.5, 4)).toThrow(RangeError);
    expect(() => planChunks(10, 0)).toThrow(RangeError);
  });
});

describe('model push arguments', () => {
  it('checks names and versions against the protocol', () => {
    expect(checkModelRef('resnet50', '1.2.0')).toEqual({ name: 'resnet50', version: '1.2.0' });
    expect(checkModelRef('resnet50', undefined)).toEqual({ name: 'resnet50' });
    expect(() => checkModelRef('ResNet', undefined)).toThrow(/model name "ResNet"/);
    expect(() => checkModelRef('ok', 'bad version')).toThrow(/--version "bad version"/);
    expect(() => checkModelRef('', undefined)).toThrow(UsageError);
  });
  it('meta, git commit and dataset lineage', () => {
    expect(parseMeta(['owner=ml', 'note=a=b'])).toEqual({ owner: 'ml', note: 'a=b' });
    expect(() => parseMeta(['x'])).toThrow(/--meta: "x" is not KEY=VALUE/);
    expect(() => parseMeta([`k=${'v'.repeat(1025)}`])).toThrow(/at most 1024/);
    expect(parseGitCommit('ABCDEF1')).toBe('abcdef1');
    expect(parseGitCommit(undefined)).toBeUndefined();
    expect(() => parseGitCommit('main')).toThrow(/not a commit id/);
    const sha = 'a'.repeat(64);
    expect(buildLineage({ gitCommit: 'abc1', meta: { a: '1' }, dataset: { path: '/data/train/iris.csv', sha256: sha } }))
      .toEqual({ git_commit: 'abc1', dataset_sha256: sha, dataset_name: 'iris.csv', meta: { a: '1' } });
    expect(buildLineage({ meta: {} })).toBeUndefined();
  });
  it('sha256 of a file, streamed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-models-'));
    const f = join(dir, 'm.onnx');
    const bytes = Buffer.alloc(PUSH_CHUNK_BYTES * 2 + 5, 7);
    writeFileSync(f, bytes);
    expect(await sha256File(f)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});

describe('pushModel', () => {
  it('sends the chunks in order: no upload_id first, then the id; sha256 only with final', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-push-'));
    const f = join(dir, 'm.onnx');
    const bytes = Buffer.from('0123456789');
    writeFileSync(f, bytes);
    const calls: Array<Record<string, unknown>> = [];
    const got: Buffer[] = [];
    const committed = { name: 'm', version: '1' } as ModelVersion;
    const client = {
      call: async (method: string, p: Record<string, unknown>) => {
        expect(method).toBe('model.push');
        calls.push(p);
        got.push(Buffer.from(p.data_b64 as string, 'base64'));
        const received = got.reduce((a, b) => a + b.length, 0);
        return { upload_id: 'u1', received_bytes: received, model: p.final ? committed : null };
      },
    } as unknown as AgentClient;
    const sha = createHash('sha256').update(bytes).digest('hex');
    const m = await pushModel(client, f, { name: 'm', version: '1', sha256: sha, size: 10, lineage: { git_commit: 'abcd' } }, { chunkBytes: 4 });
    expect(m).toBe(committed);
    expect(Buffer.concat(got).equals(bytes)).toBe(true);
    expect(calls.map((c) => [c.offset, c.upload_id, c.final, c.sha256])).toEqual([[0, undefined, false, undefined], [4, 'u1', false, undefined], [8, 'u1', true, sha]]);
    expect(calls.every((c) => c.name === 'm' && c.version === '1' && c.total_bytes === 10)).toBe(true);
    expect(calls[0].lineage).toEqual({ git_commit: 'abcd' });
  });
  it('fails when the agent lost bytes or did not commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetml-push-'));
    const f = join(dir, 'm.onnx');
    writeFileSync(f, Buffer.from('abc'));
    const client = (model: unknown, received: number) => ({ call: async () => ({ upload_id: 'u', received_bytes: received, model }) }) as unknown as AgentClient;
    await expect(pushModel(client(null, 3), f, { name: 'm', sha256: 'a'.repeat(64), size: 3 })).rejects.toThrow(/did not commit/);
    await expect(pushModel(client(null, 1), f, { name: 'm', sha256: 'a'.repeat(64), size: 3 })).rejects.toThrow(/has 1 bytes of the upload, expected 3/);
  });
});

describe('--node / --all', () => {
  it('refuses both together, and an empty --node', () => {
    expect(() => parseNodeChoice({ node: 'a', all: true })).toThrow(/--node and --all exclude each other/);
    expect(() => parseNodeChoice({ node: '' })).toThrow(/--node needs a node name/);
    expect(parseNodeChoice({ node: 'a' })).toEqual({ kind: 'node', node: 'a' });
    expect(parseNodeChoice({ all: true })).toEqual({ kind: 'all' });
    expect(parseNodeChoice({})).toEqual({ kind: 'default' });
  });
  it('without either, several targets ask which', () => {
    expect(() => requireSingleTarget(['a'], 'push')).not.toThrow();
    expect(() => requireSingleTarget(['a', 'b'], 'push')).toThrow(/2 nodes are targeted \(a, b\): choose one with --node NAME or push on every node with --all/);
  });

  function program() {
    const p = new Command('fleetml').version('0.0.0').exitOverride();
    registerModelCommands(p);
    return p;
  }
  const bad = ['--url', 'ws://127.0.0.1:1', '--token', 't'];
  it('rejects bad flag combinations before contacting any agent', async () => {
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'push', 'm', 'x.onnx', '--node', 'a', '--all', ...bad])).rejects.toThrow(/--node and --all exclude each other/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'load', 'm', '--node', 'a', '--all', ...bad])).rejects.toThrow(/--node and --all exclude each other/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'unload', 'm', '--node', 'a', '--all', ...bad])).rejects.toThrow(/exclude each other/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'rm', 'm', '--version', '1', '--node', 'a', '--all', ...bad])).rejects.toThrow(/exclude each other/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'rm', 'm', ...bad])).rejects.toThrow(/--version/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'push', 'Bad Name', 'x.onnx', ...bad])).rejects.toThrow(/model name "Bad Name"/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'push', 'm', '/nonexistent/x.onnx', ...bad])).rejects.toThrow(/model file \/nonexistent\/x.onnx: cannot read it \(ENOENT\)/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'list', '-o', 'yaml', ...bad])).rejects.toThrow(/use -o table or -o json/);
    await expect(program().parseAsync(['node', 'fleetml', 'model', 'infer', 'm', ...bad])).rejects.toThrow(/--input is required/);
  });
  it('--version after the subcommand is the model version, not the program version', async () => {
    const p = program();
    let seen: unknown = null;
    const push = p.commands.find((c) => c.name() === 'model')!.commands.find((c) => c.name() === 'push')!;
    push.action((name: string, file: string, o: Record<string, unknown>) => { seen = { name, file, version: o.version, meta: o.meta, all: o.all, gitCommit: o.gitCommit }; });
    await p.parseAsync(['node', 'fleetml', 'model', 'push', 'm', 'm.onnx', '--version', '1.2', '--meta', 'a=1', '--meta', 'b=2', '--all', '--git-commit', 'abcd']);
    expect(seen).toEqual({ name: 'm', file: 'm.onnx', version: '1.2', meta: ['a=1', 'b=2'], all: true, gitCommit: 'abcd' });
  });
});

describe('infer input', () => {
  const t = { name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] };
  it('reads a KServe v2 body or the bare array', () => {
    expect(parseInferInput(JSON.stringify({ inputs: [t] }), 'f')).toEqual([t]);
    expect(parseInferInput(JSON.stringify([t]), 'f')).toEqual([t]);
  });
  it('flattens nested data and drops KServe parameters', () => {
    expect(parseInferInput(JSON.stringify([{ ...t, shape: [2, 2], data: [[1, 2], [3, 4]], parameters: { binary_data: false } }]), 'f'))
      .toEqual([{ ...t, shape: [2, 2], data: [1, 2, 3, 4] }]);
  });
  it('bad JSON and wrong shapes give clear errors', () => {
    expect(() => parseInferInput('{"inputs": [', '--input x.json')).toThrow(/--input x.json: not valid JSON .*expected a KServe v2 request like \{"inputs"/);
    expect(() => parseInferInput('{"outputs": []}', 'stdin')).toThrow(/stdin: expected an object with an "inputs" array, or the bare array/);
    expect(() => parseInferInput('[]', 'stdin')).toThrow(/"inputs" is empty/);
    expect(() => parseInferInput(JSON.stringify([{ name: 'x', shape: [1], data: [1] }]), 'stdin')).toThrow(/input 0 \("x"\) is not a tensor .*datatype/);
    expect(() => parseInferInput(JSON.stringify([{ ...t, data: [1, 2, 3] }]), 'stdin')).toThrow(/input 0 \("x"\) has 3 values but shape \[1,4\] needs 4/);
    expect(() => parseInferInput('5', 'stdin')).toThrow(UsageError);
  });
  const io = (o: Partial<InputReaders>): InputReaders => ({
    readFile: async () => { throw Object.assign(new Error('nope'), { code: 'ENOENT' }); },
    readStdin: async () => { throw new Error('stdin should not be read'); },
    stdinIsTTY: false,
    ...o,
  });
  it('reads a file, or stdin for -', async () => {
    expect(await readInferInput('req.json', io({ readFile: async (p) => (p === 'req.json' ? JSON.stringify({ inputs: [t] }) : '') }))).toEqual([t]);
    expect(await readInferInput('-', io({ readStdin: async () => JSON.stringify([t]) }))).toEqual([t]);
  });
  it('says what is wrong with the source', async () => {
    await expect(readInferInput(undefined, io({}))).rejects.toThrow(/--input is required/);
    await expect(readInferInput('missing.json', io({}))).rejects.toThrow(/--input missing.json: cannot read it \(ENOENT\)/);
    await expect(readInferInput('-', io({ stdinIsTTY: true }))).rejects.toThrow(/stdin is a terminal; pipe the JSON in/);
    await expect(readInferInput('-', io({ readStdin: async () => 'not json' }))).rejects.toThrow(/^stdin: not valid JSON/);
    await expect(readInferInput('bad.json', io({ readFile: async () => '{' }))).rejects.toThrow(/--input bad.json: not valid JSON/);
  });
});

describe('model rendering', () => {
  const m: ModelVersion = {
    name: 'iris', version: '3', sha256: '0123456789abcdef'.repeat(4), size_bytes: 3 * 1024 * 1024, inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 3] }], pushed_by: 'alice', pushed_at: 1_000_000, loaded: true, provider: 'cuda',
    lineage: { git_commit: 'abc123', dataset_sha256: 'f'.repeat(64), dataset_name: 'iris.csv', meta: { team: 'ml' } },
  };
  it('list rows, push lines, details', () => {
    expect(modelRow('gpu-a', m, 1_000_000 + 120_000)).toEqual(['gpu-a', 'iris', '3', '0123456789ab', '3.0MiB', 'yes', 'cuda', '2m ago']);
    expect(pushedLine('gpu-a', m)).toBe('gpu-a: pushed iris 3 (sha256 0123456789ab, 3.0MiB)');
    const d = modelDetail('gpu-a', m, 1_000_000);
    expect(d).toMatch(/^iris 3 on gpu-a/);
    expect(d).toMatch(/inputs +x float32 \[N,4\]/);
    expect(d).toMatch(/dataset +iris.csv \(sha256 ffffffffffff\)/);
    expect(d).toMatch(/meta +team=ml/);
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1536)).toBe('1.5KiB');
  });
  it('tensors, truncated past a limit', () => {
    expect(formatTensor({ name: 'y', datatype: 'FP32', shape: [1, 3], data: [0.1, 0.2, 0.7] })).toBe('y FP32 [1,3]: [0.1, 0.2, 0.7]');
    expect(formatTensor({ name: 'y', datatype: 'FP32', shape: [40], data: Array.from({ length: 40 }, (_, i) => i) }, 2)).toBe('y FP32 [40]: [0, 1, … (40 values; -o json for all)]');
  });
});

describe('model alias targets', () => {
  it('takes one version for all traffic or VERSION=WEIGHT pairs summing to 100', () => {
    expect(parseAliasTargets(['v2'])).toEqual([{ version: 'v2', weight: 100 }]);
    expect(parseAliasTargets(['v1=90', 'v2=10'])).toEqual([{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }]);
    expect(() => parseAliasTargets(['v1=90', 'v2=20'])).toThrow(/sum to 100 \(got 110\)/);
    expect(() => parseAliasTargets(['v1:90'])).toThrow(/VERSION=WEIGHT/);
  });
});
