// Realistic sample data for the TUI tests: what agents on real machines report.
import type { FleetNode, FleetSource } from '../../shared/client/fleet-types.js';
import type { NodeInfoResult } from '../../shared/protocol/node.js';
import type { GpuSample, GpuState, HostSample, NodeStats } from '../../shared/protocol/telemetry.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export function gpu(over: Partial<GpuSample> & { index: number; uuid: string }): GpuSample {
  return {
    name: 'NVIDIA RTX A5000', pci_bus_id: `00000000:${17 + over.index}:00.0`, status: 'ok', error: null,
    gpu_util_pct: 48, mem_copy_util_pct: 20, fb_total_bytes: 24 * GiB, fb_used_bytes: 6 * GiB, fb_free_bytes: 18 * GiB,
    fb_reserved_bytes: 0.3 * GiB, gpu_temp_c: 62, memory_temp_c: null, power_usage_w: 231, power_limit_w: 230,
    sm_clock_mhz: 1695, mem_clock_mhz: 8001, fan_speed_pct: 45, pstate: 'P2', pcie_link_gen: 4, pcie_link_width: 16,
    ecc_mode: 'disabled', ecc_corrected_volatile: null, ecc_uncorrected_volatile: null, persistence_mode: 'enabled',
    mig_mode: null, mig_instances: [], processes: [],
    ...over,
  };
}

export function host(over: Partial<HostSample> = {}): HostSample {
  return {
    cpu: { util_pct: 37.4, per_core_pct: [10, 90, 55, 5, 100, 30, 0, 70], load1: 2.5, load5: 1.8, load15: 1.2 },
    memory: { total_bytes: 64 * GiB, used_bytes: 23.5 * GiB, available_bytes: 40 * GiB, swap_total_bytes: 8 * GiB, swap_used_bytes: 0 },
    disks: [{ mount: '/', fs: '/dev/nvme0n1p2', type: 'ext4', size_bytes: 450 * GiB, used_bytes: 120 * GiB }],
    disk_io: { read_bytes_per_s: 2 * MiB, write_bytes_per_s: 512 * 1024 },
    network: [{ iface: 'eno1', rx_bytes_per_s: 1.5 * MiB, tx_bytes_per_s: 300 * 1024 }],
    uptime_s: 3 * 86400 + 4 * 3600,
    ...over,
  };
}

export function info(name: string, gpuPart: Partial<NodeInfoResult['gpu']> = {}): NodeInfoResult {
  return {
    name, node_id: `id-${name}`, labels: { rack: 'r1' }, agent_version: '0.1.0', protocol_version: '1', started_at: 0,
    url: `ws://${name}:7070`,
    host: { hostname: name, os: { platform: 'linux', distro: 'Ubuntu', release: '22.04', kernel: '5.15.0-91-generic', arch: 'x64' },
      cpu: { model: 'AMD EPYC 7313', cores: 8, physical_cores: 8 }, memory_total_bytes: 64 * GiB },
    gpu: { status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: '550.54.15', cuda_version: '12.4', count: 2, ...gpuPart },
    telemetry: { interval_ms: 1000, history_s: 900 },
    peers: [],
  };
}

function stats(name: string, gpuState: GpuState, h = host()): NodeStats {
  return { node: name, ts: 1_700_000_000_000, seq: 42, host: h, gpu: gpuState };
}

function upNode(name: string, gpuState: GpuState, history: FleetNode['history'] = {}): FleetNode {
  return { name, url: `ws://${name}:7070`, conn: 'up', error: null, retryInMs: null, info: info(name, { ...gpuState, count: gpuState.gpus.length }),
    stats: stats(name, gpuState), lastSeen: 1_700_000_000_000, history };
}

