import { describe, it, expect } from 'vitest';
import { GpuState } from '../../../shared/protocol/telemetry.js';
import { parseSmiXml, smiXmlToState, SmiXmlError } from '../../../agent/telemetry/gpu/smi-xml.js';
import { readFixture } from './helpers.js';

const MiB = 2 ** 20;
const load = (f: string) => {
  const r = parseSmiXml(readFixture(f));
  GpuState.parse(smiXmlToState(r, 'smi', false)); // every result must satisfy the wire schema
  return r;
};

describe('parseSmiXml on every real -q -x fixture', () => {
  it('GTX 1660 Ti, driver 418 (no DTD, no mig_mode, power_readings/power_draw)', () => {
    const r = load('gtx-1660-ti-418.43-q-x.xml');
    expect(r.driver_version).toBe('418.43');
    expect(r.cuda_version).toBe('10.1');
    expect(r.gpus).toHaveLength(1);
    const g = r.gpus[0];
    expect(g.name).toBe('Graphics Device'); // placeholder name: key on UUID, never on name
    expect(g.uuid).toBe('GPU-304a277d-3545-63b8-3a36-dfde3c992989');
    expect(g.fb_total_bytes).toBe(5912 * MiB);
    expect(g.fb_reserved_bytes).toBeNull();
    expect(g.power_usage_w).toBe(8.93);
    expect(g.power_limit_w).toBe(130);
    expect(g.mig_mode).toBeNull();
    expect(g.ecc_mode).toBeNull();
    expect(g.processes).toEqual([]);
  });

  it('Tesla T4, driver 515: 2 processes with type, memory in bytes and N/A GI/CI → null', () => {
    const r = load('tesla-t4-515.105-procs-q-x.xml');
    const g = r.gpus[0];
    expect(g.name).toBe('Tesla T4');
    expect(g.uuid).toBe('GPU-d37e67a5-91dd-3774-a5cb-99096249601a');
    expect(g.fb_total_bytes).toBe(15360 * MiB);
    expect(g.power_usage_w).toBe(26.78);
    expect(g.power_limit_w).toBe(70);
    expect(g.fan_speed_pct).toBeNull();
    expect(g.ecc_mode).toBe('enabled');
    expect(g.ecc_corrected_volatile).toBe(0);
    expect(g.persistence_mode).toBe('disabled');
    expect(g.mig_mode).toBeNull();
    expect(g.mig_instances).toEqual([]);
    expect(g.processes).toHaveLength(2);
    expect(g.processes[0]).toMatchObject({ pid: 675, type: 'G', process_name: '/usr/lib/xorg/Xorg', used_gpu_memory_bytes: 22 * MiB, gpu_instance_id: null, compute_instance_id: null });
    expect(g.processes[1]).toMatchObject({ pid: 5762, type: 'C', process_name: 'python', used_gpu_memory_bytes: 1005 * MiB });
  });

  it('A100 MIG, driver 535: counts <gpu> (1) not attached_gpus (4), gpu_power_readings, 4 MIG instances', () => {
    const xml = readFixture('a100-sxm4-80gb-mig-535.54-q-x.xml');
    expect(xml).toContain('<attached_gpus>4</attached_gpus>');
    const r = load('a100-sxm4-80gb-mig-535.54-q-x.xml');
    expect(r.gpus).toHaveLength(1);
    const g = r.gpus[0];
    expect(g.name).toBe('NVIDIA A100-SXM4-80GB');
    expect(g.uuid).toBe('GPU-513536b6-7d19-9063-b049-1e69664bb298');
    expect(g.fb_total_bytes).toBe(81920 * MiB);
    expect(g.fb_reserved_bytes).toBe(869 * MiB);
    expect(g.gpu_util_pct).toBeNull(); // utilisation is N/A under MIG
    expect(g.power_usage_w).toBe(67.03);
    expect(g.power_limit_w).toBe(500);
    expect(g.memory_temp_c).toBe(44);
    expect(g.mig_mode).toBe('enabled');
    expect(g.mig_instances.map((m) => m.gpu_instance_id)).toEqual([3, 4, 5, 6]);
    expect(g.mig_instances[0]).toMatchObject({ index: 0, compute_instance_id: 0, sm_count: 14, fb_total_bytes: 19968 * MiB, fb_used_bytes: 12 * MiB, profile: null });
    expect(g.pcie_link_width).toBe(16);
  });

  it('RTX 3060, driver 570: average_power_draw replaces power_draw', () => {
    const r = load('rtx-3060-570.124-q-x.xml');
    const g = r.gpus[0];
    expect(r.driver_version).toBe('570.124.04');
    expect(g.name).toBe('NVIDIA GeForce RTX 3060');
    expect(g.uuid).toBe('GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625');
    expect(g.pci_bus_id).toBe('00000000:2D:00.0');
    expect(g.fb_total_bytes).toBe(12288 * MiB);
    expect(g.power_usage_w).toBe(11.6);
    expect(g.power_limit_w).toBe(170);
    expect(g.gpu_temp_c).toBe(42);
    expect(g.processes).toEqual([]);
  });

  it('2× RTX A5000, driver 590 (v13): same PID on both GPUs, keyed by GPU UUID', () => {
    const r = load('rtx-a5000-2gpu-590.44-procs-q-x.xml');
    expect(r.cuda_version).toBe('13.1');
    expect(r.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(r.gpus.map((g) => g.pci_bus_id)).toEqual(['00000000:81:00.0', '00000000:C1:00.0']);
    expect(r.gpus.every((g) => g.name === 'NVIDIA RTX A5000' && g.fb_total_bytes === 24564 * MiB)).toBe(true);
    expect(r.gpus.map((g) => g.power_usage_w)).toEqual([6.41, 13.6]);
    expect(r.gpus[0].persistence_mode).toBe('enabled');
    expect(r.gpus[0].ecc_mode).toBe('disabled');
    expect(r.gpus[0].ecc_corrected_volatile).toBeNull();
    const [p0, p1] = r.gpus.map((g) => g.processes);
    expect(p0).toHaveLength(1);
    expect(p1).toHaveLength(1);
    expect(p0[0].pid).toBe(100477);
    expect(p1[0].pid).toBe(100477);
    expect(p0[0].used_gpu_memory_bytes).toBe(22430 * MiB);
    expect(p1[0].used_gpu_memory_bytes).toBe(17246 * MiB);
    expect(p0[0].gpu_uuid).not.toBe(p1[0].gpu_uuid);
  });

  it('GRID P4 vGPU on Windows, driver 513: 13 C+G processes, N/A memory and empty names → null, 0 C kept', () => {
    const r = load('grid-p4-1q-vgpu-win-513.46-q-x.xml');
    const g = r.gpus[0];
    expect(g.name).toBe('GRID P4-1Q');
    expect(g.fb_total_bytes).toBe(1024 * MiB);
    expect(g.gpu_temp_c).toBe(0); // a real reported value, not a missing one
    expect(g.power_usage_w).toBeNull();
    expect(g.power_limit_w).toBeNull();
    expect(g.persistence_mode).toBeNull();
    expect(g.ecc_corrected_volatile).toBeNull();
    expect(g.processes).toHaveLength(13);
    expect(g.processes.every((p) => p.type === 'C+G' && p.used_gpu_memory_bytes === null)).toBe(true);
    expect(g.processes.filter((p) => p.process_name === null)).toHaveLength(12);
    expect(g.processes.find((p) => p.process_name !== null)?.process_name).toBe('C:\\Windows\\explorer.exe');
  });
});

describe('parseSmiXml shapes and errors', () => {
  it('single-child elements still become arrays; None mig_devices → []', () => {
    const xml = `<nvidia_smi_log><driver_version>1</driver_version><gpu id="0000:04:00.0"><uuid>GPU-x</uuid>
      <mig_devices>None</mig_devices><processes></processes><fb_memory_usage><total>N/A</total></fb_memory_usage></gpu></nvidia_smi_log>`;
    const r = parseSmiXml(xml);
    expect(r.gpus).toHaveLength(1);
    expect(r.gpus[0]).toMatchObject({ uuid: 'GPU-x', pci_bus_id: '00000000:04:00.0', mig_instances: [], processes: [], fb_total_bytes: null });
  });
  it('rejects a document that is not an nvidia-smi log', () => {
    expect(() => parseSmiXml('<html></html>')).toThrow(SmiXmlError);
  });
  it('maps the deprecation text to null', () => {
    const r = parseSmiXml('<nvidia_smi_log><gpu><uuid>GPU-y</uuid><performance_state>Requested functionality has been deprecated</performance_state></gpu></nvidia_smi_log>');
    expect(r.gpus[0].pstate).toBeNull();
  });
});
