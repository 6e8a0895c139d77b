// GpuSource kind 'smi': three long-lived nvidia-smi children streaming CSV (never a spawn per tick): the dynamic
// --query-gpu fields every interval, the static ones (name, PCI id, limits, PCIe link, modes, driver) every
// staticRefreshMs, and --query-compute-apps. When the dynamic rows show another GPU set than the static ones, the
// static child is restarted at once (its first output is immediate), so a new GPU gets its static fields promptly.
// State machine:  idle → probing → (ok: children running) | (absent/unavailable: re-probe timer)
//   ok → child exits → restart with backoff (status stays ok while the last sample is fresh)
//   ok → no first sample within firstSampleTimeoutMs → unavailable, children killed, re-probe.
// Children run in their own process groups (detached) so dispose() kills nvidia-smi and anything
// it spawned; netdata once left orphans by killing only the direct child (§3).
// Child ownership: at most one current child per kind (gpu, apps). A child is restarted only if it
// is still the current one when it exits; killChildren() forgets the children first and cancels
// pending restarts, so a deliberately killed child is never respawned. A killed child that ignores
// SIGTERM gets SIGKILL after killGraceMs. A process 'exit' hook (registered while the source owns
// children, removed on dispose) signals every live child group, because the systemd unit uses
// KillMode=process and a process.exit() (uncaughtException → exit 70) would otherwise orphan them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { GpuState } from '../../../shared/protocol/index.js';
import type { GpuSource, GpuSourceOptions } from './source.js';
import { AppsFramer, GpuSampleFramer, SMI_DYNAMIC_FIELDS, SMI_QUERY_APPS_FIELDS, SMI_STATIC_FIELDS, legacyFields } from './smi-csv.js';
import { pickStatic, StaticRefresh } from './static-refresh.js';
import { STATIC_REFRESH_MS } from './source.js';
import { parseSmiXml } from './smi-xml.js';
import { ProcNameCache, type ProcNameReader } from './proc-name.js';

/** Result of `nvidia-smi -L`: ok with a GPU count, or absent/unavailable with a reason. */
export type SmiProbe = { status: 'ok'; gpuCount: number } | { status: 'absent' | 'unavailable'; reason: string };

/** nvidia-smi binary: explicit option, else env FLEETML_NVIDIA_SMI, else "nvidia-smi" on PATH. */
export function resolveSmiPath(explicit?: string): string {
  return explicit ?? process.env.FLEETML_NVIDIA_SMI ?? 'nvidia-smi';
}

const firstLine = (s: string): string => s.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';

/** Probe with `nvidia-smi -L` (cheapest call; research note §5 step 5). Never throws. */
export function probeNvidiaSmi(smiPath: string, timeoutMs = 15_000): Promise<SmiProbe> {
  return new Promise((resolveProbe) => {
    execFile(smiPath, ['-L'], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const out = `${stdout}\n${stderr}`;
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        return resolveProbe({ status: 'absent', reason: `nvidia-smi not found (${smiPath})` });
      }
      if (/No devices were found/i.test(out)) return resolveProbe({ status: 'absent', reason: 'nvidia-smi: No devices were found' });
      if (err) {
        if ((err as { killed?: boolean }).killed) {
          return resolveProbe({ status: 'unavailable', reason: `nvidia-smi -L timed out after ${timeoutMs} ms` });
        }
        const line = firstLine(stderr) || firstLine(stdout) || err.message;
        const code = typeof (err as { code?: unknown }).code === 'number' ? ` (exit ${(err as { code: number }).code})` : '';
        return resolveProbe({ status: 'unavailable', reason: `nvidia-smi: ${line}${code}` });
      }
      const gpuCount = stdout.split(/\r?\n/).filter((l) => /^GPU \d+:/.test(l)).length;
      resolveProbe(gpuCount > 0 ? { status: 'ok', gpuCount } : { status: 'absent', reason: 'nvidia-smi -L listed no GPUs' });
    });
  });
}

