// Open Inference Protocol (KServe v2) over HTTP/REST, with Triton's binary tensor data extension.
// Mounted on the agent's API port as an extra route (ApiServer.addRoute); every /v2 path is answered here.
// Health endpoints are open (like /healthz, /readyz); everything else needs a valid token. Metadata (model.get) and
// inference (the binary form of model.infer, shared/protocol/binary-frame.ts) and feedback (model.feedback) go through the RpcDispatcher like every
// JSON-RPC call: its role check, params schema, metrics and stable error codes. Error bodies are {error, code}: `code`
// is the same stable name (INVALID_PARAMS, NOT_FOUND, …) JSON-RPC answers for the same fault.

import type http from 'node:http';
import { RpcError, type BinaryTensorHeader, type ErrorName, type JsonTensor, type TensorSpec } from '../../shared/protocol/index.js';
import type { Logger } from '../log.js';
import type { CallContext, ConnectionLike, Principal } from './context.js';
import type { RpcDispatcher } from './rpc.js';
import { elementCount, fromBinary, fromJson, isDynamicDim, ORT_TO_KSERVE, toBinary, toJson } from '../serving/tensors.js';

/** Default largest request body (JSON header + binary data), bytes. */
export const V2_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Default largest JSON part of a request (the whole body without binary data), bytes: JSON is parsed on the event
 * loop, so a large one stalls every other request (/healthz too); big tensors go as binary data. */
export const V2_MAX_JSON_BYTES = 8 * 1024 * 1024;
/** Most tensor elements sent as JSON in one request (over all inputs), checked from the shapes before any data is
 * converted: a million numbers is ~8 MB of JSON; beyond that the binary extension is the way. */
export const V2_MAX_JSON_ELEMENTS = 1 << 20;
/** Default bound on the request bytes buffered by all /v2 requests at once; a request that would pass it is
 * answered 503 (retry) instead of growing the agent's memory. */
export const V2_MAX_INFLIGHT_BYTES = 256 * 1024 * 1024;
/** Header naming the length of the JSON part of a binary request/response (Triton binary tensor data extension). */
export const HEADER_LENGTH = 'inference-header-content-length';

export interface V2Deps {
  /** The agent's dispatcher: model.get (metadata) and the binary form of model.infer. */
  dispatcher: Pick<RpcDispatcher, 'call' | 'callBinary'>;
  /** Verify the request's bearer token (with the API server's failure slow-down). */
  auth: (req: http.IncomingMessage) => Promise<Principal | null | 'busy'>;
  /** True once the agent can serve. */
  ready: () => boolean;
  /** Agent version, for server metadata. */
  version: string;
  log: Logger;
  /** Largest request body, bytes (default V2_MAX_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Largest JSON part of a request, bytes (default V2_MAX_JSON_BYTES). */
  maxJsonBytes?: number;
  /** Bytes all requests may buffer at once (default V2_MAX_INFLIGHT_BYTES). */
  maxInflightBytes?: number;
}

/** Limits of one /v2 route, resolved. */
interface Limits { body: number; json: number; inflight: { max: number; used: number } }

/** An HTTP-level error answered as `{error, code?}`: `code` is the stable error name where one applies (none for 401). */
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}, readonly code: ErrorName | null = status === 400 ? 'INVALID_PARAMS' : null) { super(message); }
}

/** HTTP status of each stable error code (the one mapping; every code has one). */
export const HTTP_STATUS_OF: Readonly<Record<ErrorName, number>> = {
  PARSE_ERROR: 400, INVALID_REQUEST: 400, INVALID_PARAMS: 400, UNSCHEDULABLE: 400, FORBIDDEN: 403, NOT_FOUND: 404,
  CONFLICT: 409, OVERLOADED: 503, UNAVAILABLE: 503, TIMEOUT: 504, METHOD_NOT_FOUND: 404, INTERNAL_ERROR: 500,
};

/** The connection of an HTTP call: no subscriptions. */
const HTTP_CONN: ConnectionLike = { id: 'http-v2', addSubscription: () => undefined, removeSubscription: () => false, subscriptionCount: 0, sendEvent: () => undefined };

