// NVML mapping layer: probe ladder, start-up self-check and per-tick sampling on top of an
// injected NvmlLib (the koffi binding in production, a fake with canned return codes in tests).
// Invariants: never throws out of start()/refresh(); a per-GPU failure (GPU_IS_LOST, …) marks only
// that GPU 'error'; LIB_RM_VERSION_MISMATCH marks everything unavailable (driver upgraded).
import type { GpuProcess, GpuSample, GpuState, MigInstance } from '../../../shared/protocol/index.js';
import type { GpuSource, GpuSourceOptions } from './source.js';
import { loadNvmlLib, type NvmlHandle, type NvmlLib, type NvmlResult } from './nvml-lib.js';
import { NVML, NVML_INIT_FLAG_NO_GPUS, instanceIdOrNull, selectProcessLayout, u64OrNull, type ProcessLayout } from './nvml-structs.js';
import { normalizeBusId } from './parse-values.js';
import { ProcNameCache, type ProcNameReader } from './proc-name.js';
import { StaticRefresh } from './static-refresh.js';

/** Outcome of init + count + self-check. */
export type NvmlProbe =
  | { status: 'ok'; driver: string | null; nvmlVersion: string | null; cuda: string | null; count: number; processApi: ProcessLayout['api'] }
  | { status: 'absent' | 'unavailable'; reason: string };

/** Map an nvmlInit failure code to status + reason (research note §5 step 4). */
export function initFailure(ret: number, text: string): { status: 'absent' | 'unavailable'; reason: string } {
  switch (ret) {
    case NVML.DRIVER_NOT_LOADED: return { status: 'unavailable', reason: 'NVIDIA driver not loaded (NVML_ERROR_DRIVER_NOT_LOADED)' };
    case NVML.NO_PERMISSION: return { status: 'unavailable', reason: 'no permission to open /dev/nvidia* device nodes (NVML_ERROR_NO_PERMISSION)' };
    case NVML.LIB_RM_VERSION_MISMATCH: return { status: 'unavailable', reason: 'driver upgraded without reboot: NVML/kernel module version mismatch; reboot or reload the driver' };
    case NVML.LIBRARY_NOT_FOUND: return { status: 'absent', reason: 'NVML library not found (NVML_ERROR_LIBRARY_NOT_FOUND)' };
    case NVML.NOT_FOUND: return { status: 'absent', reason: 'no NVIDIA GPUs found (NVML_ERROR_NOT_FOUND)' };
    default: return { status: 'unavailable', reason: `nvmlInit failed: ${text} (code ${ret})` };
  }
}

/** Codes after which a GPU is unusable until reset: report it as that GPU's error. */
const PER_GPU_FATAL = new Set<number>([NVML.GPU_IS_LOST, NVML.RESET_REQUIRED, NVML.UNKNOWN, NVML.TIMEOUT]);

/** Thrown inside a GPU read to turn the whole GPU into status 'error'. */
class GpuFailure extends Error {
  constructor(readonly ret: number, msg: string) { super(msg); }
}

/** Thrown when NVML reports LIB_RM_VERSION_MISMATCH mid-run: the whole source becomes unavailable. */
class DriverMismatch extends Error {}

function valueOf<T>(lib: NvmlLib, call: string, r: NvmlResult<T>): T | null {
  if (r.ret === NVML.SUCCESS) return r.value;
  if (r.ret === NVML.LIB_RM_VERSION_MISMATCH) throw new DriverMismatch(initFailure(r.ret, '').reason);
  if (PER_GPU_FATAL.has(r.ret)) throw new GpuFailure(r.ret, `${call}: ${lib.nvmlErrorString(r.ret)} (code ${r.ret})`);
  return null; // NOT_SUPPORTED, NO_PERMISSION, …: the field is unknown, not the GPU
}

