import { describe, it, expect } from 'vitest';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import {
  AppsFramer, GpuSampleFramer, SMI_QUERY_APPS_FIELDS, SMI_QUERY_GPU_FIELDS, SMI_QUERY_GPU_FIELDS_LEGACY, parseComputeAppsCsv, parseCsvWithHeader,
  parseQueryGpuCsv, splitLimit,
} from '../../../agent/telemetry/gpu/smi-csv.js';
import type { GpuProcess, GpuSample } from '../../../shared/protocol/index.js';
import { readFixture, toNoUnitsLines } from './helpers.js';

const MiB = 2 ** 20;
const H100 = 'query-gpu-h100-80gb-hbm3-590.48-load.csv';
const H100_MIG = 'query-gpu-h100-mig-590.48-load.csv';
const validate = (gpus: GpuSample[], processes: GpuProcess[] = []) =>
  GpuState.parse({
    status: 'ok', reason: null, source: 'smi', simulated: false, driver_version: '590.48.01', cuda_version: null,
    gpus: gpus.map((g) => ({ ...g, processes: processes.filter((p) => p.gpu_uuid === g.uuid) })),
  });

describe('header-driven --query-gpu CSV', () => {
  it('parses all 212 columns of the H100 load capture', () => {
    const recs = parseCsvWithHeader(readFixture(H100));
    expect(recs).toHaveLength(1);
    expect(Object.keys(recs[0])).toHaveLength(212);
    expect(recs[0]['platform.chassis_serial_number']).toBe(''); // the empty field
    expect(recs[0]['display_mode']).toBe('[Requested functionality has been deprecated]');
  });

  it('maps the H100 (MIG disabled) values with units stripped', () => {
    const r = parseQueryGpuCsv(readFixture(H100));
    expect(r.driver_version).toBe('590.48.01');
    const g = r.gpus[0];
    expect(g).toMatchObject({
      index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-00000000-0000-0000-0000-000000000000', pci_bus_id: '00000000:00:09.0',
      gpu_util_pct: 100, mem_copy_util_pct: 11, gpu_temp_c: 59, memory_temp_c: 54, power_usage_w: 631.95, power_limit_w: 700,
      sm_clock_mhz: 1980, mem_clock_mhz: 2619, fan_speed_pct: null, pstate: 'P0', pcie_link_gen: 5, pcie_link_width: 16,
      ecc_mode: 'enabled', ecc_corrected_volatile: 0, ecc_uncorrected_volatile: 0, persistence_mode: 'enabled', mig_mode: 'disabled',
    });
    expect(g.fb_total_bytes).toBe(81559 * MiB);
    expect(g.fb_used_bytes).toBe(19818 * MiB);
    expect(g.fb_free_bytes).toBe(61263 * MiB);
    expect(g.fb_reserved_bytes).toBe(479 * MiB);
    validate(r.gpus);
  });

  it('MIG enabled: utilisation is null, memory and power are board totals', () => {
    const g = parseQueryGpuCsv(readFixture(H100_MIG)).gpus[0];
    expect(g.mig_mode).toBe('enabled');
    expect(g.gpu_util_pct).toBeNull();
    expect(g.mem_copy_util_pct).toBeNull();
    expect(g.fb_used_bytes).toBe(11125 * MiB);
    expect(g.power_usage_w).toBe(433.78);
    expect(g.mig_instances).toEqual([]);
    validate([g]);
  });
});

describe('--query-compute-apps CSV', () => {
  it('H100 MIG: 3 processes with parent UUID and no GI/CI', () => {
    const procs = parseComputeAppsCsv(readFixture('query-compute-apps-h100-mig-590.48-load.csv'));
    expect(procs.map((p) => [p.pid, p.process_name, p.used_gpu_memory_bytes])).toEqual([
      [21180, '/root/tools/memhog', 2296 * MiB],
      [21181, '/root/tools/memhog', 1272 * MiB],
      [21198, './gpu_burn', 7484 * MiB],
    ]);
    expect(procs.every((p) => p.gpu_instance_id === null && p.compute_instance_id === null && p.type === null)).toBe(true);
    validate(parseQueryGpuCsv(readFixture(H100_MIG)).gpus, procs);
  });

  it('Windows RTX 2080 SUPER: 12 processes, paths with spaces intact, [N/A] memory → null', () => {
    const procs = parseComputeAppsCsv(readFixture('query-compute-apps-rtx-2080-super-win-591.86-load.csv'));
    expect(procs).toHaveLength(12);
    expect(procs.every((p) => p.used_gpu_memory_bytes === null)).toBe(true);
    expect(procs.find((p) => p.pid === 20372)?.process_name).toBe('C:\\Program Files\\NZXT CAM\\NZXT CAM.exe');
    expect(procs.find((p) => p.pid === 4680)?.process_name).toBe('C:\\Program Files\\NVIDIA Corporation\\NVIDIA GeForce Experience\\NVIDIA Share.exe');
  });

  it('a process name containing ", " survives when it is the last column', () => {
    expect(splitLimit('a, 1, 2, /opt/x, y/run, me', 4)).toEqual(['a', '1', '2', '/opt/x, y/run, me']);
    const csv = 'timestamp, gpu_uuid, pid, process_name, used_gpu_memory [MiB]\n1, GPU-a, 7, /opt/odd, name/bin, 5 MiB\n';
    expect(parseComputeAppsCsv(csv)[0]).toMatchObject({ pid: 7, process_name: '/opt/odd, name/bin', used_gpu_memory_bytes: 5 * MiB });
  });
});

