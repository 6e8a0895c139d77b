import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSqueue, parseScontrol, jobFromScontrol, jobFromSacct, gresCount, summarisePartitions, parseSlurmTime, clusterName } from '../../agent/runtime/slurm/parse.js';
import { exitOfRecord, pendingReason, phaseOfState } from '../../agent/runtime/slurm/states.js';
import { SlurmCommandError, transientSubmitError } from '../../agent/runtime/slurm/commands.js';
import { batchProblem, batchScript, sbatchArgs, shQuote, type BatchContext } from '../../agent/runtime/slurm/script.js';
import { JobSpec, type NodeResources } from '../../shared/protocol/jobs.js';
import { place } from '../../shared/placement/place.js';

// Slurm's outputs (real ones, from the test cluster: test/fixtures/slurm) parsed, its states mapped, and the batch
// job built from a spec.

const fx = (f: string) => readFileSync(join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'slurm', f), 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');

describe('parsing Slurm 22.05 output', () => {
  it('squeue rows: id, state, partition, nodes, start, comment, reason', () => {
    const rows = parseSqueue(fx('squeue.txt'));
    expect(rows.length).toBeGreaterThan(10);
    const pending = rows.find((r) => r.reason === 'JobHeldUser')!;
    expect(pending).toMatchObject({ state: 'PENDING', partition: 'debug', nodes: null, start: null, comment: null });
    const begin = rows.find((r) => r.reason === 'BeginTime')!;
    expect(begin.start).toBeGreaterThan(0); // a pending job's expected start
    const ours = rows.find((r) => r.comment?.startsWith('fleetml:j_'))!;
    expect(ours.comment).toMatch(/^fleetml:j_[0-9a-f]{12}:1$/);
    const oom = rows.find((r) => r.state === 'OUT_OF_MEMORY')!;
    expect(oom.reason).toBe('OutOfMemory');
    expect(oom.nodes).toBe('vm');
    expect(parseSqueue('garbage\n|||\n')).toEqual([]);
  });

  it('scontrol records: values with spaces, every job state of the test cluster', () => {
    const jobs = parseScontrol(fx('scontrol-jobs.txt')).map(jobFromScontrol);
    const by = (s: string) => jobs.find((j) => j?.state === s)!;
    expect(by('FAILED').exit).toEqual({ code: expect.any(Number), signal: 0 });
    expect(by('FAILED').exit!.code).toBeGreaterThan(0);
    expect(by('OUT_OF_MEMORY').exit).toEqual({ code: 0, signal: 125 });
    expect(by('COMPLETED').exit).toEqual({ code: 0, signal: 0 });
    expect(by('COMPLETED').start).not.toBeNull();
    expect(by('TIMEOUT').timeLimit).toBe('00:01:00');
    expect(by('PENDING').reason).toMatch(/JobHeldUser|BeginTime/);
    expect(parseScontrol('JobId=9 JobName=a b c Comment=x y UserId=root(0)')[0]).toMatchObject({ JobId: '9', JobName: 'a b c', Comment: 'x y' });
  });

  it('times are the controller\'s local time; N/A and junk are null', () => {
    expect(parseSlurmTime('2026-12-03T15:53:37')).toBe(new Date(2026, 11, 3, 15, 53, 37).getTime());
    expect(parseSlurmTime('N/A')).toBeNull();
    expect(parseSlurmTime('Unknown')).toBeNull();
  });

  it('sacct -P rows (accounting on)', () => {
    const text = '42|CANCELLED by 0|0:15|2026-12-03T10:00:00|2026-12-03T10:05:00|gpu|node[1-2]|01:00:00|fleetml:j_abc:2\n';
    expect(jobFromSacct(text, '42')).toMatchObject({ state: 'CANCELLED', exit: { code: 0, signal: 15 }, partition: 'gpu', nodes: 'node[1-2]', comment: 'fleetml:j_abc:2' });
    expect(jobFromSacct(text, '43')).toBeNull();
    // a job cancelled while pending: no nodes ("None assigned"), so it never ran
    expect(jobFromSacct('44|CANCELLED by 0|0:0|2026-12-03T10:00:00|2026-12-03T10:00:00|gpu|None assigned|01:00:00|\n', '44')?.nodes).toBeNull();
  });

  it('GRES counts, typed and untyped, with socket and index annotations', () => {
    expect(gresCount('gpu:2')).toBe(2);
    expect(gresCount('gpu:a100:4(S:0-1)')).toBe(4);
    expect(gresCount('gpu:a100:2(IDX:0,2),gpu:t4:1(IDX:1)')).toBe(3);
    expect(gresCount('gpu:a100:2(IDX:0,2),gpu:t4:1(IDX:1)', 'gpu:t4')).toBe(1);
    expect(gresCount('(null)')).toBe(0);
    expect(gresCount('mps:100,gpu:1')).toBe(1);
  });

  it('partitions from the nodes in them: totals, free, the largest node', () => {
    const [p] = summarisePartitions(parseScontrol(fx('scontrol-node.txt')), parseScontrol(fx('scontrol-partition.txt')));
    expect(p).toMatchObject({ name: 'debug', default: true, state: 'UP', nodes: 1, nodes_up: 1, cpus_total: 8, gpus_total: 2, gpus_per_node_max: 2, memory_total_bytes: 8192 * 2 ** 20 });
    // two nodes, one drained: it counts in the totals but nothing of it is free
    const nodes = [
      { NodeName: 'a', Partitions: 'gpu,all', State: 'MIXED', CPUTot: '64', CPUAlloc: '16', Gres: 'gpu:a100:8(S:0-1)', GresUsed: 'gpu:a100:3(IDX:0-2)', RealMemory: '512000' },
      { NodeName: 'b', Partitions: 'gpu', State: 'IDLE+DRAIN', CPUTot: '64', CPUAlloc: '0', Gres: 'gpu:a100:8', GresUsed: 'gpu:a100:0', RealMemory: '512000' },
      { NodeName: 'c', Partitions: 'gpu', State: 'IDLE*', CPUTot: '64', CPUAlloc: '0', Gres: 'gpu:a100:8', GresUsed: 'gpu:0', RealMemory: '512000' },
    ];
    const parts = summarisePartitions(nodes, [{ PartitionName: 'gpu', Default: 'NO', State: 'UP' }, { PartitionName: 'all', Default: 'YES', State: 'UP' }]);
    expect(parts.find((x) => x.name === 'gpu')).toMatchObject({ nodes: 3, nodes_up: 1, gpus_total: 24, gpus_free: 5, gpus_free_per_node_max: 5, cpus_free: 48 });
    expect(clusterName('ClusterName             = fleetml\nOther = 1')).toBe('fleetml');
  });
});