/** List processes with the size-query dance (0 → INSUFFICIENT_SIZE → count*2+5 → SUCCESS). */
export async function listProcesses(lib: NvmlLib, h: NvmlHandle, kind: 'compute' | 'graphics', api: ProcessLayout['api']) {
  let capacity = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await lib.listProcesses(h, kind, capacity, api);
    if (r.ret === NVML.SUCCESS) return { ret: r.ret, procs: r.procs };
    if (r.ret !== NVML.INSUFFICIENT_SIZE) return { ret: r.ret, procs: [] };
    // Processes start between the two calls; allocate with slack like nvitop does.
    capacity = r.count * 2 + 5;
  }
  return { ret: NVML.INSUFFICIENT_SIZE, procs: [] };
}

/** Processes of one GPU as wire objects; type C, G or C+G when a pid is in both lists. */
export async function readProcesses(lib: NvmlLib, h: NvmlHandle, uuid: string, api: ProcessLayout['api']): Promise<GpuProcess[]> {
  const byPid = new Map<number, GpuProcess>();
  for (const kind of ['compute', 'graphics'] as const) {
    const r = await listProcesses(lib, h, kind, api);
    valueOf(lib, `processes(${kind})`, { ret: r.ret === NVML.INSUFFICIENT_SIZE ? NVML.NOT_SUPPORTED : r.ret, value: null });
    for (const p of r.procs) {
      const prev = byPid.get(p.pid);
      if (prev) { prev.type = prev.type === 'C' && kind === 'graphics' ? 'C+G' : prev.type; continue; }
      byPid.set(p.pid, {
        gpu_uuid: uuid, pid: p.pid, type: kind === 'compute' ? 'C' : 'G', process_name: null, // NVML has no name; the source fills it from /proc
        used_gpu_memory_bytes: u64OrNull(p.usedGpuMemory),
        gpu_instance_id: instanceIdOrNull(p.gpuInstanceId), compute_instance_id: instanceIdOrNull(p.computeInstanceId),
      });
    }
  }
  return [...byPid.values()];
}

/** Self-check of the process records: real pids and memory no larger than the board (§4). */
export function processesSane(procs: GpuProcess[], totalBytes: number | null): boolean {
  return procs.every((p) => p.pid > 0 && (p.used_gpu_memory_bytes === null || totalBytes === null || p.used_gpu_memory_bytes <= totalBytes));
}

async function readMig(lib: NvmlLib, h: NvmlHandle): Promise<MigInstance[]> {
  const max = valueOf(lib, 'nvmlDeviceGetMaxMigDeviceCount', await lib.nvmlDeviceGetMaxMigDeviceCount(h)) ?? 0;
  const out: MigInstance[] = [];
  for (let i = 0; i < max; i++) {
    const mh = await lib.nvmlDeviceGetMigDeviceHandleByIndex(h, i);
    if (mh.ret !== NVML.SUCCESS) continue; // NOT_FOUND marks an empty slot
    const name = (await lib.nvmlDeviceGetName(mh.value)).value;
    const mem = (await lib.nvmlDeviceGetMemoryInfo_v2(mh.value)).value;
    out.push({
      mig_uuid: (await lib.nvmlDeviceGetUUID(mh.value)).value,
      index: i,
      gpu_instance_id: (await lib.nvmlDeviceGetGpuInstanceId(mh.value)).value,
      compute_instance_id: (await lib.nvmlDeviceGetComputeInstanceId(mh.value)).value,
      profile: /(\d+g\.\d+gb)/i.exec(name ?? '')?.[1] ?? null,
      sm_count: null, // needs nvmlDeviceGetAttributes_v2; not bound yet
      fb_total_bytes: u64OrNull(mem?.total), fb_used_bytes: u64OrNull(mem?.used),
    });
  }
  return out;
}

const flag = (v: number | null): 'enabled' | 'disabled' | null => (v === null ? null : v === 1 ? 'enabled' : 'disabled');
const watts = (mw: number | null): number | null => (mw === null ? null : mw / 1000);

