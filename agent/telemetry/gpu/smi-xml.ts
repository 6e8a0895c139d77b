// Parser for `nvidia-smi -q -x`. The schema drifts across drivers (no DTD at 418, v11, v12 in
// 535 and 570 variants, v13), so every lookup keys on element presence with fallbacks, never on
// the DTD name (research note §8.5). Used for the inventory snapshot and by the sim source.
import { XMLParser } from 'fast-xml-parser';
import type { GpuProcess, GpuSample, GpuState, MigInstance } from '../../../shared/protocol/index.js';
import { enabledFlag, int, mibToBytes, normalizeBusId, num, str, sumOrNull } from './parse-values.js';

type Node = Record<string, unknown>;

// Elements that must always be arrays: one child and many children must look the same.
const ARRAY_TAGS = new Set(['gpu', 'process_info', 'mig_device']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false, // keep "N/A", "0000" and "81 MiB" as text; parse-values decides
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
  isArray: (name) => ARRAY_TAGS.has(name),
});

/** Thrown when the text is not an nvidia-smi XML log; callers turn it into status 'unavailable'. */
export class SmiXmlError extends Error {}

/** Read the text at a slash-separated path; non-text nodes and absent paths give undefined. */
function text(node: unknown, path: string): string | undefined {
  let cur: unknown = node;
  for (const part of path.split('/')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Node)[part];
  }
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number') return String(cur);
  return undefined;
}

/** Read an array child (declared in ARRAY_TAGS); "None", whitespace or absence give []. */
function list(node: unknown, path: string): Node[] {
  let cur: unknown = node;
  for (const part of path.split('/')) {
    if (cur === null || typeof cur !== 'object') return [];
    cur = (cur as Node)[part];
  }
  return Array.isArray(cur) ? cur.filter((x): x is Node => x !== null && typeof x === 'object') : [];
}

/** First present (non-missing) value among several schema-specific paths. */
function firstNum(node: Node, paths: string[]): number | null {
  for (const p of paths) {
    const v = num(text(node, p));
    if (v !== null) return v;
  }
  return null;
}

// Power draw moved twice: v11 power_readings/power_draw → 535 gpu_power_readings/power_draw →
// 570 gpu_power_readings/average_power_draw (+instant). Order per note §8.5.
const POWER_DRAW_PATHS = [
  'gpu_power_readings/average_power_draw',
  'gpu_power_readings/power_draw',
  'power_readings/power_draw',
];
const POWER_LIMIT_PATHS = [
  'gpu_power_readings/current_power_limit',
  'power_readings/enforced_power_limit',
  'power_readings/power_limit',
];

/** ECC volatile totals: old layout has single_bit/double_bit totals, newer sram_* + dram_*. */
function eccVolatile(gpu: Node): { corrected: number | null; uncorrected: number | null } {
  const v = 'ecc_errors/volatile';
  const oldCorr = num(text(gpu, `${v}/single_bit/total`));
  const oldUnc = num(text(gpu, `${v}/double_bit/total`));
  const corrected =
    oldCorr ?? sumOrNull([num(text(gpu, `${v}/sram_correctable`)), num(text(gpu, `${v}/dram_correctable`))]);
  const uncorrected =
    oldUnc ??
    sumOrNull([
      num(text(gpu, `${v}/sram_uncorrectable`)),
      num(text(gpu, `${v}/sram_uncorrectable_parity`)),
      num(text(gpu, `${v}/sram_uncorrectable_secded`)),
      num(text(gpu, `${v}/dram_uncorrectable`)),
    ]);
  return { corrected, uncorrected };
}

function migInstances(gpu: Node): MigInstance[] {
  return list(gpu, 'mig_devices/mig_device').map((d) => ({
    mig_uuid: str(text(d, 'uuid')),
    index: int(text(d, 'index')),
    gpu_instance_id: int(text(d, 'gpu_instance_id')),
    compute_instance_id: int(text(d, 'compute_instance_id')),
    profile: null, // the XML has no profile name; NVML's MIG handle name or `nvidia-smi -L` does
    sm_count: int(text(d, 'device_attributes/shared/multiprocessor_count')),
    fb_total_bytes: mibToBytes(text(d, 'fb_memory_usage/total')),
    fb_used_bytes: mibToBytes(text(d, 'fb_memory_usage/used')),
  }));
}

function processes(gpu: Node, uuid: string): GpuProcess[] {
  const out: GpuProcess[] = [];
  for (const p of list(gpu, 'processes/process_info')) {
    const pid = int(text(p, 'pid'));
    if (pid === null) continue; // a process without a pid cannot be keyed; skip it
    out.push({
      gpu_uuid: uuid,
      pid,
      type: str(text(p, 'type')),
      process_name: str(text(p, 'process_name')),
      used_gpu_memory_bytes: mibToBytes(text(p, 'used_memory')),
      gpu_instance_id: int(text(p, 'gpu_instance_id')),
      compute_instance_id: int(text(p, 'compute_instance_id')),
    });
  }
  return out;
}

