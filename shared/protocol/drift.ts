import { z } from 'zod';
import { ModelName, VersionName as Version } from './names.js';

// Drift monitoring: a reference profile per model version, live windows of the same profiles built from sampled
// inference, per-feature drift scores (methods chosen like Evidently's defaults), alerts after K drifting windows.

const FeatureName = z.string().min(1).max(128);

/** Statistical methods: two tests (p-value, drift when below the threshold) and three distances (drift when at or above). */
export const DriftMethod = z.enum(['ks', 'chisquare', 'wasserstein', 'jensenshannon', 'psi']);
export type DriftMethod = z.infer<typeof DriftMethod>;
/** A feature is numeric (histogram + quantile sketch) or categorical (counts). */
export const FeatureType = z.enum(['numeric', 'categorical']);
export type FeatureType = z.infer<typeof FeatureType>;

/** Per-feature override. */
export const FeatureOverride = z.object({
  method: DriftMethod.optional(),
  threshold: z.number().min(0).optional(),
  type: FeatureType.optional(),
  /** Leave the feature out of scores and of the drift share. */
  ignore: z.boolean().optional(),
}).strict();
export type FeatureOverride = z.infer<typeof FeatureOverride>;

/** Per-model settings over the node's defaults (agent config `drift`). Every field is optional. */
export const DriftSettings = z.object({
  /** Method for every numeric / categorical feature (default: chosen by reference size). */
  numeric_method: DriftMethod.optional(),
  categorical_method: DriftMethod.optional(),
  /** Thresholds per method. */
  thresholds: z.object({ ks: z.number().min(0).max(1), chisquare: z.number().min(0).max(1), wasserstein: z.number().min(0), jensenshannon: z.number().min(0).max(1), psi: z.number().min(0) }).partial().strict().optional(),
  /** Dataset drift when at least this share of features drifts. */
  drift_share: z.number().gt(0).max(1).optional(),
  /** Raise an alert after this many consecutive drifting windows. */
  alert_after: z.number().int().min(1).max(1000).optional(),
  features: z.record(FeatureName, FeatureOverride).optional(),
}).strict();
export type DriftSettings = z.infer<typeof DriftSettings>;

/** Where a reference came from. */
export const ReferenceInfo = z.object({
  source: z.enum(['dataset', 'traffic']),
  rows: z.number().int(),
  /** Rows in the file before sampling down to drift.max_reference_rows. */
  rows_seen: z.number().int(),
  created_at: z.number(),
  created_by: z.string(),
  dataset_name: z.string().nullable(),
  dataset_sha256: z.string().nullable(),
  /** How the file's columns were matched to features. */
  matched_by: z.enum(['name', 'position', 'traffic']),
});
export type ReferenceInfo = z.infer<typeof ReferenceInfo>;

/** A histogram drawn for the terminal: shares per bin over the reference's bin edges (numeric) or categories. */
export const HistogramView = z.object({
  labels: z.array(z.string()),
  reference: z.array(z.number()),
  current: z.array(z.number()),
});

/** One feature's figures in a report. */
export const FeatureDrift = z.object({
  name: z.string(),
  /** input feature, or a prediction (model output). */
  role: z.enum(['input', 'prediction']),
  type: FeatureType,
  method: DriftMethod,
  /** p-value for ks/chisquare, distance for the others; null when not computed (status says why). */
  score: z.number().nullable(),
  threshold: z.number(),
  drift: z.boolean(),
  /** ok | drift | insufficient (fewer current rows than drift.min_rows) | no_reference | ignored */
  status: z.enum(['ok', 'drift', 'insufficient', 'no_reference', 'ignored']),
  /** PSI is reported for every feature. */
  psi: z.number().nullable(),
  ref_rows: z.number().int(),
  cur_rows: z.number().int(),
  /** Missing values (null, NaN) counted, never dropped. */
  missing: z.object({ reference: z.number().int(), current: z.number().int(), current_share: z.number() }),
  /** Data-quality flags: type (integers became fractional), range (values outside the reference range), new_categories, missing (share rose). */
  quality: z.array(z.string()),
  /** Summary numbers of the current window (numeric features): mean, p50 and the reference's. */
  summary: z.object({ ref_mean: z.number().nullable(), cur_mean: z.number().nullable(), ref_p50: z.number().nullable(), cur_p50: z.number().nullable() }).nullable(),
  histogram: HistogramView.optional(),
});
export type FeatureDrift = z.infer<typeof FeatureDrift>;

/** A drift alert of one model version. */
export const DriftAlert = z.object({
  id: z.number().int(),
  name: z.string(),
  version: z.string(),
  raised_at: z.number(),
  /** null while the alert is active. */
  resolved_at: z.number().nullable(),
  /** Drifting input features of the window that raised it. */
  features: z.array(z.string()),
  /** Whether the predictions drifted too, and which prediction features. */
  prediction_drift: z.boolean(),
  predictions: z.array(z.string()),
  drift_share: z.number(),
  consecutive: z.number().int(),
  message: z.string(),
});
export type DriftAlert = z.infer<typeof DriftAlert>;

