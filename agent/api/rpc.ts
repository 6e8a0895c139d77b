import type { z } from 'zod';
import { methods, roleAllows, RpcError, ErrorCodes, RequestEnvelope } from '../../shared/protocol/index.js';
import type { MethodName, Methods, ResultOf, ResponseEnvelope } from '../../shared/protocol/index.js';
import type { AuditLog } from '../store/audit.js';
import type { Logger } from '../log.js';
import type { CallContext } from './context.js';

/** A method implementation: params already validated against the method's schema. */
export type Handler<M extends MethodName> = (params: z.infer<Methods[M]['params']>, ctx: CallContext) => Promise<ResultOf<M>> | ResultOf<M>;
/** Implementations by method name; a method without one answers METHOD_NOT_FOUND. */
export type HandlerMap = { [M in MethodName]?: Handler<M> };

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
  ) {}

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
   * coordinator on its own node. Resolves with the result or rejects with an RpcError.
   */
  async call<M extends MethodName>(method: M, params: unknown, ctx: CallContext): Promise<ResultOf<M>> {
    const r = await this.handleOne({ jsonrpc: '2.0', id: 1, method, params }, ctx);
    if (!r) throw new RpcError('INTERNAL_ERROR', `${method}: no answer`);
    if ('error' in r && r.error) throw new RpcError(((r.error.data as { code?: string } | undefined)?.code ?? 'INTERNAL_ERROR') as never, r.error.message);
    return (r as { result: ResultOf<M> }).result;
  }

  private async handleOne(msg: unknown, ctx: CallContext): Promise<ResponseEnvelope | null> {
    const env = RequestEnvelope.safeParse(msg);
    if (!env.success) {
      const id = typeof msg === 'object' && msg !== null && 'id' in msg && (typeof (msg as any).id === 'string' || typeof (msg as any).id === 'number') ? (msg as any).id : null;
      return errorResponse(id, ErrorCodes.INVALID_REQUEST, `invalid request: ${describeIssues(env.error.issues)}`, 'INVALID_REQUEST');
    }
    const { id, method, params } = env.data;
    const isNotification = id === undefined;
    const reply = (r: ResponseEnvelope) => (isNotification ? null : r);
    if (!Object.hasOwn(methods, method)) {
      this.onCall?.('(unknown)', 'METHOD_NOT_FOUND');
      return reply(errorResponse(id ?? null, ErrorCodes.METHOD_NOT_FOUND, `method not found: ${method.slice(0, 64)}`, 'METHOD_NOT_FOUND'));
    }
    const name = method as MethodName;
    const spec = methods[name];
    const handler = this.handlers[name] as Handler<MethodName> | undefined;
    if (!handler) return reply(errorResponse(id ?? null, ErrorCodes.METHOD_NOT_FOUND, `method not implemented by this agent: ${name}`, 'METHOD_NOT_FOUND'));
    if (!roleAllows(ctx.principal.role, spec.role)) {
      this.onCall?.(name, 'FORBIDDEN');
      if (spec.mutates) this.auditSafe({ token_name: ctx.principal.tokenName, role: ctx.principal.role, method: name, params, outcome: 'FORBIDDEN', remote: ctx.remote });
      return reply(errorResponse(id ?? null, ErrorCodes.FORBIDDEN, `${name} needs role ${spec.role}; token "${ctx.principal.tokenName}" has ${ctx.principal.role}`, 'FORBIDDEN'));
    }
    if (Array.isArray(params)) return reply(errorResponse(id ?? null, ErrorCodes.INVALID_PARAMS, `invalid params for ${name}: params must be an object (named params)`, 'INVALID_PARAMS'));
    const parsed = spec.params.safeParse(params ?? {});
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
      const result = await handler(parsed.data as never, ctx);
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

function errorResponse(id: string | number | null, code: number, message: string, name: string): ResponseEnvelope {
  return { jsonrpc: '2.0', id, error: { code, message, data: { code: name } } };
}