/** Static attributes of one GPU, read every staticRefreshMs (StaticRefresh) with the handle the dynamic reads use. */
export interface NvmlStatic {
  index: number; handle: NvmlHandle; uuid: string; name: string | null; pci_bus_id: string | null;
  power_limit_w: number | null; pcie_link_gen: number | null; pcie_link_width: number | null;
  ecc_mode: 'enabled' | 'disabled' | null; persistence_mode: 'enabled' | 'disabled' | null; mig_mode: 'enabled' | 'disabled' | null;
}

/** Names of the NVML calls readGpuStatic makes (a test counts them across ticks). */
export const NVML_STATIC_CALLS = [
  'nvmlDeviceGetHandleByIndex_v2', 'nvmlDeviceGetUUID', 'nvmlDeviceGetName', 'nvmlDeviceGetPciInfo_v3', 'nvmlDeviceGetEnforcedPowerLimit',
  'nvmlDeviceGetCurrPcieLinkGeneration', 'nvmlDeviceGetCurrPcieLinkWidth', 'nvmlDeviceGetEccMode', 'nvmlDeviceGetPersistenceMode', 'nvmlDeviceGetMigMode',
] as const;

/** Read the static attributes of one GPU; a per-GPU fatal code yields that GPU's error sample instead of throwing. */
export async function readGpuStatic(lib: NvmlLib, index: number): Promise<NvmlStatic | GpuSample> {
  let uuid = `unknown-gpu-${index}`;
  try {
    const h = valueOf(lib, 'nvmlDeviceGetHandleByIndex_v2', await lib.nvmlDeviceGetHandleByIndex_v2(index));
    if (h === null) throw new GpuFailure(NVML.UNKNOWN, 'no device handle');
    const v = async <T>(name: string, p: Promise<NvmlResult<T>>): Promise<T | null> => valueOf(lib, name, await p);
    uuid = (await v('nvmlDeviceGetUUID', lib.nvmlDeviceGetUUID(h))) ?? uuid;
    return {
      index, handle: h, uuid,
      name: await v('nvmlDeviceGetName', lib.nvmlDeviceGetName(h)),
      pci_bus_id: normalizeBusId(await v('nvmlDeviceGetPciInfo_v3', lib.nvmlDeviceGetPciInfo_v3(h))),
      power_limit_w: watts(await v('nvmlDeviceGetEnforcedPowerLimit', lib.nvmlDeviceGetEnforcedPowerLimit(h))),
      pcie_link_gen: await v('nvmlDeviceGetCurrPcieLinkGeneration', lib.nvmlDeviceGetCurrPcieLinkGeneration(h)),
      pcie_link_width: await v('nvmlDeviceGetCurrPcieLinkWidth', lib.nvmlDeviceGetCurrPcieLinkWidth(h)),
      ecc_mode: flag((await v('nvmlDeviceGetEccMode', lib.nvmlDeviceGetEccMode(h)))?.current ?? null),
      persistence_mode: flag(await v('nvmlDeviceGetPersistenceMode', lib.nvmlDeviceGetPersistenceMode(h))),
      mig_mode: flag((await v('nvmlDeviceGetMigMode', lib.nvmlDeviceGetMigMode(h)))?.current ?? null),
    };
  } catch (err) {
    if (!(err instanceof GpuFailure)) throw err;
    return errorSample(index, uuid, err.message);
  }
}

