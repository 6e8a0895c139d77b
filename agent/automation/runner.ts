// One run of an automation, as a state machine driven one step at a time by the manager's tick.
//
//   queued ──export data──▶ training ──job succeeded──▶ registering ──version──▶ gating ──gate passed──▶ rolling_out
//     │                        │ job failed / no model      │ not loadable            │ gate failed / refused  │
//     ▼                        ▼                            ▼                         ▼                        ▼
//   failed                   failed                       failed                    failed      succeeded | rolled_back | failed
//
// Invariants (kill -9 safety, house rule 4):
// - each state is persisted BEFORE the effect it leads to: `training` (with the data digest) before the job is
//   submitted, `registering` before the version is written, `gating` before the rollout starts;
// - every effect is idempotent on resume: the job carries the label fleetml.auto/run=<run id> and is looked up by it
//   before a submit; the candidate is registered as version auto-<run id> (runVersion) and looked up before
//   registering; the rollout's reason carries the marker "automation run <run id>" and is looked up before a start.
//   So a run resumed at any step never starts its job twice, never registers twice and never starts two rollouts;
// - the data is exported once (in `queued`); a resumed `training` keeps the files and digest it persisted;
// - a failure the node refuses for good (invalid params, conflict, not found) ends the run with the node's reason; any
//   other error (the node briefly unavailable) is retried at the next tick.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcError, isTerminalRollout, runVersion } from '../../shared/protocol/index.js';
import type { Automation, AutomationRun, AutoRunState, Job, JobSpecInput, Rollout, TestSet } from '../../shared/protocol/index.js';
import type { NodeCaller } from '../cluster/peers.js';
import type { Logger } from '../log.js';

/** Ground truth of served predictions (implemented by the serving feedback store). */
export interface PerformanceSource {
  /** Metrics of a version over the labelled rows joined since `sinceMs`, or null when none. */
  performance(name: string, version: string, sinceMs: number): { accuracy: number | null; f1: number | null; mae: number | null; rmse: number | null; labelled: number } | null;
  /** The newest `limit` labelled rows (of one version, or all), oldest first: feature names, rows, labels. */
  exportLabelled(name: string, version: string | null, limit: number): { features: string[]; rows: Array<Array<number | null>>; labels: number[] };
  /** 'labels': new ground truth was joined for a model version. */
  on(event: 'labels', f: (e: { name: string; version: string }) => void): unknown;
  off(event: 'labels', f: (e: { name: string; version: string }) => void): unknown;
}

/** What a run needs of the model registry (main.ts adapts ModelRegistry). */
export interface ModelFiles {
  /** Whether a version exists. */
  has(name: string, version: string): boolean;
  /** The version serving now: the alias's main target, else the newest version; null when the model has none. */
  serving(name: string): string | null;
  /** Path of a version's artifact (to push it to the rollout's other nodes), or null. */
  artifact(name: string, version: string): string | null;
  /** Register a local .onnx file as a version (verified like an upload) with lineage. */
  registerFile(p: { name: string; version: string; file: string; by: string; lineage: { dataset_sha256: string | null; dataset_name: string | null; meta: Record<string, string> } }): Promise<void>;
}

/** Effects and settings of the runner (main.ts wires them). */
export interface RunnerDeps {
  /** This node and its peers: the job and the rollout go through it (validation and audit as any call). */
  nodes: NodeCaller;
  models: ModelFiles;
  performance: PerformanceSource | null;
  /** Root of the per-run folders (data, test set, the job's output). */
  workDir: string;
  /** The user process jobs run as (null: the agent's own): the run folder is made theirs to write. */
  jobUser: { uid: number; gid: number } | null;
  log: Logger;
  now?: () => number;
}

