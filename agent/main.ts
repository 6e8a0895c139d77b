import type { AgentConfig } from './config.js';
import { splitListen } from './config.js';
import { createLogger, type Logger } from './log.js';
import { openStore, type Db } from './store/db.js';
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
import { authHandlers } from './api/handlers/auth.js';
import { subscribeHandlers } from './api/handlers/subscribe.js';
import { tokenHandlers } from './api/handlers/token.js';
import { packageVersion } from '../shared/util/package-root.js';
import type { HostInfo } from '../shared/protocol/index.js';
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
import { DriftMonitor } from './drift/monitor.js';
import { DriftStore } from './drift/store.js';
import { driftHandlers } from './api/handlers/drift.js';
import { rolloutHandlers } from './api/handlers/rollout.js';
import { RolloutCoordinator } from './rollout/coordinator.js';
import { RolloutStore } from './rollout/store.js';
import { PeerPool } from './cluster/peers.js';
import { modelBinaryHandlers, modelHandlers } from './api/handlers/models.js';
import { handleBinaryFrame } from './api/binary-rpc.js';

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
  stop(): Promise<void>;
}

/**
 * The composition root. Start-up order: store (migrations) → identity/tokens → telemetry sources → first sample
 * → job recovery → API listening (so the agent never serves before it can answer). Shutdown is the reverse;
 * running jobs are left running (processes survive with KillMode=process, containers are engine-owned).
 */
