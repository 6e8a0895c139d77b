import type { AgentConfig } from './config.js';
import { splitListen } from './config.js';
import { createLogger, type Logger } from './log.js';
import { openStore } from './store/db.js';
import { Lifecycle } from './lifecycle.js';
import { WebhookSink } from './automation/webhook.js';
import { TokenStore } from './store/tokens.js';
import { AuditLog } from './store/audit.js';
import { nodeIdentity } from './store/identity.js';
import { ensureAdminToken } from './bootstrap.js';
import { HostSource } from './telemetry/host.js';
import { Collector } from './telemetry/collector.js';
import { createGpuSource } from './telemetry/gpu/index.js';
import type { GpuSource } from './telemetry/gpu/source.js';
import { Authenticator } from './api/auth.js';
import { RpcDispatcher } from './api/rpc.js';
import { AgentMetrics } from './api/metrics.js';
import { ApiServer } from './api/server.js';
import { createV2Routes } from './api/http-v2.js';
import { createTopicProviders } from './api/topics.js';
import { nodeHandlers } from './api/handlers/node.js';
import { exposureWarnings } from './api/exposure.js';
import { authHandlers } from './api/handlers/auth.js';
import { subscribeHandlers } from './api/handlers/subscribe.js';
import { tokenHandlers } from './api/handlers/token.js';
import { packageVersion } from '../shared/util/package-root.js';
import type { DriftAlertEvent, HostInfo } from '../shared/protocol/index.js';
import os from 'node:os';
import { join } from 'node:path';
import { createDrivers } from './runtime/index.js';
import { JobStore } from './jobs/job-store.js';
import { LogStore } from './jobs/log-store.js';
import { JobManager } from './jobs/manager.js';
import { GpuProcessAttribution } from './jobs/attribution.js';
import { jobHandlers } from './api/handlers/jobs.js';
import { ModelRuntime } from './serving/runtime.js';
import { ModelRegistry } from './serving/registry.js';
import { ServingManager } from './serving/serving.js';
import { FeedbackStore } from './serving/feedback.js';
import { DriftMonitor } from './drift/monitor.js';
import { DriftStore } from './drift/store.js';
import { driftHandlers } from './api/handlers/drift.js';
import { rolloutHandlers } from './api/handlers/rollout.js';
import { RolloutCoordinator } from './rollout/coordinator.js';
import { RolloutStore } from './rollout/store.js';
import { TestSetUploads } from './rollout/test-set-uploads.js';
import { PeerPool } from './cluster/peers.js';
import { modelBinaryHandlers, modelFeedbackHandlers, modelHandlers } from './api/handlers/models.js';
import { handleBinaryFrame } from './api/binary-rpc.js';
import { AutomationStore } from './automation/store.js';
import { AutomationManager, type AlertSink } from './automation/manager.js';
import { RunRunner, type PerformanceSource } from './automation/runner.js';
import { automationHandlers } from './api/handlers/automation.js';
import { lookupUser } from './runtime/users.js';

/** A running agent: its address and how to stop it. */
export interface RunningAgent {
  config: AgentConfig;
  url: string;
  port: number;
  nodeId: string;
  /** Path of the admin token written on first run, else null. */
  adminTokenFile: string | null;
  collector: Collector;
  /** Model serving (the sampling hook lives here). */
  serving: ServingManager;
  /** The feedback join store (null when feedback.enabled is false): what an automation re-checks on 'labels'. */
  feedback: FeedbackStore | null;
  stop(): Promise<void>;
}

/** Seams for tests, each with its production default. */
export interface AgentDeps {
  /** The clock of the feedback join store (request times, windows, expiry) [Date.now]; other parts use the system clock. */
  now?: () => number;
  /** Where automations read live performance [the agent's own feedback join store]. */
  performance?: PerformanceSource | null;
  /** Where alerts go [the webhook of alerts.webhook_url, when set]. */
  alerts?: AlertSink | null;
}

/**
 * The composition root. Start-up order: store (migrations) → identity/tokens → telemetry sources → first sample
 * → job recovery → API listening (so the agent never serves before it can answer). Shutdown is the reverse;
 * running jobs are left running (processes survive with KillMode=process, containers are engine-owned).
 */
