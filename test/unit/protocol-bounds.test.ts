// Every string a client can send has a length bound (a read token must not be able to make the agent hold
// megabytes per field), and so does every record key: checked over every method's params (text and binary form)
// and every topic's params, from the schemas themselves.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { methods, topics } from '../../shared/protocol/index.js';

/** Paths inside a JSON schema where a string (or record key) has no maxLength. */
function unbounded(node: unknown, path: string, out: string[], seen = new Set<unknown>()): string[] {
  if (!node || typeof node !== 'object' || seen.has(node)) return out;
  seen.add(node);
  const n = node as Record<string, any>;
  const isString = n.type === 'string' || (Array.isArray(n.type) && n.type.includes('string'));
  if (isString && n.maxLength === undefined && n.enum === undefined && n.const === undefined) out.push(path || '(root)');
  if (n.propertyNames) unbounded(n.propertyNames, `${path}{key}`, out, seen);
  else if (n.type === 'object' && n.additionalProperties && typeof n.additionalProperties === 'object') out.push(`${path}{key}`);
  for (const [k, v] of Object.entries(n.properties ?? {})) unbounded(v, `${path}.${k}`, out, seen);
  if (n.items) unbounded(n.items, `${path}[]`, out, seen);
  if (n.additionalProperties && typeof n.additionalProperties === 'object') unbounded(n.additionalProperties, `${path}{value}`, out, seen);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) for (const v of n[key] ?? []) unbounded(v, path, out, seen);
  for (const v of Object.values(n.$defs ?? n.definitions ?? {})) unbounded(v, `${path}$def`, out, seen);
  return out;
}
const json = (s: z.ZodType) => z.toJSONSchema(s, { unrepresentable: 'any', io: 'input' });

describe('protocol bounds', () => {
  it('the checker finds an unbounded string and an unbounded record key', () => {
    expect(unbounded(json(z.object({ a: z.string().max(3), b: z.string(), c: z.record(z.string(), z.number()) })), '', [])).toEqual(['.b', '.c{key}']);
  });

  it('every string in every method\'s params has a maxLength', () => {
    const found: string[] = [];
    for (const [name, m] of Object.entries(methods)) {
      unbounded(json(m.params), name, found);
      const bin = (m as { binary?: { params: z.ZodType } }).binary;
      if (bin) unbounded(json(bin.params), `${name} (binary)`, found);
    }
    expect(found).toEqual([]);
  });

  it('every string in every topic\'s params has a maxLength', () => {
    const found: string[] = [];
    for (const [name, t] of Object.entries(topics)) unbounded(json(t.params), name, found);
    expect(found).toEqual([]);
  });
});
