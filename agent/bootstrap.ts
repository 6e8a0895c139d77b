import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenStore } from './store/tokens.js';

/** Path of the first admin token inside a data dir. */
export function adminTokenPath(dataDir: string): string { return join(dataDir, 'admin.token'); }

/** On first run (no active token at all) create an admin token and store it readable only by the user (0600).
 * Returns the file path when one was created. */
export function ensureAdminToken(tokens: TokenStore, dataDir: string): string | null {
  if (tokens.activeCount() > 0) return null;
  const { token } = tokens.create(`admin-${Date.now().toString(36)}`, 'admin');
  const path = adminTokenPath(dataDir);
  writeFileSync(path, token + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