/** Extra knobs for the smi source (defaults in parentheses). */
export interface SmiSourceExtra {
  /** nvidia-smi binary (resolveSmiPath: env FLEETML_NVIDIA_SMI, then "nvidia-smi"). */
  smiPath?: string;
  /** Loop interval of the compute-apps child (max(2000, 2 × intervalMs)). */
  appsIntervalMs?: number;
  /** How long to wait for the first GPU sample after spawning (15000). */
  firstSampleTimeoutMs?: number;
  /** Timeout of the `-L` probe (15000). */
  probeTimeoutMs?: number;
  /** Run `nvidia-smi -q -x` once after start for cuda_version and MIG layout (true). */
  inventory?: boolean;
  /** How long a killed child may ignore SIGTERM before its group gets SIGKILL (2000). */
  killGraceMs?: number;
  /** Name lookup for processes nvidia-smi prints without a name (argv[0] from /proc on Linux). */
  procName?: ProcNameReader;
}

const MAX_BACKOFF_MS = 30_000;

type ChildKind = 'gpu' | 'apps' | 'static';

/** Signal a child's whole process group; fall back to the child itself. Never throws. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) return void process.kill(-child.pid, signal);
  } catch {
    // group already gone or not a leader: fall back to the child itself
  }
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

/** GpuSource kind 'smi' over streaming `--query-gpu` / `--query-compute-apps` children. */
export class SmiGpuSource implements GpuSource {
  readonly kind = 'smi' as const;
  private readonly smiPath: string;
  private readonly appsIntervalMs: number;
  private readonly reprobeMs: number;
  private status: GpuState['status'] = 'unavailable';
  private reason: string | null = 'smi source not started';
  private gpuCount = 0;
  private fields: readonly string[] = SMI_DYNAMIC_FIELDS;
  private staticFields: readonly string[] = SMI_STATIC_FIELDS;
  private legacy = false;
  private gpuFramer = new GpuSampleFramer();
  private staticFramer = new GpuSampleFramer();
  /** When the static child's rows are due (its -lms); a different GPU set in the dynamic rows restarts it. */
  readonly statics: StaticRefresh;
  /** A static child was (re)started and has not printed yet: do not restart it again. */
  private staticPending = false;
  private readonly staticRefreshMs: number;
  private apps = new AppsFramer();
  /** The current child of each kind (the only one whose exit triggers a restart). */
  private children = new Map<ChildKind, ChildProcess>();
  /** Every spawned child that has not exited yet, current or being killed. */
  private live = new Set<ChildProcess>();
  private restartTimers = new Map<ChildKind, NodeJS.Timeout>();
  private exitHook: (() => void) | null = null;
  private readonly names: ProcNameCache;
  private backoff = { gpu: 1000, apps: 1000, static: 1000 };
  private timers = new Set<NodeJS.Timeout>();
  private disposed = false;
  private probing = false;
  private lastSampleAt = 0;
  private inventory: { cuda: string | null; mig: Map<string, GpuState['gpus'][number]['mig_instances']> } = { cuda: null, mig: new Map() };

  constructor(private readonly opts: GpuSourceOptions, private readonly extra: SmiSourceExtra = {}) {
    this.smiPath = resolveSmiPath(extra.smiPath);
    this.appsIntervalMs = extra.appsIntervalMs ?? Math.max(2000, 2 * opts.intervalMs);
    this.reprobeMs = opts.reprobeMs ?? 60_000;
    this.names = new ProcNameCache(extra.procName);
    this.staticRefreshMs = opts.staticRefreshMs ?? STATIC_REFRESH_MS;
    this.statics = new StaticRefresh(this.staticRefreshMs);
  }

  /** Probe, spawn the streams and wait for the first sample; failures set status + re-probe. */
  async start(): Promise<void> {
    await this.tryStart();
  }