export async function startAgent(config: AgentConfig, log: Logger = createLogger(config.log_level), deps: AgentDeps = {}): Promise<RunningAgent> {
  const startedAt = Date.now();
  const version = packageVersion();
  // Every part is registered the moment it exists; stop (or a failed start) closes them newest first, each awaited:
  // the API before what it serves, the rollout steps in flight and a reference being profiled before the store.
  const life = new Lifecycle((part, e) => log.warn({ part, err: e }, 'a part did not close cleanly'));
  try {
    const db = life.use('store', openStore(config.data_dir), (d) => d.close());
    const tokens = new TokenStore(db);
    const audit = life.use('audit', new AuditLog(db), (a) => a.flush());
    const nodeId = nodeIdentity(db);
    // Audit retention: swept now (before anything is served) and every 10 minutes; stopped before the store closes.
    const auditLog = log.child({ subsystem: 'audit' });
    life.use('audit retention', audit.retain({ retentionMs: config.audit.retention_days * 86_400_000, maxRows: config.audit.max_rows, minAgeMs: config.audit.min_age_h * 3_600_000 },
      (r) => auditLog.info(r, 'audit retention removed rows'), (e) => auditLog.error({ err: e }, 'audit retention sweep failed')));
    const adminTokenFile = ensureAdminToken(tokens, db, config.data_dir);
    if (adminTokenFile) log.info({ path: adminTokenFile }, 'created the first admin token (readable only by this user)');

    const host = life.use('host telemetry', new HostSource(), (h) => h.dispose());
    let hostInfo: HostInfo = await host.info();
    await host.ready();
    const gpu: GpuSource = life.use('gpu', createGpuSource({ choice: config.gpu.source, fixtures: config.gpu.fixtures, intervalMs: config.telemetry.interval_ms,
      reprobeMs: config.gpu.reprobe_s * 1000, staticRefreshMs: config.telemetry.static_refresh_s * 1000, logger: log.child({ subsystem: 'gpu' }) }));
    await gpu.start();

    // Closures below may name parts made further down (metrics → api, collector → job attribution): each runs
    // only once the agent serves or samples, after all of them exist.
    const metrics = new AgentMetrics(config.name, () => collector.latest, {
      conflated: () => api.conflated(),
      subscriptions: () => api.subscriptionTotal(),
    });
    const collector = life.use('telemetry', new Collector(config.name, host, gpu, config.telemetry.interval_ms, config.telemetry.history_s, {
      onCost: (ms) => metrics.sampleSeconds.observe(ms / 1000),
      decorate: (s) => { s.drivers = jobs.driverHealth(); attribution.decorate(s); },
    }), (c) => c.stop());
    // Jobs: recover before serving (house rule 4). Capacity comes from the latest telemetry sample.
    const drivers = life.use('drivers', createDrivers(config, log), (d) => Promise.all(Object.values(d).map((x) => x?.dispose())));
    const threshold = config.jobs.gpu_busy_threshold_bytes;
    const jobs = life.use('jobs', new JobManager({ // dispose leaves running tasks running: the next agent recovers them
      node: config.name, labels: config.labels, store: new JobStore(db, (f, msg) => log.warn(f, msg)), drivers,
      logs: new LogStore(join(config.data_dir, 'jobs'), config.jobs.log_max_bytes),
      starvationMs: config.jobs.starvation_s * 1000, allowedNetworks: config.jobs.allowed_networks, log: log.child({ subsystem: 'jobs' }),
      driverCheckMs: config.jobs.driver_check_s * 1000, sweep: config.jobs.docker_sweep,
      defaultDriver: config.jobs.default_driver ?? (config.jobs.drivers.includes('process') || !config.jobs.drivers.length ? 'process' : config.jobs.drivers[0]),
      capacity: () => ({
        gpus: (collector.latest?.gpu.gpus ?? []).map((x) => ({
          uuid: x.uuid, index: x.index, name: x.name, fb_total_bytes: x.fb_total_bytes,
          busyExternal: x.processes.filter((p) => !p.job_id).reduce((a, p) => a + (p.used_gpu_memory_bytes ?? 0), 0) > threshold,
        })),
        cpus: os.cpus().length, memoryBytes: os.totalmem(), simulated: collector.latest?.gpu.simulated ?? false,
      }),
    }));
    const attribution = new GpuProcessAttribution(() => jobs.handles());

    // Models: registry (swept of interrupted uploads) and worker-thread sessions. CUDA is tried only on a GPU node.
    const runtime = new ModelRuntime({ log: log.child({ subsystem: 'onnx' }) });
    const registry = new ModelRegistry(db, join(config.data_dir, 'models'), config.models.max_bytes, async (file) => {
      const m = await runtime.load(file, { providers: ['cpu'], intraOpThreads: 1, workers: 1 });
      const sig = { inputs: m.inputs, outputs: m.outputs };
      await m.close();
      return sig;
    }, (f, msg) => log.warn(f, msg), { maxPerToken: config.uploads.max_per_token, maxTotal: config.uploads.max_total, expiryMs: config.uploads.expiry_s * 1000 });
    const swept = registry.init();
    if (swept.sweptUploads || swept.sweptArtifacts) log.info(swept, 'removed what interrupted model uploads left');
    life.use('upload expiry', registry.expireEvery((ids) => log.info({ subsystem: 'models', uploads: ids }, 'removed unfinished model uploads idle past uploads.expiry_s'),
      (e) => log.error({ subsystem: 'models', err: e }, 'model upload expiry failed')));
    const hasGpu = () => (collector.latest?.gpu.status === 'ok' && !collector.latest.gpu.simulated && collector.latest.gpu.gpus.length > 0);
    // Feedback: the join store is flushed (its buffer written) when it closes, after the API and before the store.
    const now = deps.now ?? Date.now;
    const fc = config.feedback;
    const feedback = fc.enabled
      ? life.use('feedback', new FeedbackStore(db, { maxPerSecond: fc.max_requests_per_s, maxPerVersion: fc.max_requests_per_version, retentionMs: fc.retention_s * 1000, now }, log.child({ subsystem: 'feedback' }),
        (name, version) => { const v = version ? registry.get(name, version) : registry.list(name)[0] ?? null; return v ? { version: v.version, inputs: v.inputs } : null; }))
      : null;
    if (feedback) {
      feedback.start();
      metrics.addFeedback(() => feedback.versions().map((v) => ({ ...v, ...feedback.performance(v.name, v.version, now() - 3_600_000) })));
    }
    const serving = life.use('serving', new ServingManager(registry, runtime, {
      keep: feedback ? (v, id, f, o) => feedback.record(v, id, f, o) : null,
      get providers() { return hasGpu() ? config.models.providers : ['cpu' as const]; },
      intraOpThreads: config.models.intra_op_threads, workers: config.models.workers,
      maxQueue: config.models.max_queue, requestTimeoutMs: config.models.request_timeout_ms,
      batching: config.models.batching ? { maxBatchSize: config.models.batching.max_batch_size, maxQueueDelayUs: config.models.batching.max_queue_delay_us } : null,
      observer: (model, version, outcome, queueUs, computeUs, batch) => {
        metrics.modelRequests.inc({ model, version, outcome });
        if (outcome === 'ok' && batch) metrics.modelBatch.observe({ model, version }, batch);
        if (outcome === 'ok') { metrics.modelLatency.observe({ model, version, phase: 'queue' }, queueUs / 1e6); metrics.modelLatency.observe({ model, version, phase: 'compute' }, computeUs / 1e6); }
      },
    }, log.child({ subsystem: 'serving' })));
    // Alerts out: an Alertmanager-shaped webhook (closed after the parts that send to it, so their last alerts go out)
    const alerts = config.alerts.webhook_url
      ? life.use('alerts webhook', new WebhookSink({ url: config.alerts.webhook_url, headers: config.alerts.webhook_headers, timeoutMs: config.alerts.webhook_timeout_ms, log: log.child({ subsystem: 'alerts' }), node: config.name }))
      : null;
    // Drift: resumes open windows and judges the ones that closed while the agent was down, before the API serves.
    // Its dispose waits for a reference being profiled.
    const drift = config.drift.enabled
      ? life.use('drift', new DriftMonitor({ store: new DriftStore(db, (f, msg) => log.warn(f, msg)), registry, serving, config: config.drift, log: log.child({ subsystem: 'drift' }), audit,
        uploads: { maxPerToken: config.uploads.max_per_token, maxTotal: config.uploads.max_total } }))
      : null;
    if (drift) {
      drift.start();
      metrics.addDrift(() => ({ versions: drift.gauges(), sampleRates: serving.sampleRates, dropped: serving.samplesDropped }));
      if (alerts) drift.on('alert', (e: DriftAlertEvent) => { void alerts.send([{ kind: 'drift', event: e.type, alert: e.alert, node: config.name }]); });
    }
    await collector.start();
    await jobs.start();
    log.info({ gpu_status: collector.latest?.gpu.status, gpu_source: collector.latest?.gpu.source, reason: collector.latest?.gpu.reason, gpus: collector.latest?.gpu.gpus.length }, 'telemetry started');

    const facts = { config, nodeId, agentVersion: version, startedAt, url: null as string | null, hostInfo: () => hostInfo, warnings: exposureWarnings(config) };
    // The dispatcher first: the rollout coordinator reaches its own node through it (same validation and audit as a
    // remote call); the handlers are registered once every part they serve exists.
    const dispatcher = new RpcDispatcher({}, audit, log.child({ subsystem: 'rpc' }), (method, outcome) => metrics.rpcCalls.inc({ method, outcome }));
    const selfConn = { id: 'rollout-coordinator', addSubscription: () => undefined, removeSubscription: () => false, subscriptionCount: 0, sendEvent: () => undefined };
    const peers = life.use('peers', new PeerPool({
      peers: config.peers,
      self: { name: config.name, url: () => facts.url ?? '', call: (by) => ((method: string, params: unknown) => dispatcher.call(method as never, params, { principal: { tokenId: 'coordinator', tokenName: `rollout:${by}`, role: 'admin' }, remote: null, conn: selfConn })) as never },
    }));
    // its dispose waits for the rollout steps in flight (they write to the store)
    // Test sets staged in chunks (rollout.uploadTestSet) for rollout.start and model.evaluate; in memory, no timer.
    const testSets = new TestSetUploads({ maxPerToken: config.uploads.max_per_token, maxTotal: config.uploads.max_total }, now);
    const rollouts = life.use('rollouts', new RolloutCoordinator({ store: new RolloutStore(db, (f, msg) => log.warn(f, msg)), audit, log: log.child({ subsystem: 'rollout' }), nodes: peers,
      testSets, gpuLoadMinBytes: config.models.gpu_load_min_bytes, gpuPreflightSimulated: config.models.gpu_preflight_simulated }));
    // Automations: after the rollouts they start, before the API. Their job, rollout and registry effects go through
    // this node's dispatcher (validation and audit of any call) under the principal automation:<name>; dispose waits
    // for a step in flight (bounded by the Lifecycle).
    const autoNodes = new PeerPool({
      peers: config.peers,
      self: { name: config.name, url: () => facts.url ?? '', call: (by) => ((method: string, params: unknown) => dispatcher.call(method as never, params, { principal: { tokenId: 'automation', tokenName: by, role: 'admin' }, remote: null, conn: { ...selfConn, id: 'automation' } })) as never },
    });
    life.use('automation peers', autoNodes);
    const jobUser = config.jobs.process_user ? lookupUser(config.jobs.process_user) : null;
    const modelFiles = {
      has: (name: string, v: string) => registry.get(name, v) !== null,
      artifact: (name: string, v: string) => { const x = registry.get(name, v); return x ? registry.file(x) : null; },
      serving: (name: string) => {
        const a = registry.alias(name);
        const main = a ? [...a.targets].sort((x, y) => y.weight - x.weight)[0]?.version ?? null : null;
        return main ?? registry.list(name)[0]?.version ?? null;
      },
      registerFile: async (p: { name: string; version: string; file: string; by: string; lineage: { dataset_sha256: string | null; dataset_name: string | null; meta: Record<string, string> } }) => {
        await registry.registerFile({ name: p.name, version: p.version, file: p.file, lineage: { ...(p.lineage.dataset_sha256 ? { dataset_sha256: p.lineage.dataset_sha256 } : {}), ...(p.lineage.dataset_name ? { dataset_name: p.lineage.dataset_name } : {}), meta: p.lineage.meta } }, p.by);
      },
    };
    // Automations read ground truth from the join store, and their outcomes go to the webhook (both optional)
    const performancePick: PerformanceSource | null = deps.performance !== undefined ? deps.performance : feedback ? {
      performance: (name, version, sinceMs) => { const p = feedback.performance(name, version, sinceMs); return p.labelled > 0 ? p : null; },
      exportLabelled: (name, version, limit) => { const x = feedback.exportLabelled(name, version, limit); return { features: x.header, rows: x.rows, labels: x.labels }; },
      on: (e, f) => feedback.on(e, f),
      off: (e, f) => feedback.off(e, f),
    } : null;
    const alertsPick: AlertSink | null = deps.alerts !== undefined ? deps.alerts : alerts;
    const automation = life.use('automation', new AutomationManager({
      store: new AutomationStore(db, (f, msg) => log.warn(f, msg)), models: modelFiles, audit, log: log.child({ subsystem: 'automation' }),
      nodeNames: () => autoNodes.names(), drift, performance: performancePick, alerts: alertsPick,
      runner: new RunRunner({ nodes: autoNodes, models: modelFiles, performance: performancePick, workDir: config.automation.work_dir ?? `${config.data_dir.replace(/\/+$/, '')}-automation`,
        jobUser: jobUser ? { uid: jobUser.uid, gid: jobUser.gid } : null, log: log.child({ subsystem: 'automation' }) }),
    }));
    const api: ApiServer = new ApiServer({
      config, dispatcher, metrics, log: log.child({ subsystem: 'api' }),
      auth: new Authenticator(tokens, config.api.auth_fail_free, config.api.auth_fail_max_delay_ms),
      identity: { node: config.name, nodeId, agentVersion: version },
      ready: () => collector.latest !== null,
    });
    dispatcher.register({
      ...authHandlers(config.name),
      ...tokenHandlers(tokens, (ids) => api.dropTokens(ids)),
      ...nodeHandlers(facts, collector),
      ...jobHandlers(jobs),
      ...modelHandlers(registry, serving, testSets),
      ...modelFeedbackHandlers(registry, feedback, now),
      ...(drift ? driftHandlers(drift) : {}),
      ...rolloutHandlers(rollouts, testSets),
      ...automationHandlers(automation),
      ...subscribeHandlers(createTopicProviders(collector, jobs, drift, rollouts, automation, { registry, serving })),
    }, modelBinaryHandlers(serving));
    rollouts.start(); // resumes rollouts in progress (each current step restarts its window)
    automation.start(); // resumes runs in flight at their persisted step
    api.addRoute(createV2Routes({ dispatcher, auth: (req) => api.authenticateRequest(req), ready: () => collector.latest !== null, version, log: log.child({ subsystem: 'http-v2' }) }));
    api.binaryHandler = (buf, ctx) => handleBinaryFrame(buf, ctx, dispatcher);
    const { host: h, port } = splitListen(config.listen);
    // right after the API: no queued job starts while the slower parts (rollout steps, drift) close
    life.use('job scheduling', () => jobs.dispose());
    life.use('api', api, (a) => a.close()); // closed first: no call arrives while the parts below it close
    const bound = await api.listen(h, port);
    facts.url = bound.url;
    // static host facts change rarely (hostname, kernel after live patch): refresh every 10 minutes
    const infoTimer = setInterval(() => { host.info().then((i) => { hostInfo = i; }).catch(() => undefined); }, 600_000);
    infoTimer.unref();
    life.use('host info', infoTimer, clearInterval);
    log.info({ url: bound.url, node: config.name, node_id: nodeId, data_dir: config.data_dir, version }, 'agent listening');
    for (const w of facts.warnings) log.warn({ subsystem: 'api', listen: config.listen, tls: false, warning: 'plaintext_network_listen' }, w);
    return {
      config, url: bound.url, port: bound.port, nodeId, adminTokenFile, collector, serving, feedback,
      stop: async () => {
        await life.close();
        log.info({}, 'agent stopped');
      },
    };
  } catch (e) {
    await life.close();
    throw e;
  }
}
