import { writeFileSync, chmodSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenStore } from './store/tokens.js';
import type { Db } from './store/db.js';

/** Path of the first admin token inside a data dir. */
export function adminTokenPath(dataDir: string): string { return join(dataDir, 'admin.token'); }

/** On first run (no token was ever created) create an admin token and store it readable only by the user (0600).
 * Revoking every token later does not mint a new one on restart. The file is written (temp + rename) inside the
 * token's transaction: a crash leaves either both or neither. Returns the file path when one was created. */
export function ensureAdminToken(tokens: TokenStore, db: Db, dataDir: string): string | null {
  if (tokens.totalCount() > 0) return null;
  const path = adminTokenPath(dataDir);
  db.transaction(() => {
    const { token } = tokens.create(`admin-${Date.now().toString(36)}`, 'admin');
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, token + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  })();
  return path;
}