/** A report: one model version, one window, compared with its reference. */
export const DriftReport = z.object({
  name: z.string(),
  version: z.string(),
  window: z.string(),
  from: z.number(),
  to: z.number(),
  rows: z.number().int(),
  reference: ReferenceInfo.nullable(),
  features: z.array(FeatureDrift),
  drift_share: z.number(),
  share_threshold: z.number(),
  dataset_drift: z.boolean(),
  prediction_drift: z.boolean(),
  alert: DriftAlert.nullable(),
  /** Capture figures: rows sampled into windows, and rows not captured because the capture buffer was full. */
  capture: z.object({ sample_rate: z.number(), dropped: z.number().int() }),
});
export type DriftReport = z.infer<typeof DriftReport>;

const WindowSpec = z.string().max(16).regex(/^\d+(s|m|h|d)$/, 'a window is a duration like 5m, 1h, 24h');

/** drift.report — the drift of one model version over a window (default 1h) vs its reference. */
export const DriftReportParams = z.object({
  name: ModelName,
  version: Version.optional(),
  window: WindowSpec.default('1h'),
  /** Include reference vs current histograms (all features, or only this one). */
  histograms: z.boolean().default(false),
  feature: FeatureName.optional(),
}).strict();
export const DriftReportResult = DriftReport;

/** One closed window as judged when it closed. */
export const DriftPoint = z.object({
  from: z.number(),
  to: z.number(),
  rows: z.number().int(),
  drift_share: z.number(),
  dataset_drift: z.boolean(),
  prediction_drift: z.boolean(),
  /** Whether any feature could be judged (a reference exists and the window had at least drift.min_rows rows). */
  judged: z.boolean(),
  scores: z.record(z.string(), z.number().nullable()),
  /** Drifting features: inputs, then predictions. */
  drifted: z.array(z.string()),
});
export type DriftPoint = z.infer<typeof DriftPoint>;
/** drift.history — scores per closed window (oldest first) and the alerts of a model. */
export const DriftHistoryParams = z.object({
  name: ModelName,
  version: Version.optional(),
  since: z.number().optional(),
  limit: z.number().int().min(1).max(10_000).default(288),
}).strict();
export const DriftHistoryResult = z.object({ name: z.string(), version: z.string(), points: z.array(DriftPoint), alerts: z.array(DriftAlert) });

/**
 * drift.setReference — give a version its reference: a dataset (CSV with a header, or JSON lines of objects or arrays)
 * sent in chunks of ≤ 512 KiB text (the first chunk starts an upload, `final` builds the profile), or
 * `from_traffic: N` to rebuild it from the next N requests served.
 */
export const DriftSetReferenceParams = z.object({
  name: ModelName,
  version: Version.optional(),
  format: z.enum(['csv', 'jsonl']).optional(),
  upload_id: z.string().max(64).optional(),
  data: z.string().max(512 * 1024).optional(),
  final: z.boolean().default(true),
  dataset_name: z.string().max(256).optional(),
  from_traffic: z.number().int().min(10).max(1_000_000).optional(),
}).strict().superRefine((p, ctx) => {
  if ((p.data === undefined) === (p.from_traffic === undefined)) ctx.addIssue({ code: 'custom', path: ['data'], message: 'give either data (with format) or from_traffic' });
  if (p.data !== undefined && !p.format) ctx.addIssue({ code: 'custom', path: ['format'], message: 'format (csv or jsonl) is required with data' });
});
export const DriftSetReferenceResult = z.object({
  upload_id: z.string().nullable(),
  received_rows: z.number().int(),
  /** Set when the reference was built (final chunk); null while an upload or a traffic reference is in progress. */
  reference: ReferenceInfo.nullable(),
  /** Features the reference covers, in order. */
  features: z.array(z.string()),
});

/** drift.config — read (no `set`) or change (`set`; null restores the node defaults) the drift settings of a model. */
export const DriftConfigParams = z.object({ name: ModelName, set: DriftSettings.nullable().optional() }).strict();
export const DriftConfigResult = z.object({
  name: z.string(),
  /** The model's own overrides. */
  overrides: DriftSettings,
  /** Node defaults merged with the overrides. */
  effective: z.object({
    numeric_method: DriftMethod.nullable(), categorical_method: DriftMethod.nullable(),
    thresholds: z.object({ ks: z.number(), chisquare: z.number(), wasserstein: z.number(), jensenshannon: z.number(), psi: z.number() }),
    drift_share: z.number(), alert_after: z.number().int(), small_reference_rows: z.number().int(),
    features: z.record(z.string(), FeatureOverride),
  }),
});

/** Event data of the drift.alerts topic. */
export const DriftAlertEvent = z.object({ type: z.enum(['raised', 'resolved']), alert: DriftAlert });
export type DriftAlertEvent = z.infer<typeof DriftAlertEvent>;
