/**
 * One reference dataset upload (drift.setReference in chunks): CSV or JSON lines parsed as they arrive into a uniform
 * reservoir of at most drift.max_reference_rows rows (memory stays bounded whatever the file size), hashed, and — at
 * the final chunk — profiled into a StoredReference. It returns data: the monitor saves it and applies it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RpcError } from '../../shared/protocol/index.js';
import type { FeatureType, ReferenceInfo, TensorSpec } from '../../shared/protocol/index.js';
import { isDynamicDim, type RawTensor } from '../serving/tensors.js';
import { MISSING_TEXT, extractRows, matchColumns, parseCsvLine, rowsToFeeds, textCell, type Cell, type ColumnMatch, type FeatureDef } from '../serving/tabular.js';
import { buildRefFeature, storedReference } from './reference.js';
import type { RefFeature } from './compare.js';
import type { StoredReference } from './store.js';

/** Runs the version being referenced on input tensors: `run` gets an evaluate function valid while it runs. */
export type Predictor = (run: (evaluate: (feeds: Record<string, RawTensor>) => Promise<Record<string, RawTensor>>) => Promise<void>) => Promise<void>;

/** A dataset upload in progress (in memory only: uploads expire after 10 minutes idle, a restart drops them). */
export class ReferenceUpload {
  readonly id = `ref_${randomBytes(6).toString('hex')}`;
  /** Last chunk received (ms epoch), for expiry. */
  touched: number;
  /** Lines read so far (for error messages). */
  line = 0;
  /** Data rows read (before sampling down). */
  seen = 0;
  /** The reservoir: cells of the input features, in feature order. */
  readonly rows: Cell[][] = [];
  private partial = '';
  private match: ColumnMatch | null = null;
  private jsonKeys: string[] | null = null;
  private readonly hash = createHash('sha256');

  constructor(readonly key: string, private readonly p: { format: 'csv' | 'jsonl'; by: string; datasetName: string | null; cap: number; rnd: () => number; now: number }) {
    this.touched = p.now;
  }

  /** Token name of the uploader (the per-token cap counts by it). */
  get by(): string { return this.p.by; }

  /** Parses one chunk (the last with `final`) against the version's input features; throws INVALID_PARAMS naming the line. */
  add(data: string, final: boolean, inputs: readonly FeatureDef[]): void {
    this.hash.update(data);
    try {
      this.parse(data, final, inputs);
    } catch (e) {
      throw e instanceof RpcError ? e : new RpcError('INVALID_PARAMS', `reference data, line ${this.line}: ${(e as Error).message}`);
    }
  }

  private parse(data: string, final: boolean, inputs: readonly FeatureDef[]): void {
    const text = this.partial + data;
    const lines = text.split(/\r?\n/);
    this.partial = final ? '' : lines.pop()!;
    const cap = this.p.cap;
    for (const line of lines) {
      this.line++;
      if (line.trim() === '') continue;
      let cells: unknown[];
      if (this.p.format === 'csv') {
        const raw = parseCsvLine(line);
        if (!this.match) {
          // A first line with any non-numeric cell is a header; else columns go by position. Missing markers (NA, NaN,
          // null, None, empty) are not names: a headerless file whose first row has a missing value is data.
          const isHeader = raw.some((c) => !MISSING_TEXT.has(c.trim().toLowerCase()) && Number.isNaN(Number(c)));
          this.match = matchColumns(isHeader ? raw : null, inputs);
          if (isHeader) continue;
        }
        cells = raw;
      } else {
        const obj = JSON.parse(line) as unknown;
        if (Array.isArray(obj)) { if (!this.match) this.match = matchColumns(null, inputs); cells = obj; }
        else if (obj && typeof obj === 'object') {
          if (!this.match) { this.jsonKeys = Object.keys(obj); this.match = matchColumns(this.jsonKeys, inputs); }
          cells = this.jsonKeys!.map((k) => (obj as Record<string, unknown>)[k]);
        } else throw new Error('each JSON line must be an object or an array');
      }
      const m = this.match!;
      if (m.by === 'position' && cells.length < inputs.length) throw new Error(`${cells.length} values, the model has ${inputs.length} input features`);
      const row = inputs.map((d, i) => textCell(cells[m.columns[i]], d.type));
      this.seen++;
      // Uniform reservoir of rows: memory stays bounded whatever the file size.
      if (this.rows.length < cap) this.rows.push(row);
      else { const j = Math.floor(this.p.rnd() * this.seen); if (j < cap) this.rows[j] = row; }
    }
  }

  /**
   * Profiles the rows received into a reference: the input features from the rows (renamed by a header matched by
   * position), the predictions from running the version on them (`predict`, in batches of 512, or one row at a time
   * for a fixed batch size). A failed prediction run leaves the predictions without reference (predictionError says
   * why). `types` overrides feature types by name.
   */
  async build(p: { defs: readonly FeatureDef[]; specs: readonly TensorSpec[]; types: Record<string, FeatureType | undefined>; predict: Predictor; now: () => number }): Promise<{ reference: StoredReference; predictionError: string | null }> {
    const inputDefs = p.defs.filter((d) => d.role === 'input');
    const names = this.match?.names ?? null;
    const defs = p.defs.map((d, i) => (d.role === 'input' && names ? { ...d, name: names[i] } : d));
    const predCols: Cell[][] = p.defs.map(() => []);
    const predDefs = p.defs.map((d) => (d.role === 'prediction' ? d : null));
    let predictionError: string | null = null;
    if (predDefs.some((d) => d)) {
      const dynamic = p.specs.every((s) => s.shape.length > 0 && isDynamicDim(s.shape[0]));
      const batch = dynamic ? 512 : 1;
      try {
        await p.predict(async (evaluate) => {
          for (let i = 0; i < this.rows.length; i += batch) {
            const outputs = await evaluate(rowsToFeeds(this.rows.slice(i, i + batch), inputDefs, p.specs));
            extractRows(p.defs, {}, outputs, (f, cell) => { if (predDefs[f]) predCols[f].push(cell); });
          }
        });
      } catch (e) { predictionError = (e as Error).message; }
    }
    let ii = 0;
    const ref: RefFeature[] = defs.map((d, f) => {
      const type: FeatureType = p.types[d.name] ?? d.type;
      const cells = d.role === 'input' ? this.rows.map((r) => r[ii]) : predCols[f];
      if (d.role === 'input') ii++;
      return buildRefFeature(d.name, d.role, type, cells);
    });
    const info: ReferenceInfo = { source: 'dataset', rows: this.rows.length, rows_seen: this.seen, created_at: p.now(), created_by: this.p.by, dataset_name: this.p.datasetName,
      dataset_sha256: this.hash.digest('hex'), matched_by: this.match?.by ?? 'position' };
    return { reference: storedReference(ref, info), predictionError };
  }
}
