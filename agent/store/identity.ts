import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';

/** The node's stable id: created once, survives restarts and renames. */
export function nodeIdentity(db: Db): string {
  const row = db.prepare('SELECT node_id FROM node_identity WHERE id = 1').get() as { node_id: string } | undefined;
  if (row) return row.node_id;
  const id = randomUUID();
  db.prepare('INSERT INTO node_identity (id, node_id, created_at) VALUES (1, ?, ?)').run(id, Date.now());
  return id;
}
