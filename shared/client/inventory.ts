import { readFileSync, writeFileSync, mkdirSync, existsSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { parse, stringify } from 'yaml';
import { expandHome, normaliseAgentUrl } from '../util/paths.js';

/** One agent in the inventory. Give a token or (better) a token_file readable only by you. */
export const InventoryNode = z.object({
  name: z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
  url: z.string().min(1),
  token: z.string().optional(),
  token_file: z.string().optional(),
  /** PEM file of a private CA for wss://. */
  ca_file: z.string().optional(),
}).strict();
export type InventoryNode = z.infer<typeof InventoryNode>;

/** The cluster inventory file (YAML). */
export const Inventory = z.object({
  cluster: z.string().optional(),
  nodes: z.array(InventoryNode).default([]),
}).strict();
export type Inventory = z.infer<typeof Inventory>;

/** A resolved connection target: URL normalised, token read. */
export interface Target { name: string; url: string; token: string; ca?: string; /** Named after its address (--url): the agent's own name replaces it once known. */ unnamed?: boolean }

/** Read an inventory; a missing file is an empty inventory. Errors name the file and the key. */
export function loadInventory(path: string): Inventory {
  if (!existsSync(path)) return { nodes: [] };
  let raw: unknown;
  try { raw = parse(readFileSync(path, 'utf8')) ?? {}; } catch (e) { throw new Error(`inventory ${path} is not valid YAML: ${(e as Error).message}`); }
  const r = Inventory.safeParse(raw);
  if (!r.success) throw new Error(`inventory ${path} is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const names = new Set<string>();
  for (const n of r.data.nodes) {
    if (names.has(n.name)) throw new Error(`inventory ${path}: node "${n.name}" appears twice`);
    names.add(n.name);
  }
  return r.data;
}

/** Write an inventory atomically, readable only by the user (it may hold tokens). */
export function saveInventory(path: string, inv: Inventory): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(inv), { mode: 0o600 });
  renameSync(tmp, path);
}

/** Resolve an inventory entry into a target (reads token_file / ca_file). */
export function resolveNode(n: InventoryNode): Target {
  let token = n.token;
  if (!token && n.token_file) {
    try { token = readFileSync(expandHome(n.token_file), 'utf8').trim(); } catch (e) { throw new Error(`node ${n.name}: cannot read token_file ${n.token_file}: ${(e as Error).message}`); }
  }
  if (!token) throw new Error(`node ${n.name}: no token (set token or token_file; create one on the node with: fleetml token create --role read)`);
  const ca = n.ca_file ? readFileSync(expandHome(n.ca_file), 'utf8') : undefined;
  return { name: n.name, url: normaliseAgentUrl(n.url), token, ...(ca ? { ca } : {}) };
}
