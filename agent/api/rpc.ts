import type { z } from 'zod';
import { methods, roleAllows, RpcError, ErrorCodes, RequestEnvelope } from '../../shared/protocol/index.js';
import type { BinaryMethodName, BinaryParamsOf, BinaryResultOf, ErrorName, MethodName, Methods, MethodSpec, ResultOf, ResponseEnvelope } from '../../shared/protocol/index.js';
import type { AuditLog } from '../store/audit.js';
import type { Logger } from '../log.js';
import type { CallContext } from './context.js';

/** A method implementation: params already validated against the method's schema. */
export type Handler<M extends MethodName> = (params: z.infer<Methods[M]['params']>, ctx: CallContext) => Promise<ResultOf<M>> | ResultOf<M>;
/** Implementations by method name; a method without one answers METHOD_NOT_FOUND. */
export type HandlerMap = { [M in MethodName]?: Handler<M> };
/** The answer of a binary form: the result header and the tensor bytes that follow it (views, not copied). */
export interface BinaryAnswer<R = unknown> { result: R; parts: Buffer[] }
/** The binary form of a method: params header already validated against `binary.params`, its payload beside it. */
export type BinaryHandler<M extends BinaryMethodName> = (params: BinaryParamsOf<M>, payload: Buffer, ctx: CallContext) => Promise<BinaryAnswer<BinaryResultOf<M>>>;
/** Binary-form implementations by method name. */
export type BinaryHandlerMap = { [M in BinaryMethodName]?: BinaryHandler<M> };
/** What a transport hands the pipeline besides the envelope: nothing (JSON), or a binary frame's payload. */
type Form = { kind: 'json' } | { kind: 'binary'; payload: Buffer };
const JSON_FORM: Form = { kind: 'json' };

const MAX_BATCH = 100;

/** Turn zod issues into one line that names each failing path. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues.slice(0, 8).map((i) => `${i.path.length ? i.path.join('.') : '(params)'}: ${i.message}`).join('; ');
}

/**
 * JSON-RPC 2.0 dispatch: parse → envelope check → method lookup → role check → params validation → handler.
 * The one place where errors become JSON-RPC error objects; nothing thrown here reaches the socket or kills the agent.
 */
export class RpcDispatcher {
  constructor(
    private readonly handlers: HandlerMap,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly onCall?: (method: string, outcome: string) => void,
    private readonly binaryHandlers: BinaryHandlerMap = {},
  ) {}

  /**
   * Add handlers (the composition root makes the dispatcher first, so parts that call their own node through it,
   * like the rollout coordinator, get it at construction; their handlers are registered once they exist).
   */
  register(handlers: HandlerMap, binary: BinaryHandlerMap = {}): void {
    for (const name of Object.keys(handlers)) if (Object.hasOwn(this.handlers, name)) throw new Error(`rpc: ${name} registered twice`);
    for (const name of Object.keys(binary)) if (Object.hasOwn(this.binaryHandlers, name)) throw new Error(`rpc: binary ${name} registered twice`);
    Object.assign(this.handlers, handlers);
    Object.assign(this.binaryHandlers, binary);
  }

  /** Write an audit row; a failing write is logged and never keeps the caller from its answer. */
  private auditSafe(e: Parameters<AuditLog['record']>[0]): void {
    try {
      if (e.outcome === 'FORBIDDEN') this.audit.recordRefusal(e); else this.audit.record(e);
    } catch (err) { this.log.error({ err, method: e.method }, 'audit write failed'); }
  }

