// GPU smoke test for a real GPU node — the only first-hand check of the NVML binding we get.
// Usage (from the package root, on the GPU node):
//   npx vite-node scripts/gpu-smoke.ts [out.xml] [--raw-only]  (or: node dist/scripts/gpu-smoke.js …)
// It (0) prints every NVML binding call raw (return code + decoded out-params, both process APIs),
// (1) loads NVML through our koffi binding and prints the per-GPU table and processes,
// (2) runs the smi CSV stream for 3 s and prints when each line arrived (confirms per-tick flushing
// on a pipe), (3) saves `nvidia-smi -q -x` to out.xml (default ./nvidia-smi-q-x.xml) as a new fixture.
// Exit code 0 when NVML and the stream both worked, 1 otherwise.
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { NvmlGpuSource } from '../agent/telemetry/gpu/nvml.js';
import { loadNvmlLib } from '../agent/telemetry/gpu/nvml-lib.js';
import { NVML_INIT_FLAG_NO_GPUS, selectProcessLayout } from '../agent/telemetry/gpu/nvml-structs.js';
import { SMI_QUERY_GPU_FIELDS } from '../agent/telemetry/gpu/smi-csv.js';
import { resolveSmiPath } from '../agent/telemetry/gpu/smi-source.js';
import type { GpuLogger } from '../agent/telemetry/gpu/source.js';
import { GpuState } from '../shared/protocol/index.js';

const logger: GpuLogger = {
  info: (o, m) => console.log('[info]', m ?? '', JSON.stringify(o)),
  warn: (o, m) => console.log('[warn]', m ?? '', JSON.stringify(o)),
  error: (o, m) => console.log('[error]', m ?? '', JSON.stringify(o)),
  debug: () => undefined,
};
const gib = (b: number | null): string => (b === null ? '-' : (b / 2 ** 30).toFixed(1));

async function nvmlCheck(): Promise<boolean> {
  console.log('== NVML via koffi');
  const src = new NvmlGpuSource({ choice: 'nvml', fixtures: [], intervalMs: 1000, logger });
  const t0 = Date.now();
  await src.start();
  console.log(`start (load + init + self-check): ${Date.now() - t0} ms`);
  const t1 = Date.now();
  const state = await src.refresh();
  console.log(`one refresh: ${Date.now() - t1} ms`);
  await src.dispose();
  const valid = GpuState.safeParse(state);
  if (!valid.success) console.log('schema violation:', valid.error.message);
  console.log(`status=${state.status} reason=${state.reason ?? '-'} driver=${state.driver_version} cuda=${state.cuda_version}`);
  console.table(state.gpus.map((g) => ({
    idx: g.index, name: g.name, uuid: g.uuid, bus: g.pci_bus_id, st: g.status, util: g.gpu_util_pct, mem_util: g.mem_copy_util_pct,
    used_gib: gib(g.fb_used_bytes), total_gib: gib(g.fb_total_bytes), temp: g.gpu_temp_c, power_w: g.power_usage_w,
    limit_w: g.power_limit_w, sm: g.sm_clock_mhz, mem: g.mem_clock_mhz, pstate: g.pstate, ecc: g.ecc_mode, pers: g.persistence_mode, mig: g.mig_mode,
  })));
  const procs = state.gpus.flatMap((g) => g.processes);
  console.log(`processes (${procs.length}):`);
  if (procs.length > 0) console.table(procs.map((p) => ({ gpu: p.gpu_uuid, pid: p.pid, name: p.process_name, type: p.type, used_gib: gib(p.used_gpu_memory_bytes), gi: p.gpu_instance_id, ci: p.compute_instance_id })));
  const mig = state.gpus.flatMap((g) => g.mig_instances.map((m) => ({ gpu: g.index, ...m })));
  if (mig.length > 0) console.table(mig);
  return state.status === 'ok' && valid.success && state.gpus.every((g) => g.status === 'ok');
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));

/**
 * Every binding call, raw: return code and out-parameter value as the binding decoded them, and the
 * process lists through BOTH process APIs, so a wrong layout or an unfilled out-param shows up
 * against nvidia-smi / pynvml printed next to it. Pass --raw-only to run only this section.
 */
