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