/** The /v2 route: returns false for any path outside /v2 so other routes get it. */
export function createV2Routes(d: V2Deps): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const limits: Limits = { body: d.maxBodyBytes ?? V2_MAX_BODY_BYTES, json: d.maxJsonBytes ?? V2_MAX_JSON_BYTES, inflight: { max: d.maxInflightBytes ?? V2_MAX_INFLIGHT_BYTES, used: 0 } };
  return async (req, res) => {
    let path: string;
    try { path = new URL(req.url ?? '/', 'http://x').pathname; } catch { return false; }
    if (path !== '/v2' && !path.startsWith('/v2/')) return false;
    try {
      await handle(d, limits, path, req, res);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : e instanceof RpcError ? HTTP_STATUS_OF[e.data.code] ?? 500 : 500;
      if (status === 500) d.log.error({ err: e, path }, 'v2 request failed');
      const headers = e instanceof HttpError ? e.headers : status === 503 ? { 'retry-after': '1' } : {};
      const message = status === 500 && !(e instanceof RpcError) ? 'internal error' : (e as Error).message;
      const code = e instanceof HttpError ? e.code : e instanceof RpcError ? e.data.code : 'INTERNAL_ERROR';
      if (!res.headersSent) sendJson(res, status, code ? { error: message, code } : { error: message }, headers);
      else res.destroy();
    }
    return true;
  };
}

async function handle(d: V2Deps, limits: Limits, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const parts = path.split('/').filter((s, i) => i > 0 && s !== '').slice(1); // segments after "v2"
  const method = req.method ?? 'GET';
  const only = (...allowed: string[]) => {
    if (!allowed.includes(method)) throw new HttpError(405, `${method} is not allowed on ${path.slice(0, 200)} (use ${allowed.join(' or ')})`, { allow: allowed.join(', ') }, 'INVALID_REQUEST');
  };

  // open: liveness and readiness (orchestrator probes carry no token)
  if (parts[0] === 'health' && parts.length === 2 && (parts[1] === 'live' || parts[1] === 'ready')) {
    only('GET', 'HEAD');
    if (parts[1] === 'live') return sendJson(res, 200, { live: true });
    const ok = d.ready();
    return sendJson(res, ok ? 200 : 503, { ready: ok });
  }

  const p = await d.auth(req);
  if (p === 'busy') throw new HttpError(429, 'too many pending authentication attempts from this address', { 'retry-after': '1' }, 'OVERLOADED');
  if (!p) throw new HttpError(401, 'a valid token is required: Authorization: Bearer <token> (create one with: fleetml token create)', { 'www-authenticate': 'Bearer' });
  // Roles are the dispatcher's: each call below names its method, and the dispatcher checks the role that method needs.
  const ctx: CallContext = { principal: p, remote: req.socket.remoteAddress ?? null, conn: HTTP_CONN };

  if (parts.length === 0) {
    only('GET');
    return sendJson(res, 200, { name: 'fleetml', version: d.version, extensions: ['binary_tensor_data'] });
  }
  if (parts[0] !== 'models' || parts.length < 2) throw new HttpError(404, `not found: ${path.slice(0, 200)}`, {}, 'NOT_FOUND');
  const name = segment(parts[1]);
  let rest = parts.slice(2);
  let version: string | undefined;
  if (rest[0] === 'versions') {
    if (rest.length < 2) throw new HttpError(404, `not found: ${path.slice(0, 200)} (expected /v2/models/{name}/versions/{version})`, {}, 'NOT_FOUND');
    version = segment(rest[1]);
    rest = rest.slice(2);
  }
  if (rest.length === 0) {
    only('GET');
    const versions = await getVersions(d, ctx, name, version);
    const v = versions[0];
    return sendJson(res, 200, {
      name: v.name,
      versions: versions.map((x) => x.version),
      platform: 'onnxruntime_onnx',
      inputs: v.inputs.map(specView),
      outputs: v.outputs.map(specView),
    });
  }
  if (rest.length === 1 && rest[0] === 'ready') {
    only('GET', 'HEAD');
    const v = (await getVersions(d, ctx, name, version))[0];
    return sendJson(res, v.loaded ? 200 : 400, { name: v.name, version: v.version, ready: v.loaded });
  }
  if (rest.length === 1 && rest[0] === 'infer') {
    only('POST');
    return infer(d, limits, ctx, name, version, req, res);
  }
  if (rest.length === 1 && rest[0] === 'feedback') {
    only('POST');
    return feedback(d, limits, ctx, name, version, req, res);
  }
  throw new HttpError(404, `not found: ${path.slice(0, 200)}`, {}, 'NOT_FOUND');
}

/** model.get through the dispatcher: one version, or every version newest first; NOT_FOUND when there is none. */
async function getVersions(d: V2Deps, ctx: CallContext, name: string, version: string | undefined) {
  const { versions } = await d.dispatcher.call('model.get', { name, ...(version !== undefined ? { version } : {}) }, ctx);
  if (versions.length === 0) throw new RpcError('NOT_FOUND', `no model named ${name} (push one with: fleetml model push ${name} FILE.onnx)`);
  return versions;
}