/** Labels a run's job carries (how a resumed run finds it). */
export const RUN_LABEL = 'fleetml.auto/run';
/** Path of the run folder inside a container job. */
const CONTAINER_DIR = '/fleetml/run';
/** Most feedback rows exported to a run. */
const MAX_EXPORT_ROWS = 50_000;
/** Bytes of one model.push chunk to a peer (the protocol's maximum). */
const CHUNK = 512 * 1024;
/** Share of the newest feedback held out for the gate. */
const HOLD_OUT = 0.2;

/** A failure that ends the run (reason given); anything else is retried. */
export class RunFailure extends Error {}

/** Whether a node's refusal is final (the same call would be refused again). */
const permanent = (e: unknown) => e instanceof RunFailure || (e instanceof RpcError && ['INVALID_PARAMS', 'NOT_FOUND', 'CONFLICT', 'FORBIDDEN'].includes(e.data.code));

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Parse a labelled CSV (header; the `label` column, else the last one). Throws RunFailure with what is wrong. */
export function parseLabelledCsv(text: string, what: string): TestSet {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new RunFailure(`${what}: a header and at least one row are needed`);
  const head = lines[0].split(',').map((h) => h.trim());
  const li = head.includes('label') ? head.indexOf('label') : head.length - 1;
  const rows: Array<Array<number | null>> = []; const labels: number[] = [];
  for (let i = 1; i < lines.length && rows.length < 50_000; i++) {
    const cells = lines[i].split(',');
    if (cells.length !== head.length) throw new RunFailure(`${what}: line ${i + 1} has ${cells.length} cells, the header ${head.length}`);
    const nums = cells.map((c) => (c.trim() === '' ? null : Number(c)));
    const label = nums[li];
    if (label === null || !Number.isFinite(label)) throw new RunFailure(`${what}: line ${i + 1} has no numeric label`);
    if (nums.some((v) => v !== null && !Number.isFinite(v))) throw new RunFailure(`${what}: line ${i + 1} holds a cell that is not a number`);
    labels.push(label);
    rows.push(nums.filter((_, j) => j !== li));
  }
  return { name: what.slice(0, 256), rows, labels };
}

const csv = (features: string[], rows: Array<Array<number | null>>, labels: number[]) =>
  `${[...features, 'label'].join(',')}\n${rows.map((r, i) => `${r.map((v) => (v === null ? '' : String(v))).join(',')},${labels[i]}`).join('\n')}\n`;

/** Drives runs; stateless between steps (everything it needs is in the run and the store). */
export class RunRunner {
  private readonly now: () => number;
  constructor(private readonly d: RunnerDeps) { this.now = d.now ?? Date.now; }

  /** The folder of a run. */
  dir(runId: string): string { return join(this.d.workDir, runId); }
  private marker(run: AutomationRun): string { return `automation run ${run.id}`; }
  private by(a: Automation): string { return `automation:${a.name}`; }

  /**
   * Take the run as far as it can go now. `save` persists a new state of the run (and publishes it) before the
   * runner goes on. Returns when the run waits (a job or a rollout in progress) or is over.
   */
  async advance(a: Automation, run: AutomationRun, save: (r: AutomationRun) => void): Promise<AutomationRun> {
    const to = (state: AutoRunState, reason: string | null, patch: Partial<AutomationRun> = {}): AutomationRun => {
      const ts = this.now();
      run = { ...run, ...patch, state, reason: reason === null ? null : cut(reason, 4096), updated_at: ts,
        finished_at: ['succeeded', 'failed', 'rolled_back'].includes(state) ? ts : null,
        history: [...run.history, { ts, state, reason: reason === null ? null : cut(reason, 4096) }].slice(-256) };
      save(run);
      return run;
    };
    for (let guard = 0; guard < 8; guard++) {
      const before = run.state;
      try {
        run = await this.step(a, run, to);
      } catch (e) {
        if (!permanent(e)) { this.d.log.warn({ run: run.id, state: run.state, err: (e as Error).message }, 'automation step failed; retrying at the next tick'); return run; }
        return to('failed', `${run.state}: ${(e as Error).message}`);
      }
      if (run.state === before || ['succeeded', 'failed', 'rolled_back'].includes(run.state)) return run;
    }
    return run;
  }

