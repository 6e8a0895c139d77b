// Fixtures captured by fleetml itself on a real NVIDIA H200 (driver 580.159.04, 2026-11-26), with
// a CUDA process (python3/torch, pid 504, ~1.8 GiB) running: see SOURCES.md. Each test checks
// that our parsers give exactly what the raw text says, and that the independent outputs of one
// machine (nvidia-smi XML, CSV, and our koffi NVML binding's own log) agree with each other.
import { describe, it, expect } from 'vitest';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { parseSmiXml, smiXmlToState } from '../../../agent/telemetry/gpu/smi-xml.js';
import {
  AppsFramer, GpuSampleFramer, SMI_QUERY_APPS_FIELDS, SMI_QUERY_GPU_FIELDS, SMI_QUERY_GPU_FIELDS_LEGACY, parseComputeAppsCsv, parseCsvWithHeader,
  parseQueryGpuCsv,
} from '../../../agent/telemetry/gpu/smi-csv.js';
import { selectProcessLayout } from '../../../agent/telemetry/gpu/nvml-structs.js';
import { readFixture, toNoUnitsLines } from './helpers.js';

const MiB = 2 ** 20;
const UUID = 'GPU-14e98dc8-5831-1c29-ebc0-83958ef15f98';
const XML = 'h200-580.159-procs-q-x.xml';
const CSV = 'query-gpu-h200-580.159-load.csv';
const CSV_NOUNITS = 'query-gpu-h200-580.159-load-noheader-nounits.csv';
const APPS = 'query-compute-apps-h200-580.159-load.csv';
const APPS_NOUNITS = 'query-compute-apps-h200-580.159-load-noheader-nounits.csv';
const NVML_LOG = 'gpu-smoke-nvml-h200-580.159.txt';
const SOURCES_LOG = 'gpu-sources-h200-580.159.txt';

/** One `name -> {"ret":…,"value":…}` line of the smoke log's raw section, in the given run. */
const nvmlLine = (run: 'IDLE' | 'LOAD', call: string): { ret: number; value: unknown } => {
  const log = readFixture(NVML_LOG);
  const part = log.split('######## ').find((p) => p.startsWith(run))!;
  const line = part.split('\n').find((l) => l.startsWith(`${call} -> `));
  if (!line) throw new Error(`no ${call} in ${run}`);
  return JSON.parse(line.slice(call.length + 4)) as { ret: number; value: unknown };
};

/** The process records printed for one listProcesses(api, kind) call in the LOAD run. */
const nvmlProcs = (api: string, kind: string): { pid: number; usedGpuMemory: number; gpuInstanceId: number; computeInstanceId: number }[] => {
  const part = readFixture(NVML_LOG).split('######## ').find((p) => p.startsWith('LOAD'))!;
  const line = part.split('\n').find((l) => l.startsWith(`listProcesses(${api}, ${kind}):`))!;
  return JSON.parse(line.slice(line.indexOf('procs=') + 6)) as ReturnType<typeof nvmlProcs>;
};