describe('streaming noheader,nounits lines through the framer', () => {
  const h100 = toNoUnitsLines(readFixture(H100), SMI_QUERY_GPU_FIELDS)[0];
  const mig = toNoUnitsLines(readFixture(H100_MIG), SMI_QUERY_GPU_FIELDS)[0];

  it('derived lines are bare numbers with [N/A] kept', () => {
    expect(h100).toContain(', 19818, ');
    expect(h100).toContain('[N/A]');
    expect(h100.endsWith('NVIDIA H100 80GB HBM3')).toBe(true);
  });

  it('groups lines by index wrapping to 0 and keeps only the latest sample', () => {
    const asGpu1 = mig.replace(/^0, GPU-00000000-0000-0000-0000-000000000000/, '1, GPU-00000000-0000-0000-0000-000000000001');
    const f = new GpuSampleFramer(SMI_QUERY_GPU_FIELDS);
    // Tick 1 (two GPUs), split mid-line across chunks as a pipe may deliver it.
    const tick = `${h100}\n${asGpu1}\n`;
    expect(f.push(tick.slice(0, 40))).toBe(false);
    expect(f.push(tick.slice(40))).toBe(false); // not complete until the index wraps
    expect(f.push(`${mig}\n`)).toBe(true); // index 0 again closes tick 1
    const s1 = f.latest()!;
    expect(s1.map((g) => g.index)).toEqual([0, 1]);
    expect(s1[0].fb_used_bytes).toBe(19818 * MiB);
    expect(s1[0].power_usage_w).toBe(631.95);
    expect(s1[1].gpu_util_pct).toBeNull();
    expect(s1[1].fb_used_bytes).toBe(11125 * MiB);
    expect(f.driverVersion()).toBe('590.48.01');
    validate(s1);
    f.push(`${asGpu1}\n${h100}\n`); // tick 2 completes; tick 3 starts
    expect(f.samples).toBe(2);
    expect(f.latest()![0].fb_used_bytes).toBe(11125 * MiB);
  });

  it('with a known GPU count a sample completes without waiting for the next tick', () => {
    const f = new GpuSampleFramer(SMI_QUERY_GPU_FIELDS, 1);
    expect(f.push(`${h100}\n`)).toBe(true);
    expect(f.latest()![0].gpu_temp_c).toBe(59);
  });

  it('ignores blank and short lines', () => {
    const f = new GpuSampleFramer(SMI_QUERY_GPU_FIELDS, 1);
    expect(f.push('\n0, GPU-x\n')).toBe(false);
    expect(f.latest()).toBeNull();
  });

  it('apps framer keeps the latest tick and empties after silence', () => {
    const rows = parseCsvWithHeader(readFixture('query-compute-apps-h100-mig-590.48-load.csv'));
    const lines = rows.map((r) => SMI_QUERY_APPS_FIELDS.map((f) => (r[f] ?? '').replace(/ MiB$/, '')).join(', '));
    const a = new AppsFramer();
    a.push(lines.join('\n') + '\n', 1000);
    expect(a.latestAt(1500, 5000).map((p) => p.pid)).toEqual([21180, 21181, 21198]);
    a.push(lines[2].replace('2026/07/14 09:00:44.742', '2026/07/14 09:00:46.742') + '\n', 3000);
    expect(a.latestAt(3000, 5000).map((p) => p.pid)).toEqual([21198]);
    expect(a.latestAt(9000, 5000)).toEqual([]);
  });
});

describe('--query-gpu field lists against `nvidia-smi --help-query-gpu` (590.48.01)', () => {
  // The help lists each property on its own line as "name", or "name" or "alias"; description
  // lines that merely start with a quoted value ("0: Default" means …) are not property lines.
  const PROPERTY_LINE = /^"[^"]+"(?: or "[^"]+")*\s*$/;
  const documented = new Set(
    readFixture('help-query-gpu-590.48.01.txt')
      .split(/\r?\n/)
      .filter((l) => PROPERTY_LINE.test(l))
      .flatMap((l) => [...l.matchAll(/"([^"]+)"/g)].map((m) => m[1])),
  );

  it('parses the help: property names and aliases, not quoted values', () => {
    expect(documented.size).toBeGreaterThan(200);
    for (const f of ['timestamp', 'name', 'gpu_name', 'pci.bus_id', 'clocks.sm', 'clocks.current.sm', 'hostname']) expect(documented).toContain(f);
    expect(documented).not.toContain('0: Default');
    expect(documented).not.toContain('YYYY/MM/DD HH:MM:SS.msec');
  });

  it.each([
    ['SMI_QUERY_GPU_FIELDS', SMI_QUERY_GPU_FIELDS],
    ['SMI_QUERY_GPU_FIELDS_LEGACY', SMI_QUERY_GPU_FIELDS_LEGACY],
  ] as const)('every field of %s is a documented property', (_name, fields) => {
    expect(fields.filter((f) => !documented.has(f))).toEqual([]);
    expect(new Set(fields).size).toBe(fields.length);
  });
});
