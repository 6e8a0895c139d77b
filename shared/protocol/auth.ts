import { z } from 'zod';

/** Roles, ordered: read < operate < admin. */
export const Role = z.enum(['read', 'operate', 'admin']);
export type Role = z.infer<typeof Role>;
const RANK: Record<Role, number> = { read: 0, operate: 1, admin: 2 };
/** True when `have` is at least `need`. */
export function roleAllows(have: Role, need: Role): boolean { return RANK[have] >= RANK[need]; }

/** auth.whoami — the token behind this connection. */
export const WhoamiParams = z.object({}).strict();
export const WhoamiResult = z.object({ token_name: z.string(), token_id: z.string(), role: Role, node: z.string() });

/** A token as listed (never the secret). */
export const TokenInfo = z.object({ id: z.string(), name: z.string(), role: Role, created_at: z.number(), last_used_at: z.number().nullable(), revoked_at: z.number().nullable() });
const TokenName = z.string().max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,62}$/, '1-63 letters, digits, . _ @ : -');

/** token.create — a new token, returned once. */
export const TokenCreateParams = z.object({ name: TokenName, role: Role }).strict();
export const TokenCreateResult = z.object({ token: z.string(), info: TokenInfo });
/** token.list — every token of this agent. */
export const TokenListParams = z.object({}).strict();
export const TokenListResult = z.object({ tokens: z.array(TokenInfo) });
/** token.revoke — by name or id; connections using it are refused from then on. */
export const TokenRevokeParams = z.object({ token: z.string().min(1).max(64) }).strict();
export const TokenRevokeResult = z.object({ revoked: z.boolean() });