function segment(s: string): string {
  try { return decodeURIComponent(s); } catch { throw new HttpError(400, `bad percent-encoding in path segment "${s.slice(0, 100)}"`); }
}

function specView(s: TensorSpec) {
  return { name: s.name, datatype: ORT_TO_KSERVE[s.dtype], shape: s.shape.map((x) => (isDynamicDim(x) ? -1 : x)) };
}

// ---------- inference ----------

interface RequestedOutput { name: string; binary: boolean | undefined }

async function infer(d: V2Deps, limits: Limits, ctx: CallContext, name: string, version: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const enc = req.headers['content-encoding'];
  if (enc && enc !== 'identity') throw new HttpError(415, `content-encoding ${String(enc).slice(0, 32)} is not supported (send the body uncompressed)`, {}, 'INVALID_REQUEST');
  // The JSON part is bounded on its own (it is parsed on the event loop); without the binary extension it is the
  // whole body, so the body limit is the JSON limit.
  const hl = req.headers[HEADER_LENGTH];
  let declaredHeader: number | null = null;
  if (hl !== undefined) {
    const s = Array.isArray(hl) ? hl[0] : hl;
    if (!/^\d+$/.test(s.trim())) throw new HttpError(400, `${HEADER_LENGTH} must be a non-negative integer, got "${s.slice(0, 32)}"`);
    declaredHeader = Number(s.trim());
    if (declaredHeader > limits.json) throw new HttpError(413, `the JSON part of the request (${declaredHeader} bytes) is larger than the limit of ${limits.json} bytes: send large tensors as binary data`, {}, 'INVALID_REQUEST');
  }
  const max = declaredHeader === null ? limits.json : limits.body;
  const body = await readBody(req, res, max, limits.inflight, declaredHeader === null ? 'the JSON request body' : 'request body');
  if (!body) return; // 413 / 503 already answered
  try {
    await inferBody(d, ctx, name, version, req, res, body, declaredHeader);
  } finally {
    limits.inflight.used -= body.length;
  }
}