  private async tryStart(): Promise<void> {
    if (this.probing || this.disposed) return;
    this.probing = true;
    try {
      const probe = await probeNvidiaSmi(this.smiPath, this.extra.probeTimeoutMs ?? 15_000);
      if (this.disposed) return;
      if (probe.status !== 'ok') return this.notOk(probe.status, probe.reason);
      this.gpuCount = probe.gpuCount;
      this.gpuFramer = new GpuSampleFramer(this.fields, this.gpuCount);
      this.staticFramer = new GpuSampleFramer(this.staticFields, this.gpuCount);
      this.spawnChild('gpu');
      this.spawnChild('static');
      this.spawnChild('apps');
      const got = await this.waitFirstSample(this.extra.firstSampleTimeoutMs ?? 15_000);
      if (this.disposed) return;
      if (!got) {
        this.killChildren();
        return this.notOk('unavailable', `no sample from nvidia-smi within ${this.extra.firstSampleTimeoutMs ?? 15_000} ms`);
      }
      this.status = 'ok';
      this.reason = null;
      this.opts.logger.info({ gpus: this.gpuCount, smi: this.smiPath }, 'gpu smi source streaming');
      if (this.extra.inventory !== false) void this.readInventory();
    } finally {
      this.probing = false;
    }
  }