  private async step(a: Automation, run: AutomationRun, to: (s: AutoRunState, reason: string | null, p?: Partial<AutomationRun>) => AutomationRun): Promise<AutomationRun> {
    const self = this.d.nodes.self;
    const call = this.d.nodes.call.bind(this.d.nodes);
    const dir = this.dir(run.id);
    switch (run.state) {
      case 'queued': {
        const { digest, source } = this.exportData(a, run, dir);
        return to('training', `training data: ${source} (sha256 ${digest.slice(0, 12)}…)`, { data_digest: digest, data_source: cut(source, 4200) });
      }
      case 'training': {
        let jobId = run.job_id;
        if (!jobId) {
          const found = (await call(self, 'job.list', { label: { [RUN_LABEL]: run.id }, limit: 10 }, this.by(a))).jobs[0];
          const job = found ?? (await call(self, 'job.submit', { spec: this.jobSpec(a, run, dir) }, this.by(a))).job;
          run = to('training', `job ${job.id} ${found ? 'found (submitted before a restart)' : 'submitted'}`, { job_id: job.id });
          jobId = job.id;
        }
        const job: Job = (await call(self, 'job.get', { id: jobId }, this.by(a))).job;
        if (!['succeeded', 'failed', 'cancelled', 'lost'].includes(job.state)) return run;
        if (job.state !== 'succeeded') throw new RunFailure(`job ${job.id} ${job.state}${job.reason ? `: ${job.reason}` : ''}; the serving version is untouched`);
        const out = join(dir, 'model.onnx');
        if (!existsSync(out)) throw new RunFailure(`job ${job.id} succeeded but wrote no model at $FLEETML_OUTPUT (${out})`);
        return to('registering', `job ${job.id} succeeded`, { metrics: this.readMetrics(join(dir, 'metrics.json')) });
      }
      case 'registering': {
        const version = runVersion(run.id);
        if (!this.d.models.has(a.model, version)) {
          try {
            await this.d.models.registerFile({ name: a.model, version, file: join(dir, 'model.onnx'), by: this.by(a), lineage: {
              dataset_sha256: run.data_digest, dataset_name: run.data_source ? cut(run.data_source, 256) : null,
              meta: { automation: a.name, run_id: run.id, job_id: run.job_id ?? '', parent_version: run.parent_version ?? '', trigger: cut(run.trigger.key, 1024) },
            } });
          } catch (e) {
            if (e instanceof RpcError && e.data.code === 'INVALID_PARAMS') throw new RunFailure(`the job's model cannot be registered: ${e.message}`);
            throw e;
          }
        }
        const pushed = await this.pushToPeers(a, run, version);
        return to('gating', `registered ${a.model} ${version} (parent ${run.parent_version ?? 'none'})${pushed.length ? `; pushed to ${pushed.join(', ')}` : ''}`, { version });
      }
      case 'gating':
      case 'rolling_out': {
        let rid = run.rollout_id;
        if (!rid) {
          const found = (await call(self, 'rollout.list', { name: a.model, limit: 200 }, this.by(a))).rollouts.find((r) => r.reason?.includes(this.marker(run)));
          const r = found ?? (await call(self, 'rollout.start', this.rolloutParams(a, run, dir), this.by(a))).rollout;
          run = to('gating', `rollout ${r.id} ${found ? 'found (started before a restart)' : 'started'}${a.spec.gate ? ' with its test gate' : ' (no gate)'}`, { rollout_id: r.id });
          rid = r.id;
        }
        const r: Rollout = (await call(self, 'rollout.get', { id: rid }, this.by(a))).rollout;
        if (isTerminalRollout(r)) return this.finish(r, to);
        if (r.state === 'gating') return run;
        if (run.state === 'gating') {
          const g = r.decisions.find((d) => d.kind === 'gate');
          return to('rolling_out', g ? g.reason : `rollout ${r.id} running (no gate)`);
        }
        return run;
      }
      default:
        return run;
    }
  }

