import { z } from 'zod';
import { ModelName, VersionName } from './names.js';

// Ground truth that joins later (issue 11): every inference answer carries a request id; labels sent later by id are
// joined with the prediction the agent kept for it, and turned into live performance per version and window.

/** Longest request id (characters). */
export const MAX_REQUEST_ID_CHARS = 128;
/** A request id: the caller's own (1-128 printable ASCII characters, no spaces), else one the agent generates. */
export const InferRequestId = z.string().max(MAX_REQUEST_ID_CHARS).regex(/^[\x21-\x7e]{1,128}$/, 'a request id is 1-128 printable ASCII characters without spaces');
/** Most labels in one model.feedback call. */
export const MAX_LABELS_PER_CALL = 10_000;

/** model.feedback — true labels for past requests, by request id. */
export const ModelFeedbackParams = z.object({
  name: ModelName,
  /** Only join requests this version answered (omitted: whichever version answered each id). */
  version: VersionName.optional(),
  labels: z.array(z.object({ id: InferRequestId, label: z.number().finite() }).strict()).min(1).max(MAX_LABELS_PER_CALL),
}).strict();
/** Counts: joined now, ids the agent does not keep (never kept, evicted or expired), ids that already had a label. */
export const ModelFeedbackResult = z.object({ matched: z.number().int(), unknown: z.number().int(), already_labelled: z.number().int() });

const WindowSpec = z.string().max(16).regex(/^\d+(s|m|h|d)$/, 'a window is a duration like 5m, 1h, 24h');

/** Live performance of one version over a window: the metrics that do not apply to its task (or with no label) are null. */
export const VersionPerformance = z.object({
  version: z.string(),
  /** classification or regression as the scoring decides (null while no request of the window is labelled). */
  task: z.enum(['classification', 'regression']).nullable(),
  accuracy: z.number().nullable(),
  f1: z.number().nullable(),
  mae: z.number().nullable(),
  rmse: z.number().nullable(),
  /** Kept requests of the window that have a label. */
  labelled: z.number().int(),
  /** Requests of the window kept for joining. */
  requests: z.number().int(),
  window: z.string(),
});
export type VersionPerformance = z.infer<typeof VersionPerformance>;

/** model.performance — per version (one, or every version with kept requests), over the requests made in the window. */
export const ModelPerformanceParams = z.object({ name: ModelName, version: VersionName.optional(), window: WindowSpec.default('1h') }).strict();
export const ModelPerformanceResult = z.object({ name: z.string(), versions: z.array(VersionPerformance) });