  private notOk(status: 'absent' | 'unavailable', reason: string): void {
    if (this.status !== status || this.reason !== reason) this.opts.logger.warn({ status, reason }, 'gpu smi source not available');
    this.status = status;
    this.reason = reason;
    this.later(this.reprobeMs, () => void this.tryStart());
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout | null {
    if (this.disposed) return null;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  private cancelRestart(which: ChildKind): void {
    const t = this.restartTimers.get(which);
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(t);
    this.restartTimers.delete(which);
  }

  /** SIGTERM the child's group now, SIGKILL it if the child is still running after the grace. */
  private stopChild(child: ChildProcess): void {
    signalGroup(child, 'SIGTERM');
    if (!this.live.has(child)) return;
    const t = setTimeout(() => signalGroup(child, 'SIGKILL'), this.extra.killGraceMs ?? 2000);
    t.unref();
    child.once('exit', () => clearTimeout(t));
  }

  /** Register the process 'exit' hook once; it synchronously signals every live child group. */
  private hookProcessExit(): void {
    if (this.exitHook) return;
    this.exitHook = () => {
      for (const child of this.live) signalGroup(child, 'SIGTERM');
    };
    process.on('exit', this.exitHook);
  }

  private waitFirstSample(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((done) => {
      const check = (): void => {
        if (this.disposed) return done(false);
        const dynamic = this.gpuFramer.latest() !== null;
        // the static rows normally come with the first dynamic ones; without them the sample lacks only names and limits
        if (dynamic && (this.staticFramer.latest() !== null || Date.now() >= deadline)) return done(true);
        if (Date.now() >= deadline) return done(false);
        setTimeout(check, 50).unref();
      };
      check();
    });
  }

  private args(which: ChildKind): string[] {
    if (which === 'gpu') return [`--query-gpu=${this.fields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.opts.intervalMs)];
    if (which === 'static') return [`--query-gpu=${this.staticFields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.staticRefreshMs)];
    return [`--query-compute-apps=${SMI_QUERY_APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.appsIntervalMs)];
  }

  private spawnChild(which: ChildKind): void {
    if (this.disposed) return;
    // Never two children of a kind: drop a pending restart and retire a current child first.
    this.cancelRestart(which);
    const previous = this.children.get(which);
    if (previous) {
      this.children.delete(which);
      this.stopChild(previous);
    }
    this.hookProcessExit();
    if (which === 'static') { this.staticPending = true; this.staticFramer.resetPartial(); }
    // detached → own process group, so dispose() can signal the whole group.
    const child = spawn(this.smiPath, this.args(which), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(which, child);
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    let lastErr = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (which === 'gpu') {
        if (this.gpuFramer.push(chunk)) {
          this.lastSampleAt = Date.now();
          this.backoff.gpu = 1000;
        }
      } else if (which === 'static') {
        if (this.staticFramer.push(chunk)) {
          this.statics.done(this.staticFramer.latest()!.map((g) => g.uuid));
          this.staticPending = false;
          this.backoff.static = 1000;
        }
      } else {
        this.apps.push(chunk, Date.now());
        this.backoff.apps = 1000;
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (lastErr = firstLine(chunk) || lastErr));
    child.on('error', (err) => (lastErr = err.message));
    child.on('close', (code, signal) => {
      this.live.delete(child); // also covers a spawn failure, which emits no 'exit'
      // A child that was killed or replaced on purpose is not ours to restart.
      if (this.children.get(which) !== child) return;
      this.children.delete(which);
      if (this.disposed) return;
      // Old drivers reject newer fields; fall back to the legacy list once.
      if (which === 'gpu') this.gpuFramer.resetPartial();
      else if (which === 'static') this.staticFramer.resetPartial();
      else this.apps.resetPartial();
      if (which !== 'apps' && /not a valid field/i.test(lastErr) && !this.legacy) this.useLegacyFields();
      const delay = this.backoff[which];
      this.backoff[which] = Math.min(MAX_BACKOFF_MS, delay * 2);
      this.opts.logger.warn({ which, code, signal, stderr: lastErr, restartInMs: delay }, 'nvidia-smi stream exited; restarting');
      const t = this.later(delay, () => {
        this.restartTimers.delete(which);
        this.spawnChild(which);
      });
      if (t) this.restartTimers.set(which, t);
    });
  }

  /** Old drivers reject newer fields: drop them from both --query-gpu lists, once (each child restarts with its own). */
  private useLegacyFields(): void {
    this.legacy = true;
    this.fields = legacyFields(SMI_DYNAMIC_FIELDS);
    this.staticFields = legacyFields(SMI_STATIC_FIELDS);
    this.gpuFramer = new GpuSampleFramer(this.fields, this.gpuCount);
    this.staticFramer = new GpuSampleFramer(this.staticFields, this.gpuCount);
  }

  /** One-shot `-q -x` for what the CSV lacks (CUDA version, MIG instances). Best effort. */
  private readInventory(): Promise<void> {
    return new Promise((done) => {
      execFile(this.smiPath, ['-q', '-x'], { timeout: 60_000, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout) => {
        if (!err && !this.disposed) {
          try {
            const r = parseSmiXml(stdout);
            this.inventory = { cuda: r.cuda_version, mig: new Map(r.gpus.map((g) => [g.uuid, g.mig_instances])) };
          } catch (e) {
            this.opts.logger.debug({ err: (e as Error).message }, 'nvidia-smi -q -x inventory unparseable');
          }
        }
        done();
      });
    });
  }

  /** Latest streamed sample; status stays ok while samples are fresh (3 intervals + 5 s). */
  async refresh(): Promise<GpuState> {
    const base = { source: 'smi' as const, simulated: false, cuda_version: this.inventory.cuda };
    const latest = this.gpuFramer.latest();
    if (this.status !== 'ok' || latest === null) {
      return { ...base, status: this.status, reason: this.reason, driver_version: null, gpus: [] };
    }
    const now = Date.now();
    if (now - this.lastSampleAt > 3 * this.opts.intervalMs + 5000) {
      return { ...base, status: 'unavailable', reason: 'nvidia-smi stream stalled (no recent sample)', driver_version: null, gpus: [] };
    }
    // A GPU set unlike the static rows' (a GPU came or went): restart the static child for fresh rows now.
    if (!this.statics.sameSet(latest.map((g) => g.uuid)) && !this.staticPending) this.spawnChild('static');
    const statics = new Map((this.staticFramer.latest() ?? []).map((g) => [g.uuid, pickStatic(g)]));
    // nvidia-smi leaves process_name empty when it cannot resolve it; fill from /proc (cached per pid).
    const procs = await this.names.fill(this.apps.latestAt(now, 2 * this.appsIntervalMs + 1000));
    const gpus = latest.map((g) => ({
      ...g,
      ...statics.get(g.uuid),
      mig_instances: this.inventory.mig.get(g.uuid) ?? g.mig_instances,
      processes: procs.filter((p) => p.gpu_uuid === g.uuid),
    }));
    return { ...base, status: 'ok', reason: null, driver_version: this.staticFramer.driverVersion(), gpus };
  }

  /** Forget the current children (so their exit restarts nothing), cancel restarts, kill their groups. */
  private killChildren(): void {
    this.cancelRestart('gpu');
    this.cancelRestart('static');
    this.cancelRestart('apps');
    const current = [...this.children.values()];
    this.children.clear();
    for (const child of current) this.stopChild(child);
  }

  /** Kill both children (whole process groups) and clear every timer. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.restartTimers.clear();
    this.killChildren();
    if (this.exitHook) {
      process.off('exit', this.exitHook);
      this.exitHook = null;
    }
  }
}
