import { AgentClient, RpcCallError } from './agent-client.js';
import type { ClientState, TopicMessage } from './agent-client.js';
import type { Target } from './inventory.js';
import type { DriftHistory, DriftHistoryOptions, DriftReportOptions, FleetActions, FleetNode, FleetSource, ModelAliasRow, NodeConn } from './fleet-types.js';
import { flattenStats } from '../protocol/index.js';
import type { DriftReport, Job, JobSpecInput, LogLine, NodeStats, TopicParamsIn } from '../protocol/index.js';
import type { Rollout, RolloutStartParams } from '../protocol/rollout.js';
import type { AliasTarget, ModelVersion } from '../protocol/models.js';
import type { AutomationRun } from '../protocol/automation.js';

/** Options of a fleet connection. */
export interface FleetClientOptions {
  /** Points kept per metric for sparklines [120]. */
  historyPoints?: number;
  /** Change notifications are batched over this window, ms [100]: many agents → one redraw (the TUI batches again). */
  throttleMs?: number;
  backoffMaxMs?: number;
  pingIntervalMs?: number;
  /** How often serving statistics (and, from an agent older than protocol 1.9 without the models topic, the model
   * list) are refreshed, ms [2000]. */
  modelPollMs?: number;
  /** How often live performance (model.performance, one call per model name) is refreshed, ms [10000]; rounded up to
   * a model poll. After a failure a node waits twice as long each time, up to 60 s. */
  perfPollMs?: number;
}

/** The fields of `o` that are set (strict param schemas reject neither, but the wire stays clean). */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const toConn = (s: ClientState): NodeConn => (s === 'open' ? 'up' : s === 'unauthorized' ? 'unauthorized' : s === 'incompatible' ? 'incompatible' : s === 'connecting' ? 'connecting' : 'unreachable');

/**
 * Connects to every agent of a cluster at once and keeps a FleetNode per agent: info, latest stats, short history.
 * An agent that is down is retried with backoff by its AgentClient and comes back on its own.
 * Listeners are notified at most once per throttle window, however many agents send samples.
 */
/** Topics an agent may not serve (older agent, feature off): subscribed apart so the others keep working. */
type OptionalTopic = 'drift.alerts' | 'rollout.events' | 'auto.events' | 'models';

export class FleetClient implements FleetSource, FleetActions {
  private nodes: FleetNode[];
  private clients: AgentClient[];
  private unnamed: boolean[];
  private subscribed: boolean[];
  /** Per optional topic, whether each node is subscribed to it (see subscribeOptional). */
  private optional: Record<OptionalTopic, boolean[]>;
  private listeners = new Set<() => void>();
  private notifyTimer: NodeJS.Timeout | null = null;
  private readonly points: number;
  private readonly throttleMs: number;
  private readonly modelPollMs: number;
  private readonly perfPollMs: number;
  /** Samples received (for benchmarks). */
  samples = 0;
  /** Last end-to-end delay (receive time − agent sample time) per node, ms. */
  readonly lastDelayMs = new Map<string, number>();
  /** Optional hook called for every sample (benchmarks measure delay with it). */
  onSample: ((node: string, s: NodeStats) => void) | null = null;

  constructor(targets: Target[], o: FleetClientOptions = {}) {
    this.points = o.historyPoints ?? 120;
    this.throttleMs = o.throttleMs ?? 100;
    this.modelPollMs = o.modelPollMs ?? 2000;
    this.perfPollMs = o.perfPollMs ?? 10_000;
    this.nodes = targets.map((t) => ({ name: t.name, url: t.url, conn: 'connecting', error: null, retryInMs: null, info: null, stats: null, lastSeen: null, history: {}, jobs: null, models: null, modelStats: null, modelPerf: null, aliases: null, driftAlerts: null, rollouts: null, automations: null, autoRuns: null }));
    this.unnamed = targets.map((t) => Boolean(t.unnamed));
    this.subscribed = targets.map(() => false);
    this.optional = { 'drift.alerts': targets.map(() => false), 'rollout.events': targets.map(() => false), 'auto.events': targets.map(() => false), 'models': targets.map(() => false) };
    this.clients = targets.map((t) => new AgentClient({ url: t.url, token: t.token, ca: t.ca, backoffMaxMs: o.backoffMaxMs ?? 15_000, pingIntervalMs: o.pingIntervalMs ?? 10_000 }));
  }

  snapshot(): FleetNode[] {
    const now = Date.now();
    return this.nodes.map((n, i) => {
      const at = this.clients[i].nextRetryAt;
      return { ...n, retryInMs: at ? Math.max(0, at - now) : null };
    });
  }

  onChange(l: () => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }

