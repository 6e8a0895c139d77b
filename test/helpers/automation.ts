import { EventEmitter } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../shared/client/agent-client.js';
import type { AutomationRun } from '../../shared/protocol/index.js';
import { isTerminalRun } from '../../shared/protocol/index.js';
import type { PerformanceSource } from '../../agent/automation/runner.js';
import { loadConfig, type AgentConfig, type AgentFlags } from '../../agent/config.js';
import { startAgent, type AgentDeps, type RunningAgent } from '../../agent/main.js';
import { createLogger } from '../../agent/log.js';
import { fixture } from './agent.js';

/**
 * A small, real PerformanceSource held in memory: labelled rows per model version, scored as the serving feedback
 * store does (accuracy of thresholded probabilities). A documented stand-in for agent/serving/feedback.ts
 * (ground truth, developed in parallel) until it is merged; the automation depends only on the interface.
 */
export class MemoryFeedback extends EventEmitter implements PerformanceSource {
  readonly features = ['income', 'age', 'debt_ratio', 'tenure'];
  private rows: Array<{ version: string; ts: number; x: number[]; label: number; predicted: number }> = [];
  /** Join labelled rows for a version and announce them ('labels'). */
  add(version: string, rows: Array<{ x: number[]; label: number; predicted: number }>, name = 'credit', ts = Date.now()): void {
    for (const r of rows) this.rows.push({ version, ts, ...r });
    this.emit('labels', { name, version });
  }
  performance(_name: string, version: string, sinceMs: number) {
    const rs = this.rows.filter((r) => r.version === version && r.ts >= sinceMs);
    if (!rs.length) return null;
    const accuracy = rs.filter((r) => (r.predicted >= 0.5 ? 1 : 0) === r.label).length / rs.length;
    const err = rs.map((r) => r.predicted - r.label);
    return { accuracy, f1: null, mae: err.reduce((a, e) => a + Math.abs(e), 0) / rs.length, rmse: Math.sqrt(err.reduce((a, e) => a + e * e, 0) / rs.length), labelled: rs.length };
  }
  exportLabelled(_name: string, version: string | null, limit: number) {
    const rs = this.rows.filter((r) => version === null || r.version === version).slice(-limit);
    return { features: this.features, rows: rs.map((r) => r.x), labels: rs.map((r) => r.label) };
  }
}

/** An in-process agent (like inProcessAgent) given extras (a PerformanceSource, an AlertSink), with its own automation work dir. */
export async function agentWith(extras: AgentDeps, flags: AgentFlags = {}, patch?: (c: AgentConfig) => void): Promise<{ agent: RunningAgent; token: string; dir: string; work: string; client: AgentClient; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetml-auto-'));
  const work = mkdtempSync(join(tmpdir(), 'fleetml-auto-work-'));
  chmodSync(work, 0o711); // the job user traverses it to its run folder
  const config = loadConfig({ listen: '127.0.0.1:0', dataDir: dir, name: 'auto-node', gpuSource: 'sim', gpuFixture: [fixture('rtx-a5000-2gpu-590.44-procs-q-x.xml')], telemetryInterval: '200', jobDriver: ['process', 'fake'], ...flags }, {});
  config.automation.work_dir = join(work, 'runs');
  patch?.(config);
  const agent = await startAgent(config, createLogger('silent'), extras);
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const client = new AgentClient({ url: agent.url, token, reconnect: false, callTimeoutMs: 30_000 });
  await client.connect();
  return { agent, token, dir, work, client, close: async () => { await client.close(); await agent.stop(); rmSync(dir, { recursive: true, force: true }); rmSync(work, { recursive: true, force: true }); } };
}

/** Poll auto.history until the run (the newest of `name` when no id) satisfies pred. */
export async function untilRun(c: AgentClient, name: string, pred: (r: AutomationRun) => boolean = isTerminalRun, ms = 60_000, id?: string): Promise<AutomationRun> {
  const end = Date.now() + ms;
  for (;;) {
    const runs = (await c.call('auto.history', { name, ...(id ? { run: id } : {}), limit: 20 })).runs.filter((r) => r.state !== 'suppressed');
    const r = runs[0];
    if (r && pred(r)) return r;
    if (Date.now() > end && r?.rollout_id) {
      const ro = (await c.call('rollout.get', { id: r.rollout_id })).rollout;
      throw new Error(`run ${r.id} of ${name} still ${r.state}; rollout ${ro.state}: ${ro.decisions.map((d) => `${d.kind}/${d.outcome}: ${d.reason}`).join(' | ')}`);
    }
    if (Date.now() > end) throw new Error(`run of ${name} not there in time: ${r ? `${r.state} — ${r.history.map((h) => `${h.state}: ${h.reason}`).join(' | ')}` : 'none'}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