async function inferBody(d: V2Deps, ctx: CallContext, name: string, version: string | undefined, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, declaredHeader: number | null): Promise<void> {
  // split the JSON header from the binary tensor data
  let headerLen = body.length;
  if (declaredHeader !== null) {
    headerLen = declaredHeader;
    if (headerLen > body.length) throw new HttpError(400, `${HEADER_LENGTH} is ${headerLen} but the body has only ${body.length} bytes`);
  }
  const binary = body.subarray(headerLen);
  let doc: unknown;
  try { doc = JSON.parse(body.subarray(0, headerLen).toString('utf8')); } catch (e) {
    throw new HttpError(400, `the request JSON is malformed: ${(e as Error).message}${declaredHeader === null ? ` (for binary tensor data, send the ${HEADER_LENGTH} header)` : ''}`, {}, 'PARSE_ERROR');
  }
  if (!isObject(doc)) throw new HttpError(400, 'the request must be a JSON object {inputs: [...]}');
  if (!Array.isArray(doc.inputs) || doc.inputs.length === 0) throw new HttpError(400, 'the request needs "inputs": a non-empty array of tensors {name, shape, datatype, data}');
  if (doc.id !== undefined && typeof doc.id !== 'string') throw new HttpError(400, '"id" must be a string');
  // The request id: the body's `id` (KServe v2), else the x-request-id header; the model.infer schema bounds it.
  const xid = req.headers['x-request-id'];
  const requestId = (doc.id as string | undefined) ?? (Array.isArray(xid) ? xid[0] : xid);
  const params = doc.parameters === undefined ? {} : doc.parameters;
  if (!isObject(params)) throw new HttpError(400, '"parameters" must be an object');
  const binaryDefault = params.binary_data_output;
  if (binaryDefault !== undefined && typeof binaryDefault !== 'boolean') throw new HttpError(400, 'parameters.binary_data_output must be true or false');

  // Inputs become the binary form of model.infer: a header per input and the payload of their bytes in order. Binary
  // inputs are views of the body; JSON inputs are converted to bytes (the JSON path is the slow one anyway). With only
  // binary inputs the payload is the body's binary part itself (no copy).
  const inputs: BinaryTensorHeader[] = [];
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  let anyJson = false;
  let offset = 0;
  let jsonElements = 0;
  doc.inputs.forEach((t: unknown, i: number) => {
    if (!isObject(t)) throw new HttpError(400, `inputs[${i}] must be an object {name, shape, datatype, data}`);
    if (typeof t.name !== 'string' || !t.name) throw new HttpError(400, `inputs[${i}].name must be a non-empty string`);
    const where = `input "${t.name.slice(0, 100)}"`;
    if (seen.has(t.name)) throw new HttpError(400, `${where} is given twice`);
    seen.add(t.name);
    if (typeof t.datatype !== 'string') throw new HttpError(400, `${where}: datatype must be a string such as "FP32"`);
    if (!Array.isArray(t.shape) || t.shape.length > 16 || !t.shape.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new HttpError(400, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)?.slice(0, 100)}`);
    }
    const shape = t.shape as number[];
    const ip = t.parameters === undefined ? {} : t.parameters;
    if (!isObject(ip)) throw new HttpError(400, `${where}: parameters must be an object`);
    if (ip.binary_data_size !== undefined) {
      if (declaredHeader === null) throw new HttpError(400, `${where} has parameters.binary_data_size but the request has no ${HEADER_LENGTH} header`);
      if (t.data !== undefined) throw new HttpError(400, `${where} has both data and parameters.binary_data_size: send one`);
      const size = ip.binary_data_size;
      if (!Number.isInteger(size) || (size as number) < 0) throw new HttpError(400, `${where}: parameters.binary_data_size must be a non-negative integer`);
      if (offset + (size as number) > binary.length) {
        throw new HttpError(400, `${where}: binary_data_size ${size} at offset ${offset} runs past the ${binary.length} bytes of binary data after the JSON header`);
      }
      inputs.push({ name: t.name, datatype: t.datatype, shape, binary_data_size: size as number });
      parts.push(binary.subarray(offset, offset + (size as number)));
      offset += size as number;
    } else {
      if (t.data === undefined) throw new HttpError(400, `${where} has no data (give "data", or parameters.binary_data_size with binary tensor data)`);
      if (!Array.isArray(t.data)) throw new HttpError(400, `${where}: data must be an array`);
      jsonElements += elementCount(shape);
      if (jsonElements > V2_MAX_JSON_ELEMENTS) throw new HttpError(413, `${where}: more than ${V2_MAX_JSON_ELEMENTS} tensor elements as JSON in one request: send large tensors as binary data (${HEADER_LENGTH})`, {}, 'INVALID_REQUEST');
      const data = (t.data as unknown[]).flat(16) as JsonTensor['data'];
      let bytes: Buffer;
      try { bytes = toBinary(fromJson({ name: t.name, datatype: t.datatype, shape, data })); } catch (e) { throw new HttpError(400, (e as Error).message); }
      anyJson = true;
      inputs.push({ name: t.name, datatype: t.datatype, shape, binary_data_size: bytes.length });
      parts.push(bytes);
    }
  });
  if (offset !== binary.length) throw new HttpError(400, `the request has ${binary.length} bytes of binary data after the JSON header, but the inputs' binary_data_size add up to ${offset}`);
  const payload = anyJson ? Buffer.concat(parts) : binary;

  // requested outputs (all, when none are named)
  let wanted: RequestedOutput[] | null = null;
  if (doc.outputs !== undefined) {
    if (!Array.isArray(doc.outputs)) throw new HttpError(400, '"outputs" must be an array of {name, parameters?}');
    wanted = doc.outputs.map((o: unknown, i: number) => {
      if (!isObject(o) || typeof o.name !== 'string') throw new HttpError(400, `outputs[${i}] must be an object with a name`);
      const op = o.parameters === undefined ? {} : o.parameters;
      if (!isObject(op)) throw new HttpError(400, `outputs[${i}].parameters must be an object`);
      if (op.binary_data !== undefined && typeof op.binary_data !== 'boolean') throw new HttpError(400, `outputs[${i}].parameters.binary_data must be true or false`);
      return { name: o.name, binary: op.binary_data as boolean | undefined };
    });
  }

  const { result: r, parts: outBytes } = await d.dispatcher.callBinary('model.infer', { name, ...(version !== undefined ? { version } : {}), ...(requestId !== undefined ? { id: requestId } : {}), inputs }, payload, ctx);
  const byName = new Map(r.outputs.map((o, i) => [o.name, i]));
  const picked: Array<{ i: number; binary: boolean }> = [];
  if (wanted) {
    for (const w of wanted) {
      const i = byName.get(w.name);
      if (i === undefined) throw new HttpError(400, `unknown output "${w.name.slice(0, 100)}" (model ${r.model_name} ${r.model_version} has: ${r.outputs.map((o) => `"${o.name}"`).join(', ')})`);
      picked.push({ i, binary: w.binary ?? binaryDefault === true });
    }
  } else {
    for (let i = 0; i < r.outputs.length; i++) picked.push({ i, binary: binaryDefault === true });
  }

  const chunks: Buffer[] = [];
  const outputs = picked.map(({ i, binary: asBinary }) => {
    const o = r.outputs[i];
    if (!asBinary) return toJson(o.name, fromBinary(`output "${o.name}"`, o.datatype, o.shape, outBytes[i]));
    chunks.push(outBytes[i]);
    return { name: o.name, datatype: o.datatype, shape: o.shape, parameters: { binary_data_size: o.binary_data_size } };
  });
  const idHeader: Record<string, string> = r.id ? { 'x-request-id': r.id } : {};
  const answer = {
    model_name: r.model_name, model_version: r.model_version, id: r.id,
    parameters: { timing_us: r.timing_us }, outputs,
  };
  const head = Buffer.from(JSON.stringify(answer));
  if (chunks.length === 0) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': head.length, ...idHeader });
    return void res.end(head);
  }
  const out = Buffer.concat([head, ...chunks]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length, [HEADER_LENGTH]: String(head.length), ...idHeader });
  res.end(out);
}