/** Read the dynamic fields of one GPU (every tick) on top of its static attributes; a per-GPU fatal code → error sample. */
export async function readGpuDynamic(lib: NvmlLib, st: NvmlStatic, api: ProcessLayout['api']): Promise<GpuSample> {
  const h = st.handle;
  try {
    const v = async <T>(name: string, p: Promise<NvmlResult<T>>): Promise<T | null> => valueOf(lib, name, await p);
    const mem = await v('nvmlDeviceGetMemoryInfo_v2', lib.nvmlDeviceGetMemoryInfo_v2(h));
    const util = await v('nvmlDeviceGetUtilizationRates', lib.nvmlDeviceGetUtilizationRates(h));
    const eccOn = st.ecc_mode === 'enabled';
    const pstate = await v('nvmlDeviceGetPerformanceState', lib.nvmlDeviceGetPerformanceState(h));
    return {
      index: st.index, uuid: st.uuid, name: st.name, pci_bus_id: st.pci_bus_id,
      status: 'ok', error: null,
      gpu_util_pct: util?.gpu ?? null, mem_copy_util_pct: util?.memory ?? null,
      fb_total_bytes: u64OrNull(mem?.total), fb_used_bytes: u64OrNull(mem?.used),
      fb_free_bytes: u64OrNull(mem?.free), fb_reserved_bytes: u64OrNull(mem?.reserved),
      gpu_temp_c: await v('nvmlDeviceGetTemperature', lib.nvmlDeviceGetTemperature(h, 0)),
      memory_temp_c: null, // HBM temperature needs field values (NVML_FI_DEV_MEMORY_TEMP); not bound yet
      power_usage_w: watts(await v('nvmlDeviceGetPowerUsage', lib.nvmlDeviceGetPowerUsage(h))),
      power_limit_w: st.power_limit_w,
      sm_clock_mhz: await v('nvmlDeviceGetClockInfo', lib.nvmlDeviceGetClockInfo(h, 1)),
      mem_clock_mhz: await v('nvmlDeviceGetClockInfo', lib.nvmlDeviceGetClockInfo(h, 2)),
      fan_speed_pct: await v('nvmlDeviceGetFanSpeed', lib.nvmlDeviceGetFanSpeed(h)),
      pstate: pstate === null || pstate === 32 ? null : `P${pstate}`, // 32 = NVML_PSTATE_UNKNOWN
      pcie_link_gen: st.pcie_link_gen, pcie_link_width: st.pcie_link_width,
      ecc_mode: st.ecc_mode,
      ecc_corrected_volatile: eccOn ? u64OrNull(await v('nvmlDeviceGetTotalEccErrors', lib.nvmlDeviceGetTotalEccErrors(h, 0, 0))) : null,
      ecc_uncorrected_volatile: eccOn ? u64OrNull(await v('nvmlDeviceGetTotalEccErrors', lib.nvmlDeviceGetTotalEccErrors(h, 1, 0))) : null,
      persistence_mode: st.persistence_mode,
      mig_mode: st.mig_mode,
      // MIG instances carry used memory, so the layout is read with it each tick (MIG nodes only)
      mig_instances: st.mig_mode === 'enabled' ? await readMig(lib, h) : [],
      processes: await readProcesses(lib, h, st.uuid, api),
    };
  } catch (err) {
    if (!(err instanceof GpuFailure)) throw err;
    return errorSample(st.index, st.uuid, err.message);
  }
}

const isStatic = (x: NvmlStatic | GpuSample): x is NvmlStatic => 'handle' in x;

/** Read one GPU, static and dynamic fields (the start-up self-check); a per-GPU fatal code → error sample. */
export async function readGpu(lib: NvmlLib, index: number, api: ProcessLayout['api']): Promise<GpuSample> {
  const st = await readGpuStatic(lib, index);
  return isStatic(st) ? readGpuDynamic(lib, st, api) : st;
}

function errorSample(index: number, uuid: string, error: string): GpuSample {
  return {
    index, uuid, name: null, pci_bus_id: null, status: 'error', error,
    gpu_util_pct: null, mem_copy_util_pct: null, fb_total_bytes: null, fb_used_bytes: null, fb_free_bytes: null, fb_reserved_bytes: null,
    gpu_temp_c: null, memory_temp_c: null, power_usage_w: null, power_limit_w: null, sm_clock_mhz: null, mem_clock_mhz: null,
    fan_speed_pct: null, pstate: null, pcie_link_gen: null, pcie_link_width: null, ecc_mode: null, ecc_corrected_volatile: null,
    ecc_uncorrected_volatile: null, persistence_mode: null, mig_mode: null, mig_instances: [], processes: [],
  };
}

const cudaText = (v: number | null): string | null => (v === null || v <= 0 ? null : `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`);