describe('H200 -q -x captured by fleetml (DTD v13, driver 580.159.04)', () => {
  const xml = readFixture(XML);
  const r = parseSmiXml(xml);
  const g = r.gpus[0];

  it('raw file says what the test expects (guards against a swapped fixture)', () => {
    for (const s of [
      '<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v13.dtd">', '<driver_version>580.159.04</driver_version>', '<cuda_version>13.0</cuda_version>',
      '<attached_gpus>1</attached_gpus>', '<product_name>NVIDIA H200</product_name>', `<uuid>${UUID}</uuid>`,
      '<total>143771 MiB</total>', '<reserved>616 MiB</reserved>', '<used>1869 MiB</used>', '<free>141288 MiB</free>',
      '<gpu_util>54 %</gpu_util>', '<memory_util>3 %</memory_util>', '<gpu_temp>49 C</gpu_temp>', '<memory_temp>44 C</memory_temp>',
      '<average_power_draw>367.22 W</average_power_draw>', '<instant_power_draw>178.65 W</instant_power_draw>', '<current_power_limit>700.00 W</current_power_limit>',
      '<sm_clock>1980 MHz</sm_clock>', '<mem_clock>3201 MHz</mem_clock>', '<fan_speed>N/A</fan_speed>', '<current_link_gen>5</current_link_gen>',
      '<current_link_width>16x</current_link_width>', '<current_ecc>Enabled</current_ecc>', '<persistence_mode>Enabled</persistence_mode>',
      '<current_mig>Disabled</current_mig>', '<pid>504</pid>', '<process_name>python3</process_name>', '<used_memory>1860 MiB</used_memory>',
    ]) expect(xml).toContain(s);
  });

  it('parses every field we map to the values in the file', () => {
    expect(r.driver_version).toBe('580.159.04');
    expect(r.cuda_version).toBe('13.0');
    expect(r.gpus).toHaveLength(1);
    expect(g).toMatchObject({
      index: 0, uuid: UUID, name: 'NVIDIA H200', pci_bus_id: '00000000:00:06.0', status: 'ok', error: null,
      gpu_util_pct: 54, mem_copy_util_pct: 3, gpu_temp_c: 49, memory_temp_c: 44,
      power_usage_w: 367.22, // the 1 s average, not instant_power_draw (178.65)
      power_limit_w: 700, sm_clock_mhz: 1980, mem_clock_mhz: 3201, fan_speed_pct: null, pstate: 'P0',
      pcie_link_gen: 5, pcie_link_width: 16, ecc_mode: 'enabled', ecc_corrected_volatile: 0, ecc_uncorrected_volatile: 0,
      persistence_mode: 'enabled', mig_mode: 'disabled', mig_instances: [],
    });
    expect(g.fb_total_bytes).toBe(143771 * MiB);
    expect(g.fb_used_bytes).toBe(1869 * MiB);
    expect(g.fb_free_bytes).toBe(141288 * MiB);
    expect(g.fb_reserved_bytes).toBe(616 * MiB);
    expect(g.processes).toEqual([
      { gpu_uuid: UUID, pid: 504, type: 'C', process_name: 'python3', used_gpu_memory_bytes: 1860 * MiB, gpu_instance_id: null, compute_instance_id: null },
    ]);
    GpuState.parse(smiXmlToState(r, 'smi', false));
  });
});