// ---------- feedback ----------

/** POST /v2/models/{name}[/versions/{v}]/feedback with {labels: [{id, label}]}: model.feedback through the dispatcher
 * (role operate, audited, params schema: ≤ 10 000 labels); answers {matched, unknown, already_labelled}. */
async function feedback(d: V2Deps, limits: Limits, ctx: CallContext, name: string, version: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req, res, limits.json, limits.inflight, 'the JSON request body');
  if (!body) return;
  try {
    let doc: unknown;
    try { doc = JSON.parse(body.toString('utf8')); } catch (e) { throw new HttpError(400, `the request JSON is malformed: ${(e as Error).message}`, {}, 'PARSE_ERROR'); }
    if (!isObject(doc)) throw new HttpError(400, 'the request must be a JSON object {labels: [{id, label}, ...]}');
    const r = await d.dispatcher.call('model.feedback', { name, ...(version !== undefined ? { version } : {}), labels: doc.labels }, ctx);
    sendJson(res, 200, r);
  } finally {
    limits.inflight.used -= body.length;
  }
}

/** Read the body up to max bytes; beyond it answer 413 (and return null). The bytes count against `inflight` from
 * the moment they arrive (the caller gives them back once the request is answered): a request that would pass the
 * bound is answered 503 with retry-after, so concurrent large bodies cannot grow the agent without bound. */
async function readBody(req: http.IncomingMessage, res: http.ServerResponse, max: number, inflight: { max: number; used: number }, what: string): Promise<Buffer | null> {
  const refuse = (status: number, error: string, code: ErrorName, headers: Record<string, string> = {}) => {
    // no 'connection: close' here: closing at once makes a client that is still sending fail with EPIPE before it
    // reads this answer; the body is discarded and the socket cut after 2 s instead
    sendJson(res, status, { error, code }, headers);
    // the peer may still be sending: discard what comes, and cut the connection if it keeps on
    req.resume();
    setTimeout(() => req.socket.destroy(), 2000).unref();
    return null;
  };
  const tooLarge = () => refuse(413, `${what} is larger than the limit of ${max} bytes${what.includes('JSON') ? ` (send large tensors as binary data with the ${HEADER_LENGTH} header)` : ''}`, 'INVALID_REQUEST');
  const busy = () => refuse(503, `the agent is already receiving ${inflight.used} bytes of inference requests (limit ${inflight.max}): retry`, 'OVERLOADED', { 'retry-after': '1' });
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) return tooLarge();
  if (Number.isFinite(declared) && inflight.used + declared > inflight.max) return busy();
  const chunks: Buffer[] = [];
  let n = 0;
  const giveBack = () => { inflight.used -= n; n = 0; };
  return new Promise<Buffer | null>((resolve, reject) => {
    const stop = () => { req.off('data', onData); req.off('end', onEnd); chunks.length = 0; giveBack(); };
    const onData = (c: Buffer) => {
      n += c.length;
      inflight.used += c.length;
      if (n > max) { stop(); resolve(tooLarge()); return; }
      if (inflight.used > inflight.max) { stop(); resolve(busy()); return; }
      chunks.push(c);
    };
    // The bytes now belong to the caller, who gives them back once the request is answered.
    const onEnd = () => { const b = Buffer.concat(chunks, n); n = 0; resolve(b); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', (e) => { stop(); reject(e); });
    req.on('aborted', () => { stop(); reject(new HttpError(400, 'request aborted', {}, 'INVALID_REQUEST')); });
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const b = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': b.length });
  res.end(b);
}
