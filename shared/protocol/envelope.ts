import { z } from 'zod';

/** JSON-RPC 2.0 request id: string or number (null only in error responses). */
export const RequestId = z.union([z.string().max(128), z.number().int()]);

/** A JSON-RPC 2.0 request or notification as it arrives on the wire (params checked per method later). */
export const RequestEnvelope = z.object({
  jsonrpc: z.literal('2.0'),
  id: RequestId.optional(),
  method: z.string().min(1).max(128),
  params: z.union([z.record(z.string().max(256), z.unknown()), z.array(z.unknown())]).optional(),
}).strict();
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

/** Error object of a JSON-RPC 2.0 response. */
export interface RpcErrorObject { code: number; message: string; data?: unknown }

/** JSON-RPC 2.0 response. */
export type ResponseEnvelope =
  | { jsonrpc: '2.0'; id: string | number | null; result: unknown }
  | { jsonrpc: '2.0'; id: string | number | null; error: RpcErrorObject };

/** Server → client notification carrying subscription data. */
export interface SubscriptionNotification {
  jsonrpc: '2.0';
  method: 'subscription';
  params: { subscriptionId: string; seq: number; data: unknown };
}

/** First frame the agent sends on every connection. */
export const Hello = z.object({
  protocol_version: z.string(),
  agent_version: z.string(),
  node: z.string(),
  node_id: z.string(),
  role: z.enum(['read', 'operate', 'admin']),
  token_name: z.string(),
});
export type Hello = z.infer<typeof Hello>;