export async function startAgent(config: AgentConfig, log: Logger = createLogger(config.log_level)): Promise<RunningAgent> {
  const startedAt = Date.now();
  const version = packageVersion();
  let db: Db | null = null;
  let gpu: GpuSource | null = null;
  let collector: Collector | null = null;
  let api: ApiServer | null = null;
  let jobs: JobManager | null = null;
  let serving: ServingManager | null = null;
  let drift: DriftMonitor | null = null;
  let rollouts: RolloutCoordinator | null = null;
  let peers: PeerPool | null = null;
  let driversRef: Partial<Record<string, { dispose(): Promise<void> }>> = {};
  let audit: AuditLog | null = null;
  const cleanup = async () => {
    await api?.close().catch(() => undefined);
    await jobs?.dispose().catch(() => undefined); // running tasks keep running: the next agent recovers them
    await rollouts?.dispose().catch(() => undefined); // waits for the rollout steps in flight (they write to the store)
    await peers?.dispose().catch(() => undefined);
    await drift?.dispose(); // waits for a reference being profiled: the database closes below
    await serving?.dispose().catch(() => undefined);
    await Promise.all(Object.values(driversRef).map((d) => d?.dispose().catch(() => undefined)));
    await collector?.stop().catch(() => undefined);
    await gpu?.dispose().catch(() => undefined);
    try { audit?.flush(); } catch { /* the store is going away */ }
    db?.close();
  };
  try {
    db = openStore(config.data_dir);
    const tokens = new TokenStore(db);
    audit = new AuditLog(db);
    const nodeId = nodeIdentity(db);
    const adminTokenFile = ensureAdminToken(tokens, db, config.data_dir);
    if (adminTokenFile) log.info({ path: adminTokenFile }, 'created the first admin token (readable only by this user)');

    const host = new HostSource();
    let hostInfo: HostInfo = await host.info();
    await host.ready();
    const g: GpuSource = createGpuSource({ choice: config.gpu.source, fixtures: config.gpu.fixtures, intervalMs: config.telemetry.interval_ms,
      reprobeMs: config.gpu.reprobe_s * 1000, logger: log.child({ subsystem: 'gpu' }) });
    gpu = g;
    await g.start();

    let metrics: AgentMetrics | null = null;
    collector = new Collector(config.name, host, g, config.telemetry.interval_ms, config.telemetry.history_s,
      (ms) => metrics?.sampleSeconds.observe(ms / 1000));
    const c = collector;
    let apiRef: ApiServer | null = null;
    metrics = new AgentMetrics(config.name, () => c.latest, {
      conflated: () => apiRef?.conflated() ?? 0,
      subscriptions: () => apiRef?.subscriptionTotal() ?? 0,
    });
    const m = metrics;
    // Jobs: recover before serving (house rule 4). Capacity comes from the latest telemetry sample.
    const drivers = createDrivers(config, log);
    driversRef = drivers;
    const jobStore = new JobStore(db, (f, msg) => log.warn(f, msg));
    const threshold = config.jobs.gpu_busy_threshold_bytes;
    jobs = new JobManager({
      node: config.name, labels: config.labels, store: jobStore, drivers,
      logs: new LogStore(join(config.data_dir, 'jobs'), config.jobs.log_max_bytes),
      starvationMs: config.jobs.starvation_s * 1000, allowedNetworks: config.jobs.allowed_networks, log: log.child({ subsystem: 'jobs' }),
      capacity: () => ({
        gpus: (c.latest?.gpu.gpus ?? []).map((x) => ({
          uuid: x.uuid, index: x.index, name: x.name, fb_total_bytes: x.fb_total_bytes,
          busyExternal: x.processes.filter((p) => !p.job_id).reduce((a, p) => a + (p.used_gpu_memory_bytes ?? 0), 0) > threshold,
        })),
        cpus: os.cpus().length, memoryBytes: os.totalmem(), simulated: c.latest?.gpu.simulated ?? false,
      }),
    });
    const jm = jobs;

    // Models: registry (swept of interrupted uploads) and worker-thread sessions. CUDA is tried only on a GPU node.
    const runtime = new ModelRuntime({ log: log.child({ subsystem: 'onnx' }) });
    const registry = new ModelRegistry(db, join(config.data_dir, 'models'), config.models.max_bytes, async (file) => {
      const m = await runtime.load(file, { providers: ['cpu'], intraOpThreads: 1, workers: 1 });
      const sig = { inputs: m.inputs, outputs: m.outputs };
      await m.close();
      return sig;
    });
    const swept = registry.init();
    if (swept.sweptUploads || swept.sweptArtifacts) log.info(swept, 'removed what interrupted model uploads left');
    const hasGpu = () => (c.latest?.gpu.status === 'ok' && !c.latest.gpu.simulated && c.latest.gpu.gpus.length > 0);
    serving = new ServingManager(registry, runtime, {
      get providers() { return hasGpu() ? config.models.providers : ['cpu' as const]; },
      intraOpThreads: config.models.intra_op_threads, workers: config.models.workers,
      maxQueue: config.models.max_queue, requestTimeoutMs: config.models.request_timeout_ms,
      batching: config.models.batching ? { maxBatchSize: config.models.batching.max_batch_size, maxQueueDelayUs: config.models.batching.max_queue_delay_us } : null,
    }, log.child({ subsystem: 'serving' }));
    const sm = serving;
    sm.observer = (model, version, outcome, queueUs, computeUs, batch) => {
      metrics?.modelRequests.inc({ model, version, outcome });
      if (outcome === 'ok' && batch) metrics?.modelBatch.observe({ model, version }, batch);
      if (outcome === 'ok') { metrics?.modelLatency.observe({ model, version, phase: 'queue' }, queueUs / 1e6); metrics?.modelLatency.observe({ model, version, phase: 'compute' }, computeUs / 1e6); }
    };
    // Drift: resumes open windows and judges the ones that closed while the agent was down, before the API serves.
    if (config.drift.enabled) {
      drift = new DriftMonitor({ store: new DriftStore(db), registry, serving: sm, config: config.drift, log: log.child({ subsystem: 'drift' }), audit });
      drift.start();
      const dm = drift;
      m.addDrift(() => ({ versions: dm.gauges(), sampleRates: sm.sampleRates, dropped: sm.samplesDropped }));
    }
    const attribution = new GpuProcessAttribution(() => jm.handles());
    collector.decorate = (s) => attribution.decorate(s);
    await collector.start();
    await jm.start();
    log.info({ gpu_status: c.latest?.gpu.status, gpu_source: c.latest?.gpu.source, reason: c.latest?.gpu.reason, gpus: c.latest?.gpu.gpus.length }, 'telemetry started');

    const facts = { config, nodeId, agentVersion: version, startedAt, url: null as string | null, hostInfo: () => hostInfo };
    // Rollouts: this agent coordinates the ones it is asked to start; its own node goes through the dispatcher (same
    // validation and audit as a remote call), other nodes through their API with the peers' tokens.
    let dispatcherRef: RpcDispatcher | null = null;
    const selfConn = { id: 'rollout-coordinator', addSubscription: () => undefined, removeSubscription: () => false, subscriptionCount: 0, sendEvent: () => undefined };
    peers = new PeerPool({
      peers: config.peers,
      self: { name: config.name, url: () => facts.url ?? '', call: (by) => ((method: string, params: unknown) => dispatcherRef!.call(method as never, params, { principal: { tokenId: 'coordinator', tokenName: `rollout:${by}`, role: 'admin' }, remote: null, conn: selfConn })) as never },
    });
    rollouts = new RolloutCoordinator({ store: new RolloutStore(db), audit, log: log.child({ subsystem: 'rollout' }), nodes: peers });
    const ro = rollouts;
    const handlers = {
      ...authHandlers(config.name),
      ...tokenHandlers(tokens, (ids) => apiRef?.dropTokens(ids)),
      ...nodeHandlers(facts, collector),
      ...jobHandlers(jm),
      ...modelHandlers(registry, sm),
      ...(drift ? driftHandlers(drift) : {}),
      ...rolloutHandlers(ro),
      ...subscribeHandlers(createTopicProviders(collector, jm, drift, ro)),
    };
    const dispatcher = new RpcDispatcher(handlers, audit, log.child({ subsystem: 'rpc' }), (method, outcome) => m.rpcCalls.inc({ method, outcome }), modelBinaryHandlers(sm));
    dispatcherRef = dispatcher;
    ro.start(); // resumes rollouts in progress (each current step restarts its window)
    api = new ApiServer({
      config, dispatcher, metrics, log: log.child({ subsystem: 'api' }),
      auth: new Authenticator(tokens, config.api.auth_fail_free, config.api.auth_fail_max_delay_ms),
      identity: { node: config.name, nodeId, agentVersion: version },
      ready: () => c.latest !== null,
    });
    const srv = api;
    api.addRoute(createV2Routes({ dispatcher, auth: (req) => srv.authenticateRequest(req), ready: () => c.latest !== null, version, log: log.child({ subsystem: 'http-v2' }) }));
    api.binaryHandler = (buf, ctx) => handleBinaryFrame(buf, ctx, dispatcher);
    apiRef = api;
    const { host: h, port } = splitListen(config.listen);
    const bound = await api.listen(h, port);
    facts.url = bound.url;
    // static host facts change rarely (hostname, kernel after live patch): refresh every 10 minutes
    const infoTimer = setInterval(() => { host.info().then((i) => { hostInfo = i; }).catch(() => undefined); }, 600_000);
    infoTimer.unref();
    log.info({ url: bound.url, node: config.name, node_id: nodeId, data_dir: config.data_dir, version }, 'agent listening');
    let stopped = false;
    return {
      config, url: bound.url, port: bound.port, nodeId, adminTokenFile, collector, serving: sm,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        clearInterval(infoTimer);
        await cleanup();
        log.info({}, 'agent stopped');
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
