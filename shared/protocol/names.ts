import { z } from 'zod';

// Bounded names shared by the namespaces. Every string a client sends has a length bound: a peer can never make the
// agent hold (or scan) more than a few hundred bytes per name, whatever the frame limit is.

/** Longest model name or version (characters). */
export const MAX_NAME_CHARS = 63;
/** A model name: 1-63 of a-z 0-9 . _ - (starting with a letter or digit). */
export const ModelName = z.string().max(MAX_NAME_CHARS).regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'model names are 1-63 of a-z 0-9 . _ - (starting with a letter or digit)');
/** A model version: 1-63 of A-Z a-z 0-9 . _ + -. */
export const VersionName = z.string().max(MAX_NAME_CHARS).regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/, 'versions are 1-63 of A-Z a-z 0-9 . _ + -');
/** A tensor (input/output) name. */
export const TensorName = z.string().min(1).max(256);
/** A KServe datatype name ("FP32", "BYTES", …). */
export const DatatypeName = z.string().min(1).max(16);
