import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pushModelBytes } from '../../shared/client/model-push.js';

/** Path of a generated test model (scripts/gen-onnx-models.ts). */
export const modelFile = (f: string) => join(__dirname, '..', 'fixtures', 'models', f);

/** Push bytes through the real chunked model.push API (the client library's pushModelBytes). */
export const pushModel = pushModelBytes;

/** Bytes of a generated model. */
export const modelBytes = (f: string) => readFileSync(modelFile(f));
