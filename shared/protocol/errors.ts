/** Stable error codes. JSON-RPC standard codes plus fleetml's own (-32000…-32099).
 * The numeric code and the `data.code` string never change meaning once released. */
export const ErrorCodes = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  FORBIDDEN: -32001,
  NOT_FOUND: -32002,
  OVERLOADED: -32003,
  UNAVAILABLE: -32004,
  CONFLICT: -32005,
  TIMEOUT: -32006,
  UNSCHEDULABLE: -32007,
} as const;

/** Symbolic name of an error code ("FORBIDDEN"). */
export type ErrorName = keyof typeof ErrorCodes;

/** Human description of each code, used by docs/api.md. */
export const ErrorDescriptions: Record<ErrorName, string> = {
  PARSE_ERROR: 'The frame is not valid JSON.',
  INVALID_REQUEST: 'The JSON is not a JSON-RPC 2.0 request object (or the batch is empty / too large).',
  METHOD_NOT_FOUND: 'No method of that name exists.',
  INVALID_PARAMS: 'Params do not match the method schema; the message names each failing path.',
  INTERNAL_ERROR: 'A bug or unexpected failure in the agent; the agent keeps serving.',
  FORBIDDEN: "The token's role is below the role the method needs.",
  NOT_FOUND: 'The named object (node, subscription, …) does not exist.',
  OVERLOADED: 'A bounded queue or pool is full (requests in flight per model, unfinished uploads); the message names the limit (`data.limit`, e.g. uploads.max_per_token, where it is a config key) and what to do; retry later.',
  UNAVAILABLE: 'The subsystem is not available on this node (e.g. no GPU).',
  CONFLICT: 'The request conflicts with the current state.',
  TIMEOUT: 'The request did not finish in time.',
  UNSCHEDULABLE: 'The job can never run on this node (more GPUs than it has, unknown image, mount outside the allowed paths, driver unavailable).',
};

/** An error that crosses the wire: thrown by handlers, converted to a JSON-RPC error in one place. */
export class RpcError extends Error {
  readonly code: number;
  readonly name: string;
  readonly data: { code: ErrorName; [k: string]: unknown };
  constructor(name: ErrorName, message: string, extra?: Record<string, unknown>) {
    super(message);
    this.code = ErrorCodes[name];
    this.name = 'RpcError';
    this.data = { code: name, ...extra };
  }
}

/** Map a numeric JSON-RPC code back to its symbolic name (or undefined). */
export function errorNameOf(code: number): ErrorName | undefined {
  return (Object.keys(ErrorCodes) as ErrorName[]).find((k) => ErrorCodes[k] === code);
}