/**
 * Probe ladder + self-check: init (NO_GPUS flag), count (0 → absent), then per GPU name/UUID/memory
 * and a process-list sanity check; if the detail-list records look wrong, fall back to the legacy
 * per-version symbols, and if those fail too, report unavailable so 'auto' moves on to smi.
 */
export async function probeNvml(lib: NvmlLib): Promise<NvmlProbe> {
  const init = await lib.nvmlInitWithFlags(NVML_INIT_FLAG_NO_GPUS);
  if (init !== NVML.SUCCESS) return initFailure(init, lib.nvmlErrorString(init));
  const result = await probeAfterInit(lib);
  // Init is reference-counted: release it when we will not use NVML, so a re-probe starts clean.
  if (result.status !== 'ok') await lib.nvmlShutdown().catch(() => undefined);
  return result;
}

async function probeAfterInit(lib: NvmlLib): Promise<NvmlProbe> {
  const count = await lib.nvmlDeviceGetCount_v2();
  if (count.ret !== NVML.SUCCESS) return initFailure(count.ret, lib.nvmlErrorString(count.ret));
  if (!count.value) return { status: 'absent', reason: 'NVML reports no GPUs' };
  const layout = selectProcessLayout(lib.symbols);
  const candidates: ProcessLayout['api'][] = layout.api === 'detail-list' ? ['detail-list', 'legacy'] : ['legacy'];
  let chosen: ProcessLayout['api'] | null = null;
  for (const api of candidates) {
    let sane = true;
    for (let i = 0; i < count.value && sane; i++) {
      const g = await readGpu(lib, i, api).catch((e: Error) => errorSample(i, '', e.message));
      if (g.status === 'error') continue; // a lost GPU is reported per GPU, not a reason to drop NVML
      sane = g.name !== null && g.uuid !== '' && g.fb_total_bytes !== null && processesSane(g.processes, g.fb_total_bytes);
    }
    if (sane) { chosen = api; break; }
  }
  if (chosen === null) return { status: 'unavailable', reason: 'NVML self-check failed (name/UUID/memory or process records not sane)' };
  return {
    status: 'ok', count: count.value, processApi: chosen,
    driver: (await lib.nvmlSystemGetDriverVersion()).value,
    nvmlVersion: (await lib.nvmlSystemGetNVMLVersion()).value,
    cuda: cudaText((await lib.nvmlSystemGetCudaDriverVersion_v2()).value),
  };
}

/** Extra knobs for the NVML source: an injected library (tests) or loader. */
export interface NvmlSourceExtra {
  /** Returns the NVML binding (default loadNvmlLib()); a throw means "library absent". */
  loadLib?: () => Promise<NvmlLib>;
  /** Process-name lookup by pid (default: argv[0] from /proc/<pid>/cmdline on Linux). */
  procName?: ProcNameReader;
  /** Clock of the static-refresh policy, ms (default Date.now). */
  now?: () => number;
}

/** GpuSource kind 'nvml'. */
export class NvmlGpuSource implements GpuSource {
  readonly kind = 'nvml' as const;
  private lib: NvmlLib | null = null;
  private probe: NvmlProbe = { status: 'unavailable', reason: 'NVML source not started' };
  private timer: NodeJS.Timeout | null = null;
  private disposed = false;
  private readonly names: ProcNameCache;
  /** When the static attributes below are read again (staticRefreshMs, or a change in the device count). */
  readonly statics: StaticRefresh;
  private gpus: Array<NvmlStatic | GpuSample> = [];
  private versions: { driver: string | null; cuda: string | null } = { driver: null, cuda: null };

  constructor(private readonly opts: GpuSourceOptions, private readonly extra: NvmlSourceExtra = {}) {
    this.names = new ProcNameCache(extra.procName);
    this.statics = new StaticRefresh(opts.staticRefreshMs, extra.now);
  }