/** Map one `<gpu>` element to a GpuSample; index is the element's position, not minor_number. */
export function xmlGpuToSample(gpu: Node, index: number): GpuSample {
  const uuid = str(text(gpu, 'uuid')) ?? `unknown-gpu-${index}`;
  const ecc = eccVolatile(gpu);
  return {
    index,
    uuid,
    name: str(text(gpu, 'product_name')),
    pci_bus_id: normalizeBusId(text(gpu, '@_id') ?? text(gpu, 'pci/pci_bus_id')),
    status: 'ok',
    error: null,
    gpu_util_pct: num(text(gpu, 'utilization/gpu_util')),
    mem_copy_util_pct: num(text(gpu, 'utilization/memory_util')),
    fb_total_bytes: mibToBytes(text(gpu, 'fb_memory_usage/total')),
    fb_used_bytes: mibToBytes(text(gpu, 'fb_memory_usage/used')),
    fb_free_bytes: mibToBytes(text(gpu, 'fb_memory_usage/free')),
    fb_reserved_bytes: mibToBytes(text(gpu, 'fb_memory_usage/reserved')),
    gpu_temp_c: num(text(gpu, 'temperature/gpu_temp')),
    memory_temp_c: num(text(gpu, 'temperature/memory_temp')),
    power_usage_w: firstNum(gpu, POWER_DRAW_PATHS),
    power_limit_w: firstNum(gpu, POWER_LIMIT_PATHS),
    sm_clock_mhz: num(text(gpu, 'clocks/sm_clock')),
    mem_clock_mhz: num(text(gpu, 'clocks/mem_clock')),
    fan_speed_pct: num(text(gpu, 'fan_speed')),
    pstate: str(text(gpu, 'performance_state')),
    pcie_link_gen: int(text(gpu, 'pci/pci_gpu_link_info/pcie_gen/current_link_gen')),
    pcie_link_width: int(text(gpu, 'pci/pci_gpu_link_info/link_widths/current_link_width')),
    ecc_mode: enabledFlag(text(gpu, 'ecc_mode/current_ecc')),
    ecc_corrected_volatile: ecc.corrected,
    ecc_uncorrected_volatile: ecc.uncorrected,
    persistence_mode: enabledFlag(text(gpu, 'persistence_mode')),
    mig_mode: enabledFlag(text(gpu, 'mig_mode/current_mig')),
    mig_instances: migInstances(gpu),
    processes: processes(gpu, uuid),
  };
}

/** Parsed `-q -x` document: driver/CUDA versions and one sample per `<gpu>` element. */
export interface SmiXmlResult {
  driver_version: string | null;
  cuda_version: string | null;
  gpus: GpuSample[];
}

/**
 * Parse `nvidia-smi -q -x` output. GPUs are counted from `<gpu>` elements (attached_gpus can lie:
 * the A100 fixture says 4 and holds 1). Throws SmiXmlError when the root element is missing.
 */
export function parseSmiXml(xml: string): SmiXmlResult {
  // supported_clocks is most of the bytes (up to 1,651 lines per GPU) and unused; drop it first.
  const slim = xml.replace(/<supported_clocks>[\s\S]*?<\/supported_clocks>/g, '');
  let doc: Node;
  try {
    doc = parser.parse(slim) as Node;
  } catch (err) {
    throw new SmiXmlError(`invalid nvidia-smi XML: ${(err as Error).message}`);
  }
  const root = doc['nvidia_smi_log'];
  if (root === null || typeof root !== 'object') throw new SmiXmlError('not an nvidia-smi -q -x log (no <nvidia_smi_log>)');
  const log = root as Node;
  return {
    driver_version: str(text(log, 'driver_version')),
    cuda_version: str(text(log, 'cuda_version')),
    gpus: list(log, 'gpu').map((g, i) => xmlGpuToSample(g, i)),
  };
}

/** Convenience: a full GpuState for a parsed XML log (status ok with ≥1 GPU, else absent). */
export function smiXmlToState(r: SmiXmlResult, source: GpuState['source'], simulated: boolean): GpuState {
  return {
    status: r.gpus.length > 0 ? 'ok' : 'absent',
    reason: r.gpus.length > 0 ? null : 'no <gpu> elements in nvidia-smi XML',
    source,
    simulated,
    driver_version: r.driver_version,
    cuda_version: r.cuda_version,
    gpus: r.gpus,
  };
}