describe('Slurm states in fleetml terms', () => {
  it('phases', () => {
    for (const s of ['PENDING', 'REQUEUED', 'REQUEUE_HOLD']) expect(phaseOfState(s)).toBe('pending');
    for (const s of ['RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED']) expect(phaseOfState(s)).toBe('running');
    for (const s of ['COMPLETED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'CANCELLED', 'NODE_FAIL', 'PREEMPTED']) expect(phaseOfState(s)).toBe('ended');
  });
  it('pending reasons keep Slurm\'s code and say what it means', () => {
    expect(pendingReason('Resources')).toMatch(/^Resources: waiting for resources/);
    expect(pendingReason('Priority')).toMatch(/^Priority: waiting behind jobs of higher priority/);
    expect(pendingReason('QOSMaxJobsPerUserLimit')).toMatch(/limit of its QOS/);
    expect(pendingReason('SomethingNew')).toBe('SomethingNew');
  });
  it('ends: exit codes, OOM, time limit, outside cancel, node failure', () => {
    const rec = (state: string, code = 0, signal = 0) => ({ id: '1', state, reason: null, exit: { code, signal }, start: 1, end: 2, partition: 'p', nodes: 'n1', timeLimit: '00:01:00', comment: null });
    expect(exitOfRecord(rec('COMPLETED'))).toMatchObject({ exitCode: 0, signal: null, oomKilled: false, error: null });
    expect(exitOfRecord(rec('FAILED', 3))).toMatchObject({ exitCode: 3, oomKilled: false });
    expect(exitOfRecord(rec('FAILED', 0, 9))).toMatchObject({ signal: 'SIGKILL' });
    expect(exitOfRecord(rec('OUT_OF_MEMORY', 0, 125))).toMatchObject({ oomKilled: true });
    expect(exitOfRecord(rec('TIMEOUT'))).toMatchObject({ endedBy: 'timeout', detail: 'Slurm TIMEOUT (time limit 00:01:00)' });
    expect(exitOfRecord(rec('CANCELLED', 0, 15))).toMatchObject({ endedBy: 'cancelled', signal: 'SIGTERM' });
    expect(exitOfRecord(rec('NODE_FAIL'))).toMatchObject({ endedBy: 'lost', detail: 'Slurm NODE_FAIL (node n1)' });
    expect(exitOfRecord(rec('PREEMPTED')).error).toMatch(/ended by Slurm: PREEMPTED/);
  });
});

describe('the batch job of a spec', () => {
  const ctx = (spec: object, defaults: Partial<BatchContext['defaults']> = {}): BatchContext => ({
    jobId: 'j_0123456789ab', attempt: 2, spec: JobSpec.parse({ driver: 'slurm', ...spec }), env: { FLEETML_JOB_ID: 'j_0123456789ab', CUDA_VISIBLE_DEVICES: '' },
    dir: '/shared/fleetml/j_0123456789ab/attempt-2', defaults: { partition: 'gpu', account: null, qos: null, gres: 'gpu', container: null, ...defaults },
  });

  it('maps resources, limits and names to sbatch options', () => {
    const a = sbatchArgs(ctx({ command: ['python3', 'train.py'], gpus: 2, cpus: 3.5, memory_bytes: 3 * 2 ** 30 + 1, timeout_s: 61, name: 'train', slurm: { qos: 'high', constraint: 'a100&ib' } }), '/x/job.sh');
    expect(a).toEqual(['--parsable', '--export=NONE', '--nodes=1', '--ntasks=1', '--job-name=train', '--comment=fleetml:j_0123456789ab:2',
      '--output=/shared/fleetml/j_0123456789ab/attempt-2/stdout.log', '--error=/shared/fleetml/j_0123456789ab/attempt-2/stderr.log', '--open-mode=append',
      '--chdir=/shared/fleetml/j_0123456789ab/attempt-2', '--partition=gpu', '--qos=high', '--constraint=a100&ib', '--gres=gpu:2', '--cpus-per-task=4', '--mem=3073M', '--time=2', '/x/job.sh']);
    const b = sbatchArgs(ctx({ command: ['x'], image: 'nvcr.io#nvidia/pytorch:24.01', workdir: '/data', slurm: { partition: 'debug', account: 'ml' } }, { container: 'pyxis', gres: 'gpu:a100' }), '/x/job.sh');
    expect(b).toEqual(expect.arrayContaining(['--partition=debug', '--account=ml', '--chdir=/data', '--container-image=nvcr.io#nvidia/pytorch:24.01', '--job-name=j_0123456789ab']));
    expect(b.some((x) => x.startsWith('--gres'))).toBe(false);
  });

  it('writes env and the command quoted for sh, leaves GPU visibility to Slurm, records the exit', () => {
    const s = batchScript(ctx({ command: ['sh', '-c', "echo 'hi' $HOME"], env: { GREETING: "it's a \"test\"" } }));
    expect(s.startsWith('#!/bin/sh\n')).toBe(true);
    expect(s).toContain(`export GREETING='it'\\''s a "test"'`);
    expect(s).toContain("export FLEETML_JOB_ID='j_0123456789ab'");
    expect(s).not.toContain('CUDA_VISIBLE_DEVICES');
    expect(s).toContain('export SLURM_EXPORT_ENV=ALL'); // srun steps inside the job get its environment
    expect(s).toContain(`'sh' '-c' 'echo '\\''hi'\\'' $HOME'`);
    expect(s).toContain("mv -f '/shared/fleetml/j_0123456789ab/attempt-2/exit.tmp' '/shared/fleetml/j_0123456789ab/attempt-2/exit'");
    expect(shQuote("a'b")).toBe(`'a'\\''b'`);
    const ap = batchScript(ctx({ command: ['python3', 't.py'], image: '/images/torch.sif', gpus: 1 }, { container: 'apptainer' }));
    expect(ap).toContain("'apptainer' 'exec' '--nv' '/images/torch.sif' 'python3' 't.py'");
  });

  it('refuses what a batch job cannot take', () => {
    const p = (spec: object, c: BatchContext['defaults']['container'] = null) => batchProblem(JobSpec.parse({ driver: 'slurm', command: ['x'], ...spec }), c);
    expect(p({ image: 'busybox' })).toMatch(/no container runtime configured/);
    expect(p({ image: 'busybox' }, 'pyxis')).toBeNull();
    expect(p({ workdir: 'rel' })).toMatch(/absolute/);
    expect(JobSpec.safeParse({ driver: 'process', command: ['x'], slurm: { partition: 'a' } }).success).toBe(false);
    expect(JobSpec.safeParse({ driver: 'slurm', command: ['x'], slurm: { partition: 'a;rm -rf' } }).success).toBe(false);
  });
});

describe('a failed sbatch', () => {
  it('is worth another try when the controller did not answer, not when it refused', () => {
    expect(transientSubmitError(new SlurmCommandError('sbatch', 'sbatch failed (exit 1): sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)', ''))).toBe(true);
    expect(transientSubmitError(new SlurmCommandError('sbatch', 'sbatch did not answer in 15000 ms (jobs.slurm.command_timeout_ms): is slurmctld up?', ''))).toBe(true);
    expect(transientSubmitError(new SlurmCommandError('sbatch', 'sbatch failed (exit 1): sbatch: error: Batch job submission failed: Invalid partition name specified', ''))).toBe(false);
    expect(transientSubmitError(new SlurmCommandError('sbatch', 'sbatch not found on PATH', '', true))).toBe(false);
  });
});

describe('placement of slurm jobs', () => {
  const node = (name: string, over: Partial<NodeResources>): NodeResources => ({
    node: name, labels: {}, gpus: [], gpus_free: 0, cpus_total: 8, cpus_free: 8, memory_total_bytes: 2 ** 34, memory_free_bytes: 2 ** 34, queued: 0, running: 0,
    drivers: [{ name: 'process', available: true, reason: null }], simulated: false, ...over,
  });
  const part = (gpus: number, free: number) => ({ name: 'gpu', default: true, state: 'UP', nodes: 4, nodes_up: 4, cpus_total: 256, cpus_free: 100, gpus_total: gpus * 4, gpus_free: free, gpus_per_node_max: gpus, gpus_free_per_node_max: free, memory_total_bytes: 2 ** 40 });
  const login = (free: number, pending = 0) => node('login', { drivers: [{ name: 'slurm', available: true, reason: null }], default_driver: 'slurm',
    slurm: { cluster: 'c', default_partition: 'gpu', partitions: [part(8, free)], pending, running: 0, error: null, updated_at: 1 } });

  it('judges a slurm job by the cluster behind the node, not the node\'s own GPUs', () => {
    expect(place({ gpus: 4, selector: {}, driver: 'slurm' }, [login(5)], { strategy: 'binpack' })).toMatchObject({ node: 'login', queued: false });
    expect(place({ gpus: 4, selector: {}, driver: 'slurm' }, [login(2, 3)], { strategy: 'binpack' })).toMatchObject({ node: 'login', queued: true, reason: 'queued on login (Slurm): needs 4 GPUs, 2 free on one Slurm node (3 queued ahead)' });
    const never = place({ gpus: 16, selector: {}, driver: 'slurm' }, [login(8)], { strategy: 'binpack' });
    expect(never.node).toBeNull();
    expect(never.node === null && never.candidates[0].why).toBe('never fits: needs 16 GPUs, Slurm nodes have at most 8');
    expect(place({ gpus: 1, selector: {}, driver: 'slurm' }, [node('plain', {})], { strategy: 'binpack' })).toMatchObject({ node: null });
  });

  it('a job without a driver goes to Slurm on a node whose default driver is slurm', () => {
    const gpuNode = node('g', { gpus: [{ uuid: 'u', index: 0, name: 'T4', fb_total_bytes: 1, job_id: null, busy_external: false }], gpus_free: 1 });
    expect(place({ gpus: 2, selector: {}, driver: 'process', defaultDriver: true }, [gpuNode, login(8)], { strategy: 'binpack' })).toMatchObject({ node: 'login' });
    expect(place({ gpus: 2, selector: {}, driver: 'process' }, [gpuNode, login(8)], { strategy: 'binpack' }).node).toBeNull();
  });
});