  /** Handle one text frame; returns the response text, or null for notifications. */
  async handleFrame(text: string, ctx: CallContext): Promise<string | null> {
    let msg: unknown;
    try { msg = JSON.parse(text); } catch (e) {
      return JSON.stringify(errorResponse(null, ErrorCodes.PARSE_ERROR, `parse error: ${(e as Error).message}`, 'PARSE_ERROR'));
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0 || msg.length > MAX_BATCH) return JSON.stringify(errorResponse(null, ErrorCodes.INVALID_REQUEST, `a batch must hold 1..${MAX_BATCH} requests`, 'INVALID_REQUEST'));
      const out = (await Promise.all(msg.map((m) => this.handleOne(m, ctx)))).filter((r): r is ResponseEnvelope => r !== null);
      return out.length ? JSON.stringify(out) : null;
    }
    const r = await this.handleOne(msg, ctx);
    return r ? JSON.stringify(r) : null;
  }

  /**
   * The same pipeline (role, params validation, audit) for a call made inside the agent, e.g. by the rollout
   * coordinator on its own node or by the HTTP v2 routes. Resolves with the result or rejects with an RpcError that
   * keeps the error's code and data.
   */
  async call<M extends MethodName>(method: M, params: unknown, ctx: CallContext): Promise<ResultOf<M>> {
    const r = await this.handleOne({ jsonrpc: '2.0', id: 1, method, params }, ctx, JSON_FORM);
    return unwrap(method, r) as ResultOf<M>;
  }

  /**
   * One binary frame's header (parsed JSON, not yet validated) with its payload: the same pipeline as a text frame
   * (envelope, method, role, params schema — the method's `binary.params` —, audit, metrics, error codes). Answers the
   * response header (a result, or an error with the request's id) and the tensor bytes that follow a result.
   */
  async handleBinary(header: unknown, payload: Buffer, ctx: CallContext): Promise<{ response: ResponseEnvelope; parts: Buffer[] }> {
    const r = await this.handleOne(header, ctx, { kind: 'binary', payload }, true);
    if (r && 'result' in r) { const a = r.result as BinaryAnswer; return { response: { jsonrpc: '2.0', id: r.id, result: a.result }, parts: a.parts }; }
    return { response: r!, parts: [] };
  }

  /** The binary form of a method called inside the agent (the HTTP v2 routes): resolves with the answer or rejects
   * with an RpcError keeping code and data. */
  async callBinary<M extends BinaryMethodName>(method: M, params: unknown, payload: Buffer, ctx: CallContext): Promise<BinaryAnswer<BinaryResultOf<M>>> {
    const r = await this.handleOne({ jsonrpc: '2.0', id: 1, method, params }, ctx, { kind: 'binary', payload });
    return unwrap(method, r) as BinaryAnswer<BinaryResultOf<M>>;
  }

  /** The pipeline. `alwaysAnswer`: a request without an id is answered too (binary frames have no notifications). */
  private async handleOne(msg: unknown, ctx: CallContext, form: Form = JSON_FORM, alwaysAnswer = false): Promise<ResponseEnvelope | null> {
    const env = RequestEnvelope.safeParse(msg);
    if (!env.success) {
      const id = typeof msg === 'object' && msg !== null && 'id' in msg && (typeof (msg as any).id === 'string' || typeof (msg as any).id === 'number') ? (msg as any).id : null;
      return errorResponse(id, ErrorCodes.INVALID_REQUEST, `invalid request: ${describeIssues(env.error.issues)}`, 'INVALID_REQUEST');
    }
    const { id, method, params } = env.data;
    const isNotification = id === undefined && !alwaysAnswer;
    const reply = (r: ResponseEnvelope) => (isNotification ? null : r);
    if (!Object.hasOwn(methods, method)) {
      this.onCall?.('(unknown)', 'METHOD_NOT_FOUND');
      return reply(errorResponse(id ?? null, ErrorCodes.METHOD_NOT_FOUND, `method not found: ${method.slice(0, 64)}`, 'METHOD_NOT_FOUND'));
    }
    const name = method as MethodName;
    const spec = methods[name] as MethodSpec<z.ZodType, z.ZodType> & { isWrite?: (p: never) => boolean };
    const binary = form.kind === 'binary';
    const handler = (binary ? this.binaryHandlers[name as BinaryMethodName] : this.handlers[name]) as ((p: unknown, ...rest: any[]) => Promise<unknown> | unknown) | undefined;
    if (!handler && !binary) return reply(errorResponse(id ?? null, ErrorCodes.METHOD_NOT_FOUND, `method not implemented by this agent: ${name}`, 'METHOD_NOT_FOUND'));
    if (!roleAllows(ctx.principal.role, spec.role)) {
      this.onCall?.(name, 'FORBIDDEN');
      if (spec.mutates) this.auditSafe({ token_name: ctx.principal.tokenName, role: ctx.principal.role, method: name, params, outcome: 'FORBIDDEN', remote: ctx.remote });
      return reply(errorResponse(id ?? null, ErrorCodes.FORBIDDEN, `${name} needs role ${spec.role}; token "${ctx.principal.tokenName}" has ${ctx.principal.role}`, 'FORBIDDEN'));
    }
    // A method without a binary form refuses binary frames (after the role check: a read token learns no more).
    if (binary && (!spec.binary || !handler)) {
      this.onCall?.(name, 'INVALID_REQUEST');
      return reply(errorResponse(id ?? null, ErrorCodes.INVALID_REQUEST, `binary frames carry only ${binaryMethodList()}: ${name} has no binary form (send it as a text frame)`, 'INVALID_REQUEST'));
    }
    if (Array.isArray(params)) return reply(errorResponse(id ?? null, ErrorCodes.INVALID_PARAMS, `invalid params for ${name}: params must be an object (named params)`, 'INVALID_PARAMS'));
    const parsed = (binary ? spec.binary!.params : spec.params).safeParse(params ?? {});
    if (!parsed.success) {
      this.onCall?.(name, 'INVALID_PARAMS');
      return reply(errorResponse(id ?? null, ErrorCodes.INVALID_PARAMS, `invalid params for ${name}: ${describeIssues(parsed.error.issues)}`, 'INVALID_PARAMS'));
    }
    // A read-or-write method (e.g. drift.config with `set`) needs the write role only when it writes.
    const writes = spec.mutates || (spec.isWrite?.(parsed.data as never) ?? false);
    if (writes && spec.writeRole && !roleAllows(ctx.principal.role, spec.writeRole)) {
      this.onCall?.(name, 'FORBIDDEN');
      this.auditSafe({ token_name: ctx.principal.tokenName, role: ctx.principal.role, method: name, params: parsed.data, outcome: 'FORBIDDEN', remote: ctx.remote });
      return reply(errorResponse(id ?? null, ErrorCodes.FORBIDDEN, `${name} with these params needs role ${spec.writeRole}; token "${ctx.principal.tokenName}" has ${ctx.principal.role}`, 'FORBIDDEN'));
    }
    try {
      const result = await (form.kind === 'binary' ? handler!(parsed.data, form.payload, ctx) : handler!(parsed.data, ctx));
      if (writes) this.auditSafe({ token_name: ctx.principal.tokenName, role: ctx.principal.role, method: name, params: parsed.data, outcome: 'ok', remote: ctx.remote });
      this.onCall?.(name, 'ok');
      return reply({ jsonrpc: '2.0', id: id ?? null, result });
    } catch (e) {
      const err = e instanceof RpcError ? e : null;
      if (!err) this.log.error({ err: e, method: name }, 'handler failed');
      const outcome = err ? err.data.code : 'INTERNAL_ERROR';
      if (writes) this.auditSafe({ token_name: ctx.principal.tokenName, role: ctx.principal.role, method: name, params: parsed.data, outcome, remote: ctx.remote });
      this.onCall?.(name, outcome);
      return reply(err
        ? { jsonrpc: '2.0', id: id ?? null, error: { code: err.code, message: err.message, data: err.data } }
        : errorResponse(id ?? null, ErrorCodes.INTERNAL_ERROR, `internal error in ${name}: ${(e as Error)?.message ?? String(e)}`, 'INTERNAL_ERROR'));
    }
  }
}

/** Result of an in-agent call, or its error as an RpcError with the same code and data. */
function unwrap(method: string, r: ResponseEnvelope | null): unknown {
  if (!r) throw new RpcError('INTERNAL_ERROR', `${method}: no answer`);
  if ('error' in r) {
    const { code, ...rest } = (r.error.data ?? {}) as { code?: string; [k: string]: unknown };
    throw new RpcError((code ?? 'INTERNAL_ERROR') as ErrorName, r.error.message, rest);
  }
  return r.result;
}

/** The methods that have a binary form, for messages. */
function binaryMethodList(): string {
  return Object.entries(methods).filter(([, m]) => 'binary' in m && m.binary).map(([n]) => n).join(', ');
}

function errorResponse(id: string | number | null, code: number, message: string, name: string): ResponseEnvelope {
  return { jsonrpc: '2.0', id, error: { code, message, data: { code: name } } };
}