/** 2× RTX A5000; pid 4242 (torchrun) uses both GPUs. */
export const a5000 = (): FleetNode => {
  const g0 = gpu({ index: 0, uuid: 'GPU-aaaa-0', processes: [
    { gpu_uuid: 'GPU-aaaa-0', pid: 4242, type: 'C', process_name: 'python train.py', used_gpu_memory_bytes: 5 * GiB, gpu_instance_id: null, compute_instance_id: null, job_id: 'job-17' },
    { gpu_uuid: 'GPU-aaaa-0', pid: 1337, type: 'G', process_name: 'Xorg', used_gpu_memory_bytes: 200 * MiB, gpu_instance_id: null, compute_instance_id: null },
  ] });
  const g1 = gpu({ index: 1, uuid: 'GPU-aaaa-1', gpu_util_pct: 91, gpu_temp_c: 71, fb_used_bytes: 20 * GiB, processes: [
    { gpu_uuid: 'GPU-aaaa-1', pid: 4242, type: 'C', process_name: 'python train.py', used_gpu_memory_bytes: 19.5 * GiB, gpu_instance_id: null, compute_instance_id: null, job_id: 'job-17' },
  ] });
  const state: GpuState = { status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: '550.54.15', cuda_version: '12.4', gpus: [g0, g1] };
  return upNode('gpu01', state, { 'gpu.GPU-aaaa-0.gpu_util_pct': [0, 10, null, 50, 100, 48], 'host.cpu_util_pct': [30, 35, 37] });
};

/** A CPU-only box: no NVIDIA driver. */
export const noGpu = (): FleetNode =>
  upNode('cpu01', { status: 'absent', reason: 'no NVIDIA driver (libnvidia-ml.so.1 not found)', source: 'none', simulated: false, driver_version: null, cuda_version: null, gpus: [] });

/** An agent that cannot be reached. */
export const unreachable = (): FleetNode => ({
  name: 'gpu03', url: 'ws://gpu03:7070', conn: 'unreachable', error: 'connect ECONNREFUSED 10.0.0.13:7070', retryInMs: 4200,
  info: null, stats: null, lastSeen: null, history: {},
});

/** An agent that rejected our token. */
export const unauthorized = (): FleetNode => ({ ...unreachable(), name: 'gpu04', conn: 'unauthorized', error: 'token rejected', retryInMs: null });

/** An A100 in MIG mode: utilisation is not reported (null). */
export const mig = (): FleetNode => {
  const g = gpu({ index: 0, uuid: 'GPU-mig-0', name: 'NVIDIA A100-SXM4-80GB', gpu_util_pct: null, mem_copy_util_pct: null, fan_speed_pct: null,
    fb_total_bytes: 80 * GiB, fb_used_bytes: 30 * GiB, power_usage_w: 88, power_limit_w: 400, mig_mode: 'enabled',
    mig_instances: [{ mig_uuid: 'MIG-1', index: 0, gpu_instance_id: 1, compute_instance_id: 0, profile: '3g.40gb', sm_count: 42, fb_total_bytes: 40 * GiB, fb_used_bytes: 30 * GiB }] });
  return upNode('mig01', { status: 'ok', reason: null, source: 'nvml', simulated: false, driver_version: '550.54.15', cuda_version: '12.4', gpus: [g] });
};

/** A node whose GPUs are replayed from fixtures (sim source). */
export const simulated = (): FleetNode => {
  const n = a5000();
  const g = { ...n.stats!.gpu, source: 'sim' as const, simulated: true };
  return { ...n, name: 'sim01', url: 'ws://sim01:7070', stats: { ...n.stats!, node: 'sim01', gpu: g } };
};

/** The default test fleet, in inventory order. */
export const fleet = (): FleetNode[] => [a5000(), noGpu(), unreachable(), unauthorized(), mig(), simulated()];

/** In-memory FleetSource: a documented test double of the data interface. */
export class FakeFleetSource implements FleetSource {
  private listeners = new Set<() => void>();
  constructor(public nodes: FleetNode[] = fleet()) {}
  snapshot(): FleetNode[] {
    return this.nodes;
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Replace the nodes and notify. */
  set(nodes: FleetNode[]): void {
    this.nodes = nodes;
    for (const l of this.listeners) l();
  }
  /** Number of subscribed listeners. */
  get listenerCount(): number {
    return this.listeners.size;
  }
}
