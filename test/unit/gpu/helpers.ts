// Shared test helpers: fixture paths (inside this repo, never /work/shared) and a silent logger.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpuLogger } from '../../../agent/telemetry/gpu/source.js';
import { parseCsvWithHeader } from '../../../agent/telemetry/gpu/smi-csv.js';

/** Absolute path of test/fixtures/nvidia-smi. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/nvidia-smi');

/** Path of one fixture file. */
export const fixture = (name: string): string => join(FIXTURES, name);

/** Text of one fixture file. */
export const readFixture = (name: string): string => readFileSync(fixture(name), 'utf8');

/** A logger that records nothing. */
export const silentLogger: GpuLogger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Derive `--format=csv,noheader,nounits` lines from a `--format=csv` fixture, in `fields` order:
 * drop the header and the unit suffixes; bracketed values keep their brackets (SOURCES.md).
 */
export function toNoUnitsLines(csvText: string, fields: readonly string[]): string[] {
  return parseCsvWithHeader(csvText).map((rec) =>
    fields.map((f) => (rec[f] ?? '').replace(/ (MiB|%|W|MHz|us)$/, '')).join(', '),
  );
}