describe('H200 --query-gpu CSV captured by fleetml with our exact field list', () => {
  it('the header is our SMI_QUERY_GPU_FIELDS in order (aliases resolved), so the driver accepts all of them', () => {
    const header = readFixture(CSV).split('\n')[0];
    expect(header).toContain('clocks.current.sm [MHz]'); // nvidia-smi prints the canonical alias
    const names = Object.keys(parseCsvWithHeader(readFixture(CSV))[0]);
    expect(names).toEqual([...SMI_QUERY_GPU_FIELDS]);
  });

  it('header file (with units): values as printed', () => {
    const r = parseQueryGpuCsv(readFixture(CSV));
    expect(r.driver_version).toBe('580.159.04');
    expect(r.gpus[0]).toMatchObject({
      index: 0, uuid: UUID, name: 'NVIDIA H200', pci_bus_id: '00000000:00:06.0', gpu_util_pct: 54, mem_copy_util_pct: 3,
      fb_total_bytes: 143771 * MiB, fb_used_bytes: 1869 * MiB, fb_free_bytes: 141288 * MiB, fb_reserved_bytes: 616 * MiB,
      gpu_temp_c: 49, memory_temp_c: 44, power_usage_w: 363.17, power_limit_w: 700, sm_clock_mhz: 1980, mem_clock_mhz: 3201,
      fan_speed_pct: null, pstate: 'P0', pcie_link_gen: 5, pcie_link_width: 16, ecc_mode: 'enabled', ecc_corrected_volatile: 0,
      ecc_uncorrected_volatile: 0, persistence_mode: 'enabled', mig_mode: 'disabled',
    });
  });

  it('the real noheader,nounits line goes through the streaming framer', () => {
    const f = new GpuSampleFramer(SMI_QUERY_GPU_FIELDS, 1);
    expect(f.push(readFixture(CSV_NOUNITS))).toBe(true);
    expect(f.driverVersion()).toBe('580.159.04');
    const g = f.latest()![0];
    expect(g).toMatchObject({ uuid: UUID, name: 'NVIDIA H200', gpu_temp_c: 51, power_usage_w: 360.39, fb_used_bytes: 1869 * MiB, fan_speed_pct: null });
    GpuState.parse({ status: 'ok', reason: null, source: 'smi', simulated: false, driver_version: '580.159.04', cuda_version: null, gpus: [{ ...g, processes: [] }] });
  });

  it('toNoUnitsLines (how tests derive stream lines from header files) matches the real nounits format', () => {
    // The two captures were separate commands: only temperature.gpu and power.draw moved between them.
    const derived = toNoUnitsLines(readFixture(CSV), SMI_QUERY_GPU_FIELDS)[0].split(', ');
    const real = readFixture(CSV_NOUNITS).trim().split(', ');
    expect(real).toHaveLength(SMI_QUERY_GPU_FIELDS.length);
    const differ = SMI_QUERY_GPU_FIELDS.filter((_f, i) => derived[i] !== real[i]);
    expect(differ).toEqual(['temperature.gpu', 'power.draw']);
    expect(real[SMI_QUERY_GPU_FIELDS.indexOf('fan.speed')]).toBe('[N/A]'); // brackets survive nounits
  });

  it('help-query-gpu of 580.159.04 documents every field we query', () => {
    const PROPERTY_LINE = /^"[^"]+"(?: or "[^"]+")*\s*$/;
    const documented = new Set(readFixture('help-query-gpu-580.159.04.txt').split(/\r?\n/).filter((l) => PROPERTY_LINE.test(l))
      .flatMap((l) => [...l.matchAll(/"([^"]+)"/g)].map((m) => m[1])));
    expect(documented.size).toBeGreaterThan(200);
    expect([...SMI_QUERY_GPU_FIELDS, ...SMI_QUERY_GPU_FIELDS_LEGACY].filter((f) => !documented.has(f))).toEqual([]);
  });
});

describe('H200 --query-compute-apps captured by fleetml', () => {
  const expected = { gpu_uuid: UUID, pid: 504, process_name: 'python3', used_gpu_memory_bytes: 1860 * MiB, gpu_instance_id: null, compute_instance_id: null };
  it('header file', () => {
    expect(readFixture(APPS).split('\n')[0]).toBe('timestamp, gpu_uuid, pid, used_gpu_memory [MiB], process_name');
    expect(parseComputeAppsCsv(readFixture(APPS))).toEqual([{ ...expected, type: null }]);
  });
  it('real noheader,nounits line through the apps framer', () => {
    const a = new AppsFramer();
    a.push(readFixture(APPS_NOUNITS), 1000);
    expect(a.latestAt(1000, 5000)).toEqual([{ ...expected, type: null }]);
    expect(SMI_QUERY_APPS_FIELDS.at(-1)).toBe('process_name');
  });
});

describe('our koffi NVML binding on the same H200 (gpu-smoke log) agrees with nvidia-smi', () => {
  it('system and identity calls', () => {
    expect(nvmlLine('LOAD', 'nvmlSystemGetDriverVersion')).toEqual({ ret: 0, value: '580.159.04' });
    expect(nvmlLine('LOAD', 'nvmlSystemGetCudaDriverVersion_v2')).toEqual({ ret: 0, value: 13000 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetCount_v2')).toEqual({ ret: 0, value: 1 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetName')).toEqual({ ret: 0, value: 'NVIDIA H200' });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetUUID')).toEqual({ ret: 0, value: UUID });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetPciInfo_v3')).toEqual({ ret: 0, value: '00000000:00:06.0' });
  });

  it('nvmlMemory_v2_t out-param: total matches smi MiB exactly; used/reserved round to what smi prints', () => {
    const m = nvmlLine('LOAD', 'nvmlDeviceGetMemoryInfo_v2').value as { total: number; reserved: number; free: number; used: number };
    expect(m.total).toBe(143771 * MiB);
    expect(Math.round(m.used / MiB)).toBe(1869);
    expect(Math.round(m.reserved / MiB)).toBe(615); // smi prints 616 MiB (its own rounding)
    expect(m.total - m.reserved - m.used).toBe(m.free); // v2 semantics: used excludes reserved
    expect(nvmlLine('IDLE', 'nvmlDeviceGetMemoryInfo_v2').value).toMatchObject({ used: 0, reserved: m.reserved });
  });

  it('scalar and pair out-params', () => {
    expect(nvmlLine('LOAD', 'nvmlDeviceGetEnforcedPowerLimit')).toEqual({ ret: 0, value: 700000 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetClockInfo(SM)')).toEqual({ ret: 0, value: 1980 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetClockInfo(MEM)')).toEqual({ ret: 0, value: 3201 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetFanSpeed')).toEqual({ ret: 3, value: null }); // NOT_SUPPORTED ↔ smi N/A
    expect(nvmlLine('LOAD', 'nvmlDeviceGetCurrPcieLinkGeneration')).toEqual({ ret: 0, value: 5 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetCurrPcieLinkWidth')).toEqual({ ret: 0, value: 16 });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetEccMode')).toEqual({ ret: 0, value: { current: 1, pending: 1 } });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetMigMode')).toEqual({ ret: 0, value: { current: 0, pending: 0 } });
    expect(nvmlLine('LOAD', 'nvmlDeviceGetPersistenceMode')).toEqual({ ret: 0, value: 1 });
    expect(nvmlLine('IDLE', 'nvmlDeviceGetClockInfo(SM)')).toEqual({ ret: 0, value: 345 }); // idle clock differs: not a constant
    const util = nvmlLine('LOAD', 'nvmlDeviceGetUtilizationRates').value as { gpu: number; memory: number };
    expect(util.gpu).toBeGreaterThan(30); // the holder kept the GPU ~50 % busy (smi: 49–56 %)
  });

  it('both process APIs decode the same record, equal to smi (pid 504, 1860 MiB, no MIG ids)', () => {
    const want = [{ pid: 504, usedGpuMemory: 1860 * MiB, gpuInstanceId: 0xffffffff, computeInstanceId: 0xffffffff }];
    expect(nvmlProcs('detail-list', 'compute')).toEqual(want);
    expect(nvmlProcs('legacy', 'compute')).toEqual(want);
    expect(nvmlProcs('detail-list', 'graphics')).toEqual([]);
    expect(nvmlProcs('legacy', 'graphics')).toEqual([]);
  });

  it('pynvml on the same machine decoded the same memory struct and process record', () => {
    const py = (key: string): unknown => {
      const line = readFixture('pynvml-h200-580.159.txt').split('\n').find((l) => l.startsWith(`${key} -> `))!;
      return JSON.parse(line.slice(key.length + 4).replaceAll("'", '"'));
    };
    expect(nvmlLine('LOAD', 'nvmlDeviceGetMemoryInfo_v2').value).toEqual(py('mem_v2'));
    const v1 = py('mem_v1') as { used: number };
    const v2 = py('mem_v2') as { used: number; reserved: number };
    expect(v1.used).toBe(v2.used + v2.reserved); // why the binding prefers v2
    expect(py('compute_procs')).toEqual([{ pid: 504, usedGpuMemory: 1860 * MiB, gi: 0xffffffff, ci: 0xffffffff }]);
    expect(py('cuda_v2')).toBe(nvmlLine('LOAD', 'nvmlSystemGetCudaDriverVersion_v2').value);
  });

  it('580 exports every probed symbol: detail list first, 24-byte _v3 fallback', () => {
    const line = readFixture(NVML_LOG).split('\n').find((l) => l.startsWith('symbols: '))!;
    const symbols = new Set(JSON.parse(line.slice(9)) as string[]);
    expect(symbols.size).toBe(12);
    expect(selectProcessLayout(symbols)).toMatchObject({ api: 'detail-list', legacy: { recordSize: 24, compute: 'nvmlDeviceGetComputeRunningProcesses_v3' } });
  });

  it('the mapped NVML source reported ok with the process, and the smi stream flushed per tick', () => {
    const log = readFixture(NVML_LOG);
    expect(log).toContain('status=ok reason=- driver=580.159.04 cuda=13.0');
    expect(log).toContain('"processApi":"detail-list"');
    expect(log).toMatch(/OK: \d+ separate arrivals \(flushes per tick\)/);
    expect(log).toContain('== result: nvml=ok stream=ok');
  });
});

describe('smi and auto(nvml) sources end to end on an H200 (second machine, gpu-sources log)', () => {
  const states = readFixture(SOURCES_LOG).split('\n').filter((l) => l.startsWith('refresh ')).map((l) => {
    expect(l).toMatch(/^refresh \d: schema=ok /);
    return GpuState.parse(JSON.parse(l.slice(l.indexOf('{'))));
  });
  it('both sources produced schema-valid ok states and agree with each other', () => {
    expect(states.map((s) => [s.source, s.status])).toEqual([['smi', 'ok'], ['smi', 'ok'], ['nvml', 'ok'], ['nvml', 'ok']]);
    const [smi, , nvml] = states;
    const a = smi.gpus[0], b = nvml.gpus[0];
    expect(a.uuid).toBe(b.uuid);
    expect(a.fb_total_bytes).toBe(b.fb_total_bytes);
    expect(a.processes.map((p) => [p.pid, p.process_name, p.used_gpu_memory_bytes])).toEqual(b.processes.map((p) => [p.pid, p.process_name, p.used_gpu_memory_bytes]));
    expect(a.processes[0].type).toBeNull(); // --query-compute-apps has no type column
    expect(b.processes[0].type).toBe('C');
    expect(a.memory_temp_c).not.toBeNull(); // smi has HBM temperature,
    expect(b.memory_temp_c).toBeNull(); // NVML field values are not bound yet
  });
  it('dispose left no nvidia-smi child behind', () => {
    const log = readFixture(SOURCES_LOG);
    expect(log.match(/children after dispose:\n\(none\)/g)).toHaveLength(2);
  });
});