  /** Load the library and run the probe ladder; never throws. */
  async start(): Promise<void> {
    if (this.disposed) return;
    try {
      this.lib ??= await (this.extra.loadLib ?? (() => loadNvmlLib()))();
      this.probe = await probeNvml(this.lib);
    } catch (err) {
      const msg = (err as Error).message;
      this.probe = this.lib ? { status: 'unavailable', reason: `NVML error: ${msg}` } : { status: 'absent', reason: `NVML library not loadable: ${msg}` };
    }
    if (this.probe.status === 'ok') {
      this.statics.invalidate(); // handles from before a re-probe are not to be trusted
      this.opts.logger.info({ driver: this.probe.driver, nvml: this.probe.nvmlVersion, gpus: this.probe.count, processApi: this.probe.processApi }, 'gpu nvml source ready');
    } else {
      this.opts.logger.warn({ status: this.probe.status, reason: this.probe.reason }, 'gpu nvml source not available');
      this.scheduleReprobe();
    }
  }

  /** Status of the last probe (lets 'auto' decide whether to fall back). */
  get probeStatus(): NvmlProbe { return this.probe; }

  private scheduleReprobe(): void {
    if (this.disposed || this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; void this.start(); }, this.opts.reprobeMs ?? 60_000);
    this.timer.unref();
  }

  /** Static attributes of every GPU and the driver/CUDA versions; the GPU set they found goes to the policy. */
  private async readStatics(lib: NvmlLib, count: number): Promise<void> {
    this.gpus = await Promise.all(Array.from({ length: count }, (_, i) => readGpuStatic(lib, i)));
    this.versions = {
      driver: (await lib.nvmlSystemGetDriverVersion()).value,
      cuda: cudaText((await lib.nvmlSystemGetCudaDriverVersion_v2()).value),
    };
    this.statics.done(this.gpus.map((g) => g.uuid));
  }

  /**
   * One sample of every GPU (in parallel through koffi's async pool): the device count and the dynamic fields every
   * tick; the static attributes when StaticRefresh says so, at once when the count changed, and on the tick after a
   * GPU reported an error (its handle may be stale).
   */
  async refresh(): Promise<GpuState> {
    const base = { source: 'nvml' as const, simulated: false };
    const p = this.probe;
    if (p.status !== 'ok' || !this.lib) {
      return { ...base, status: p.status === 'ok' ? 'unavailable' : p.status, reason: p.status === 'ok' ? 'NVML not loaded' : p.reason, driver_version: null, cuda_version: null, gpus: [] };
    }
    try {
      const lib = this.lib;
      const c = await lib.nvmlDeviceGetCount_v2();
      if (c.ret === NVML.LIB_RM_VERSION_MISMATCH) throw new DriverMismatch(initFailure(c.ret, '').reason);
      if (c.ret !== NVML.SUCCESS || c.value === null) throw new Error(`nvmlDeviceGetCount_v2: ${lib.nvmlErrorString(c.ret)} (code ${c.ret})`);
      if (c.value !== this.gpus.length) this.statics.invalidate();
      if (this.statics.due()) await this.readStatics(lib, c.value);
      const read = await Promise.all(this.gpus.map((g) => (isStatic(g) ? readGpuDynamic(lib, g, p.processApi) : g)));
      if (read.some((g) => g.status === 'error')) this.statics.invalidate();
      // One cached lookup for all GPUs (a pid may use several); only new pids touch /proc.
      const named = await this.names.fill(read.flatMap((g) => g.processes));
      let at = 0;
      const gpus = read.map((g) => ({ ...g, processes: named.slice(at, (at += g.processes.length)) }));
      return { ...base, status: 'ok', reason: null, driver_version: this.versions.driver ?? p.driver, cuda_version: this.versions.cuda ?? p.cuda, gpus };
    } catch (err) {
      this.gpus = [];
      this.statics.invalidate();
      this.probe = { status: 'unavailable', reason: err instanceof DriverMismatch ? err.message : `NVML error: ${(err as Error).message}` };
      this.scheduleReprobe();
      return this.refresh();
    }
  }

  /** Stop the re-probe timer and release NVML. */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.lib && this.probe.status === 'ok') await this.lib.nvmlShutdown().catch(() => undefined);
  }
}