  /**
   * The rollout's other nodes need the candidate too: pushed to each that lacks it (model.push through the NodeCaller,
   * verified there like any upload). Idempotent: a node that has the version is skipped. Returns the nodes pushed to.
   */
  private async pushToPeers(a: Automation, run: AutomationRun, version: string): Promise<string[]> {
    const others = (a.spec.nodes ?? []).filter((n) => n !== this.d.nodes.self);
    if (!others.length) return [];
    const file = this.d.models.artifact(a.model, version);
    if (!file) throw new RunFailure(`version ${version} has no artifact on this node`);
    const bytes = readFileSync(file);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const lineage = { ...(run.data_digest ? { dataset_sha256: run.data_digest } : {}), meta: { automation: a.name, run_id: run.id, job_id: run.job_id ?? '', parent_version: run.parent_version ?? '' } };
    const pushed: string[] = [];
    for (const node of others) {
      const call = <M extends Parameters<NodeCaller['call']>[1]>(m: M, p: unknown) => this.d.nodes.call(node, m, p, this.by(a));
      if ((await call('model.list', { name: a.model })).models.some((v) => v.version === version)) continue;
      let upload: string | undefined;
      for (let off = 0; off === 0 || off < bytes.length; off += CHUNK) {
        const part = bytes.subarray(off, off + CHUNK);
        const final = off + part.length >= bytes.length;
        const r = await call('model.push', { name: a.model, version, offset: off, data_b64: part.toString('base64'), final, ...(upload ? { upload_id: upload } : { total_bytes: bytes.length, lineage }), ...(final ? { sha256: sha } : {}) });
        upload = r.upload_id;
        if (final) break;
      }
      pushed.push(node);
    }
    return pushed;
  }

  /** The end of the rollout is the end of the run. */
  private finish(r: Rollout, to: (s: AutoRunState, reason: string | null) => AutomationRun): AutomationRun {
    const last = (kinds: string[]) => [...r.decisions].reverse().find((d) => kinds.includes(d.kind))?.reason ?? null;
    const gate = r.decisions.find((d) => d.kind === 'gate' && d.outcome === 'fail');
    switch (r.state) {
      case 'promoted': case 'completed': return to('succeeded', `rollout ${r.id} ${r.state}: ${r.to} serves`);
      case 'rolled_back': return to('rolled_back', `rollout ${r.id} rolled back: ${last(['analysis', 'rollback']) ?? r.state}`);
      case 'aborted': return to('rolled_back', `rollout ${r.id} aborted: ${last(['abort']) ?? 'by hand'}`);
      default: return to('failed', gate ? `gate failed: ${gate.reason}` : `rollout ${r.id} ${r.state}: ${last(['error', 'gate', 'rollback']) ?? ''}`);
    }
  }

  /** Creates the run folder (theirs to write for the job user) and exports the training data (and the held-out set). */
  private exportData(a: Automation, run: AutomationRun, dir: string): { digest: string; source: string } {
    this.prepareDir(dir);
    const data = join(dir, 'data.csv');
    const fb = this.d.performance?.exportLabelled(a.model, null, MAX_EXPORT_ROWS) ?? null;
    let source: string;
    if (fb && fb.rows.length >= 2) {
      // The newest rows are held out for the gate (when it uses feedback); the job trains on the older ones.
      const held = a.spec.gate?.test_set === 'feedback' ? Math.max(1, Math.floor(fb.rows.length * HOLD_OUT)) : 0;
      const n = fb.rows.length - held;
      writeFileSync(data, csv(fb.features, fb.rows.slice(0, n), fb.labels.slice(0, n)), { mode: 0o644 });
      if (held) writeFileSync(join(dir, 'test.csv'), csv(fb.features, fb.rows.slice(n), fb.labels.slice(n)), { mode: 0o600 });
      source = `feedback (${n} labelled rows${held ? `, the newest ${held} held out for the gate` : ''})`;
    } else if (a.spec.data) {
      try { copyFileSync(a.spec.data.file, data); chmodSync(data, 0o644); } catch (e) { throw new RunFailure(`cannot copy the data file ${a.spec.data.file}: ${(e as Error).message}`); }
      source = `file ${a.spec.data.file}`;
    } else {
      throw new RunFailure(`no training data: no labelled feedback for ${a.model} and the automation has no data file (auto create --data FILE)`);
    }
    return { digest: sha256(data), source };
  }

