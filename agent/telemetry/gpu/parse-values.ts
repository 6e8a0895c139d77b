// Value normalisation shared by the XML and CSV parsers. nvidia-smi spells "missing" many ways
// (N/A, [N/A], [Not Supported], [Unknown Error], deprecated notices, empty fields) and prints
// units that vary by format and driver, so we strip units by regex on the value itself rather
// than trusting --format flags or header units (research note §8.1, §8.3).

const MIB = 2 ** 20;

/** True when nvidia-smi reports a value as missing (empty, N/A, any [..] notice, deprecated). */
export function isMissing(raw: string | null | undefined): boolean {
  if (raw === null || raw === undefined) return true;
  const v = raw.trim();
  if (v === '' || v === 'N/A') return true;
  if (/^\[.*\]$/.test(v)) return true;
  // XML prints the deprecation notice without brackets (570+).
  if (/requested functionality has been deprecated/i.test(v)) return true;
  return false;
}

/** Trimmed string or null when missing. */
export function str(raw: string | null | undefined): string | null {
  return isMissing(raw) ? null : (raw as string).trim();
}

// A number followed by an optional unit; anything else (e.g. "Unknown") is treated as missing.
const NUM_UNIT = /^(-?\d+(?:\.\d+)?)\s*(MiB|KiB|GiB|W|MHz|%|C|x|us|KB\/s)?$/;

/** Parse a number with an optional unit suffix (MiB, W, MHz, %, C, x, us, KB/s); missing → null. */
export function num(raw: string | null | undefined): number | null {
  if (isMissing(raw)) return null;
  const m = NUM_UNIT.exec((raw as string).trim());
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

/** Integer variant of num(); non-integers become null (IDs, counts, link gen/width). */
export function int(raw: string | null | undefined): number | null {
  const n = num(raw);
  return n !== null && Number.isInteger(n) ? n : null;
}

/** MiB value (with or without the "MiB" suffix) → bytes (MiB = 2^20 bytes); missing → null. */
export function mibToBytes(raw: string | null | undefined): number | null {
  const n = num(raw);
  return n === null ? null : Math.round(n * MIB);
}

/** "Enabled"/"Disabled" → 'enabled'/'disabled'; anything else → null. */
export function enabledFlag(raw: string | null | undefined): 'enabled' | 'disabled' | null {
  const v = str(raw)?.toLowerCase();
  if (v === 'enabled') return 'enabled';
  if (v === 'disabled') return 'disabled';
  return null;
}

/**
 * Normalise a PCI bus id to nvidia-smi/NVML form "00000000:2D:00.0" (8-digit domain, upper case),
 * so ids from old drivers ("0000:04:00.0"), sysfs (lower case) and NVML join cleanly.
 */
export function normalizeBusId(raw: string | null | undefined): string | null {
  const v = str(raw);
  if (v === null) return null;
  const m = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(v);
  if (!m) return v.toUpperCase();
  const domain = (m[1] ?? '0').padStart(8, '0');
  return `${domain}:${m[2].padStart(2, '0')}:${m[3].padStart(2, '0')}.${m[4]}`.toUpperCase();
}

/** Sum of the non-null numbers, or null when every part is null (e.g. sram + dram ECC counts). */
export function sumOrNull(parts: Array<number | null>): number | null {
  const present = parts.filter((p): p is number => p !== null);
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0);
}