  private changed() {
    if (this.notifyTimer) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = null;
      for (const l of this.listeners) l();
    }, this.throttleMs);
  }

  /** Start connecting to every agent (does not wait for them). */
  start(): void {
    this.modelTimer = setInterval(() => void this.pollModels(), this.modelPollMs);
    this.modelTimer.unref();
    this.clients.forEach((c, i) => {
      c.on('state', (s: ClientState, err: string | null) => {
        const n = this.nodes[i];
        n.conn = toConn(s); n.error = s === 'open' ? null : err;
        if (s === 'open') void this.onOpen(i);
        this.changed();
      });
      c.on('handler-error', () => undefined);
      c.connect().catch(() => undefined);
    });
  }

  private async onOpen(i: number) {
    const c = this.clients[i];
    const n = this.nodes[i];
    try {
      n.info = await c.call('node.info', {});
      if (this.unnamed[i]) n.name = n.info.name;
      // After a reconnect the agent's history is the truth again (it may have restarted): reload it.
      const h = await c.call('node.history', { points: this.points });
      const hist: Record<string, (number | null)[]> = {};
      for (const [k, s] of Object.entries(h.series)) hist[k] = s.values;
      n.history = hist;
      // Subscribe once: AgentClient resubscribes on every reconnect and hands the fresh snapshot to the handler.
      if (!this.subscribed[i]) {
        this.subscribed[i] = true;
        try {
          const sub = await c.subscribe('node.stats', {}, (m) => { if (m.data) this.onStats(i, m.data, m.snapshot); });
          if (sub.snapshot) { n.stats = sub.snapshot; n.lastSeen = Date.now(); }
          const jobs = await c.subscribe('job.events', {}, (m) => this.onJobEvent(i, m));
          this.onJobEvent(i, { snapshot: true, seq: 0, data: jobs.snapshot });
        } catch (e) { this.subscribed[i] = false; throw e; }
      }
      await this.subscribeOptional(i, 'drift.alerts', (m) => this.onDriftAlert(i, m));
      await this.subscribeOptional(i, 'rollout.events', (m) => this.onRolloutEvent(i, m));
      await this.subscribeOptional(i, 'auto.events', (m) => this.onAutoEvent(i, m));
      // Since protocol 1.9 the model list is pushed; an older agent keeps being polled with model.list (pollModels).
      await this.subscribeOptional(i, 'models', (m) => this.onModelsEvent(i, m));
      this.changed();
    } catch (e) {
      n.error = (e as Error).message;
      this.changed();
    }
  }

  private onStats(i: number, s: NodeStats, snapshot: boolean) {
    const n = this.nodes[i];
    const now = Date.now();
    n.stats = s; n.lastSeen = now;
    this.samples++;
    this.lastDelayMs.set(n.name, now - s.ts);
    this.onSample?.(n.name, s);
    if (!snapshot) {
      for (const [k, v] of Object.entries(flattenStats(s))) {
        const arr = n.history[k] ?? (n.history[k] = []);
        arr.push(v);
        if (arr.length > this.points) arr.splice(0, arr.length - this.points);
      }
    }
    this.changed();
  }

  private onJobEvent(i: number, m: TopicMessage<'job.events'>) {
    const n = this.nodes[i];
    if (m.snapshot) { n.jobs = m.data.jobs; this.changed(); return; }
    const ev = m.data;
    const list = n.jobs ?? [];
    if ('removed' in ev) n.jobs = list.filter((j) => j.id !== ev.removed);
    else {
      const k = list.findIndex((j) => j.id === ev.job.id);
      n.jobs = k >= 0 ? list.map((j, x) => (x === k ? ev.job : j)) : [ev.job, ...list];
    }
    this.changed();
  }

  /**
   * Subscribe to an optional topic once per node (AgentClient resubscribes it on every reconnect). An agent that
   * does not know the topic (NOT_FOUND, METHOD_NOT_FOUND) or has the feature off (UNAVAILABLE) leaves its data null;
   * the next reconnect tries again (the agent may have been upgraded meanwhile).
   */
  private async subscribeOptional<T extends OptionalTopic>(i: number, topic: T, on: (m: TopicMessage<T>) => void) {
    const flags = this.optional[topic];
    if (flags[i]) return;
    flags[i] = true;
    try {
      const sub = await this.clients[i].subscribe(topic, {} as TopicParamsIn<T>, on); // these topics take no params
      on({ snapshot: true, seq: 0, data: sub.snapshot });
    } catch (e) {
      flags[i] = false;
      const code = e instanceof RpcCallError ? e.codeName : null;
      if (code !== 'NOT_FOUND' && code !== 'UNAVAILABLE' && code !== 'METHOD_NOT_FOUND') throw e;
    }
  }

  private onDriftAlert(i: number, m: TopicMessage<'drift.alerts'>) {
    const n = this.nodes[i];
    if (m.snapshot) { n.driftAlerts = m.data.alerts; this.changed(); return; }
    const ev = m.data;
    const rest = (n.driftAlerts ?? []).filter((a) => a.id !== ev.alert.id);
    n.driftAlerts = ev.type === 'raised' ? [...rest, ev.alert] : rest;
    this.changed();
  }


  /** Snapshot {rollouts} replaces the list; an event {rollout} replaces that rollout (an older copy is ignored) or adds it. Newest first. */
  private onRolloutEvent(i: number, m: TopicMessage<'rollout.events'>) {
    const n = this.nodes[i];
    if (m.snapshot) {
      n.rollouts = [...m.data.rollouts].sort((a, b) => b.created_at - a.created_at);
      this.changed();
      return;
    }
    const r = m.data.rollout;
    const list = n.rollouts ?? [];
    const old = list.find((x) => x.id === r.id);
    if (old && old.updated_at > r.updated_at) return;
    n.rollouts = [r, ...list.filter((x) => x.id !== r.id)].sort((a, b) => b.created_at - a.created_at);
    this.changed();
  }


  /** Snapshot {automations, runs} replaces both; {automation} / {removed} / {run} update one (an older run copy is ignored). */
  private onAutoEvent(i: number, m: TopicMessage<'auto.events'>) {
    const n = this.nodes[i];
    const newest = (runs: AutomationRun[]) => runs.sort((a, b) => b.created_at - a.created_at).slice(0, 200);
    if (m.snapshot) {
      n.automations = [...m.data.automations];
      n.autoRuns = newest([...m.data.runs]);
    } else if ('automation' in m.data) {
      const a = m.data.automation;
      n.automations = [...(n.automations ?? []).filter((x) => x.name !== a.name), a];
    } else if ('removed' in m.data) {
      const name = m.data.removed;
      n.automations = (n.automations ?? []).filter((x) => x.name !== name);
      n.autoRuns = (n.autoRuns ?? []).filter((r) => r.automation !== name);
    } else {
      const r = m.data.run;
      const list = n.autoRuns ?? [];
      const old = list.find((x) => x.id === r.id);
      if (old && old.updated_at > r.updated_at) return;
      n.autoRuns = newest([r, ...list.filter((x) => x.id !== r.id)]);
    }
    this.changed();
  }

  /** Snapshot {models, aliases} replaces both; {model} replaces (or adds) a version, {removed} drops one, {alias} sets a name's routing. */
  private onModelsEvent(i: number, m: TopicMessage<'models'>) {
    const n = this.nodes[i];
    const newestFirst = (list: ModelVersion[]) => list.sort((a, b) => b.pushed_at - a.pushed_at);
    if (m.snapshot) {
      n.models = newestFirst([...m.data.models]);
      n.aliases = [...m.data.aliases];
    } else if ('model' in m.data) {
      const v = m.data.model;
      n.models = newestFirst([v, ...(n.models ?? []).filter((x) => !(x.name === v.name && x.version === v.version))]);
    } else if ('removed' in m.data) {
      const r = m.data.removed;
      n.models = (n.models ?? []).filter((x) => !(x.name === r.name && x.version === r.version));
    } else {
      const a = m.data.alias;
      n.aliases = [...(n.aliases ?? []).filter((x) => x.name !== a.name), a];
    }
    this.changed();
  }

  async loadModel(node: string, name: string, version: string): Promise<ModelVersion> {
    return (await this.clientOf(node).call('model.load', { name, version })).model;
  }

  async unloadModel(node: string, name: string, version: string): Promise<ModelVersion> {
    return (await this.clientOf(node).call('model.unload', { name, version })).model;
  }

  async aliasModel(node: string, name: string, targets: AliasTarget[], reason?: string): Promise<ModelAliasRow> {
    const r = await this.clientOf(node).call('model.alias', { name, targets, ...defined({ reason }) });
    return { name: r.name, targets: r.targets, updated_at: r.updated_at };
  }

  async startRollout(node: string, params: RolloutStartParams): Promise<Rollout> {
    return (await this.clientOf(node).call('rollout.start', params)).rollout;
  }

  async pauseRollout(node: string, id: string, reason?: string): Promise<Rollout> {
    return (await this.clientOf(node).call('rollout.pause', { id, ...defined({ reason }) })).rollout;
  }

  async resumeRollout(node: string, id: string, reason?: string): Promise<Rollout> {
    return (await this.clientOf(node).call('rollout.resume', { id, ...defined({ reason }) })).rollout;
  }

  async promoteRollout(node: string, id: string, reason?: string): Promise<Rollout> {
    return (await this.clientOf(node).call('rollout.promote', { id, ...defined({ reason }) })).rollout;
  }

  async abortRollout(node: string, id: string, reason?: string): Promise<Rollout> {
    return (await this.clientOf(node).call('rollout.abort', { id, ...defined({ reason }) })).rollout;
  }

  private clientOf(node: string): AgentClient {
    const c = this.client(node);
    if (!c) throw new Error(`no node named "${node}" in this cluster`);
    return c;
  }

  async submitJob(node: string, spec: JobSpecInput): Promise<Job> {
    return (await this.clientOf(node).call('job.submit', { spec })).job;
  }

  async cancelJob(node: string, id: string, reason?: string): Promise<Job> {
    return (await this.clientOf(node).call('job.cancel', { id, ...(reason ? { reason } : {}) })).job;
  }

  async followLogs(node: string, id: string, onLine: (l: LogLine) => void, tail = 200): Promise<() => void> {
    const sub = await this.clientOf(node).subscribe('job.logs', { id, tail }, (m) => {
      if (m.snapshot) for (const l of m.data.lines) onLine(l);
      else onLine(m.data);
    });
    for (const l of sub.snapshot.lines) onLine(l);
    return () => { void sub.close(); };
  }

  async driftReport(node: string, name: string, o: DriftReportOptions = {}): Promise<DriftReport> {
    return this.clientOf(node).call('drift.report', { name, ...defined(o) });
  }

  async driftHistory(node: string, name: string, o: DriftHistoryOptions = {}): Promise<DriftHistory> {
    return this.clientOf(node).call('drift.history', { name, ...defined(o) });
  }

  // Serving figures have no push topic: poll model.stats every modelPollMs per node that is up, never overlapping,
  // backing off on errors; model.list too, only from an agent without the models topic (older than protocol 1.9).
  private modelTimer: NodeJS.Timeout | null = null;
  private modelPolling = false;
  private lastStats = new Map<string, { at: number; requests: number }>();
  /** Per node: no model.performance poll before `until` (ms): perfPollMs after a success; after a failure the delay
   * doubles (from perfPollMs) up to 60 s. */
  private perfBackoff = new Map<string, { until: number; delayMs: number }>();
  private async pollModels(): Promise<void> {
    if (this.modelPolling) return;
    this.modelPolling = true;
    try {
      await Promise.all(this.clients.map(async (c, i) => {
        const n = this.nodes[i];
        if (n.conn !== 'up') return;
        try {
          const pushed = this.optional.models[i];
          const [list, stats] = await Promise.all([pushed ? null : c.call('model.list', {}), c.call('model.stats', {})]);
          const now = Date.now();
          if (list) n.models = list.models;
          n.modelStats = stats.models.map((m) => {
            const k = `${n.name}/${m.name}@${m.version}`;
            const prev = this.lastStats.get(k);
            this.lastStats.set(k, { at: now, requests: m.requests });
            return { ...m, requests_per_s: prev && now > prev.at ? ((m.requests - prev.requests) * 1000) / (now - prev.at) : null };
          });
        } catch { /* an old agent or a hiccup: keep the last figures */ }
        await this.pollPerformance(c, n);
      }));
      this.changed();
    } finally { this.modelPolling = false; }
  }

  /** Live performance of every model of a node (one model.performance per name), backing off on failures (an agent
   * without feedback, or too old for it, answers an error every time). */
  private async pollPerformance(c: AgentClient, n: FleetNode): Promise<void> {
    const b = this.perfBackoff.get(n.name);
    const now = Date.now();
    if (b && now < b.until) return;
    const names = [...new Set((n.models ?? []).map((m) => m.name))];
    // one model removed between model.list and here fails alone; every call failing (no feedback there) backs off
    const res = await Promise.allSettled(names.map((name) => c.call('model.performance', { name, window: '1h' })));
    const ok = res.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (names.length > 0 && ok.length === 0) {
      const delayMs = Math.min(60_000, Math.max(this.perfPollMs, (b?.delayMs ?? 0) * 2));
      this.perfBackoff.set(n.name, { until: now + delayMs, delayMs });
      return;
    }
    n.modelPerf = ok.flatMap((r) => r.versions.map((v) => ({ ...v, name: r.name })));
    this.perfBackoff.set(n.name, { until: now + this.perfPollMs, delayMs: 0 });
  }

  /** The client of one node, for commands that act on it (views never call this). */
  client(name: string): AgentClient | undefined {
    const i = this.nodes.findIndex((n) => n.name === name);
    return i >= 0 ? this.clients[i] : undefined;
  }

  /** Close every connection. */
  async stop(): Promise<void> {
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    if (this.modelTimer) clearInterval(this.modelTimer);
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