  private prepareDir(dir: string): void {
    mkdirSync(this.d.workDir, { recursive: true, mode: 0o711 });
    try { chmodSync(this.d.workDir, 0o711); } catch { /* not the owner */ }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const u = this.d.jobUser;
    if (u && u.uid !== process.getuid?.()) {
      // The job (another user) writes its model and metrics here; the agent reads them back.
      try { chownSync(dir, u.uid, process.getgid?.() ?? u.gid); chmodSync(dir, 0o770); } catch (e) {
        this.d.log.warn({ dir, err: (e as Error).message }, 'cannot give the run folder to the job user (needs CAP_CHOWN): it is made world-writable');
        chmodSync(dir, 0o777);
      }
    }
  }

  private jobSpec(a: Automation, run: AutomationRun, dir: string): JobSpecInput {
    const s = a.spec.job;
    const docker = s.driver === 'docker';
    const at = (f: string) => join(docker ? CONTAINER_DIR : dir, f);
    return {
      ...s,
      name: `auto-${run.id}`,
      env: { ...s.env, FLEETML_MODEL: a.model, FLEETML_PARENT_VERSION: run.parent_version ?? '', FLEETML_DATA: at('data.csv'), FLEETML_DATA_SHA256: run.data_digest ?? '',
        FLEETML_OUTPUT: at('model.onnx'), FLEETML_METRICS: at('metrics.json'), FLEETML_RUN_ID: run.id, FLEETML_AUTOMATION: a.name },
      labels: { ...s.labels, [RUN_LABEL]: run.id, 'fleetml.auto/automation': a.name },
      mounts: docker ? [...s.mounts, { source: dir, target: CONTAINER_DIR, readonly: false }] : s.mounts,
    };
  }

  private readMetrics(file: string): Record<string, number> | null {
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (!j || typeof j !== 'object') return null;
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(j as Record<string, unknown>).slice(0, 64)) if (typeof v === 'number' && Number.isFinite(v)) out[k.slice(0, 64)] = v;
      return out;
    } catch { return null; }
  }

  private rolloutParams(a: Automation, run: AutomationRun, dir: string): unknown {
    const g = a.spec.gate;
    let gate: unknown;
    if (g) {
      const file = g.test_set === 'feedback' ? join(dir, 'test.csv') : g.test_set.file;
      if (!existsSync(file)) throw new RunFailure(g.test_set === 'feedback' ? `no held-out labelled set: no feedback was joined for ${a.model} (give the gate a file: --test-set FILE)` : `the test set ${file} does not exist`);
      gate = { test_set: parseLabelledCsv(readFileSync(file, 'utf8'), g.test_set === 'feedback' ? 'held-out feedback' : file), metric: g.metric, bound: g.bound, max_regression: g.max_regression };
    }
    const ro = a.spec.rollout;
    return {
      name: a.model, to: run.version, ...(run.parent_version && run.parent_version !== run.version ? { from: run.parent_version } : {}),
      ...(a.spec.nodes ? { nodes: a.spec.nodes } : {}),
      strategy: ro.strategy, steps: ro.steps, step_duration_s: ro.step_duration_s, max_unavailable: ro.max_unavailable, analysis: ro.analysis,
      ...(gate ? { gate } : {}),
      reason: cut(`${this.marker(run)} (${a.name}, trigger ${run.trigger.kind}: ${run.trigger.detail})`, 500),
    };
  }
}