async function rawCheck(): Promise<boolean> {
  console.log('== NVML raw binding calls');
  const lib = await loadNvmlLib();
  console.log('symbols:', json([...lib.symbols].sort()));
  console.log('layout:', json(selectProcessLayout(lib.symbols)));
  const init = await lib.nvmlInitWithFlags(NVML_INIT_FLAG_NO_GPUS);
  console.log('nvmlInitWithFlags ->', init);
  if (init !== 0) return false;
  const p = (name: string, r: unknown): void => console.log(`${name} -> ${json(r)}`);
  p('nvmlSystemGetDriverVersion', await lib.nvmlSystemGetDriverVersion());
  p('nvmlSystemGetNVMLVersion', await lib.nvmlSystemGetNVMLVersion());
  p('nvmlSystemGetCudaDriverVersion_v2', await lib.nvmlSystemGetCudaDriverVersion_v2());
  const count = await lib.nvmlDeviceGetCount_v2();
  p('nvmlDeviceGetCount_v2', count);
  for (let i = 0; i < (count.value ?? 0); i++) {
    const h = await lib.nvmlDeviceGetHandleByIndex_v2(i);
    console.log(`-- device ${i}: handle ret=${h.ret} type=${typeof h.value}`);
    if (h.ret !== 0) continue;
    const d = h.value;
    p('nvmlDeviceGetName', await lib.nvmlDeviceGetName(d));
    p('nvmlDeviceGetUUID', await lib.nvmlDeviceGetUUID(d));
    p('nvmlDeviceGetPciInfo_v3', await lib.nvmlDeviceGetPciInfo_v3(d));
    p('nvmlDeviceGetMemoryInfo_v2', await lib.nvmlDeviceGetMemoryInfo_v2(d));
    p('nvmlDeviceGetUtilizationRates', await lib.nvmlDeviceGetUtilizationRates(d));
    p('nvmlDeviceGetTemperature(GPU)', await lib.nvmlDeviceGetTemperature(d, 0));
    p('nvmlDeviceGetPowerUsage', await lib.nvmlDeviceGetPowerUsage(d));
    p('nvmlDeviceGetEnforcedPowerLimit', await lib.nvmlDeviceGetEnforcedPowerLimit(d));
    p('nvmlDeviceGetClockInfo(SM)', await lib.nvmlDeviceGetClockInfo(d, 1));
    p('nvmlDeviceGetClockInfo(MEM)', await lib.nvmlDeviceGetClockInfo(d, 2));
    p('nvmlDeviceGetFanSpeed', await lib.nvmlDeviceGetFanSpeed(d));
    p('nvmlDeviceGetPerformanceState', await lib.nvmlDeviceGetPerformanceState(d));
    p('nvmlDeviceGetCurrPcieLinkGeneration', await lib.nvmlDeviceGetCurrPcieLinkGeneration(d));
    p('nvmlDeviceGetCurrPcieLinkWidth', await lib.nvmlDeviceGetCurrPcieLinkWidth(d));
    p('nvmlDeviceGetEccMode', await lib.nvmlDeviceGetEccMode(d));
    p('nvmlDeviceGetTotalEccErrors(corrected,volatile)', await lib.nvmlDeviceGetTotalEccErrors(d, 0, 0));
    p('nvmlDeviceGetTotalEccErrors(uncorrected,volatile)', await lib.nvmlDeviceGetTotalEccErrors(d, 1, 0));
    p('nvmlDeviceGetPersistenceMode', await lib.nvmlDeviceGetPersistenceMode(d));
    p('nvmlDeviceGetMigMode', await lib.nvmlDeviceGetMigMode(d));
    p('nvmlDeviceGetMaxMigDeviceCount', await lib.nvmlDeviceGetMaxMigDeviceCount(d));
    for (const api of ['detail-list', 'legacy'] as const) {
      for (const kind of ['compute', 'graphics'] as const) {
        const q = await lib.listProcesses(d, kind, 0, api);
        const r = q.ret === 7 ? await lib.listProcesses(d, kind, q.count * 2 + 5, api) : q;
        console.log(`listProcesses(${api}, ${kind}): size query ret=${q.ret} count=${q.count}; fetch ret=${r.ret} count=${r.count} procs=${json(r.procs)}`);
      }
    }
  }
  console.log('nvmlShutdown ->', await lib.nvmlShutdown());
  return true;
}

async function streamCheck(smi: string): Promise<boolean> {
  console.log('== nvidia-smi stream (-lms 500) for 3 s');
  const child = spawn(smi, [`--query-gpu=${SMI_QUERY_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-lms', '500'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const t0 = Date.now();
  const arrivals: number[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = chunk.split('\n').filter(Boolean);
    arrivals.push(Date.now() - t0);
    console.log(`+${Date.now() - t0} ms: ${lines.length} line(s): ${lines[0]?.slice(0, 100)}`);
  });
  child.stderr.on('data', (c: Buffer) => console.log('stderr:', c.toString().trim()));
  child.on('error', (e) => console.log('spawn failed:', e.message)); // ENOENT must not crash the script
  await new Promise((r) => setTimeout(r, 3000));
  child.kill('SIGTERM');
  // Flushing per tick means several separate arrivals in 3 s; one burst at exit means buffering (use stdbuf -oL).
  const ok = arrivals.length >= 4;
  console.log(ok ? `OK: ${arrivals.length} separate arrivals (flushes per tick)` : `WARN: only ${arrivals.length} arrival(s): output is buffered`);
  return ok;
}

async function saveXml(smi: string, out: string): Promise<void> {
  console.log(`== nvidia-smi -q -x → ${out}`);
  const t0 = Date.now();
  const { stdout } = await promisify(execFile)(smi, ['-q', '-x'], { timeout: 120_000, maxBuffer: 32 << 20, encoding: 'utf8' });
  await writeFile(out, stdout);
  console.log(`saved ${stdout.length} bytes in ${Date.now() - t0} ms; add it to test/fixtures/nvidia-smi/ with a SOURCES.md line`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const rawOnly = args.includes('--raw-only');
  const out = args.find((a) => !a.startsWith('--')) ?? 'nvidia-smi-q-x.xml';
  const smi = resolveSmiPath();
  const rawOk = await rawCheck().catch((e: Error) => (console.log('raw check threw:', e.stack ?? e.message), false));
  if (rawOnly) process.exit(rawOk ? 0 : 1);
  const nvmlOk = await nvmlCheck().catch((e: Error) => (console.log('NVML check threw:', e.message), false));
  const streamOk = await streamCheck(smi).catch((e: Error) => (console.log('stream check threw:', e.message), false));
  await saveXml(smi, out).catch((e: Error) => console.log('saving -q -x failed:', e.message));
  console.log(`== result: nvml=${nvmlOk ? 'ok' : 'FAIL'} stream=${streamOk ? 'ok' : 'FAIL'}`);
  process.exit(nvmlOk && streamOk ? 0 : 1);
}

void main();
