import type { Command } from 'commander';
import type { TokenStore } from '../../agent/store/tokens.js';
import type { AuditLog } from '../../agent/store/audit.js';
import { Role } from '../../shared/protocol/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../agent/config.js';
import { formatTable, parseOutput, printJson, UsageError } from '../output.js';
import { userInfo } from 'node:os';

/** Options every `fleetml token` subcommand takes. */
export interface TokenOpts { dataDir?: string; config?: string; output?: string }

// The same data dir the agent uses: --data-dir, else the agent config (--config / FLEETML_CONFIG) with
// FLEETML_DATA_DIR and $STATE_DIRECTORY, else the per-user default. Always said on stderr, so a token is never
// silently written to a database no agent reads.
const dataDir = (o: TokenOpts) => {
  if (o.dataDir) return o.dataDir;
  try { return loadConfig({ config: o.config }).data_dir; } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
};
/** Open the agent's store for one token command (SQLite loads only for these commands). */
const withStore = async <T>(o: TokenOpts, f: (t: TokenStore, a: AuditLog) => T): Promise<T> => {
  const [{ openStore }, { TokenStore }, { AuditLog }] = await Promise.all([import('../../agent/store/db.js'), import('../../agent/store/tokens.js'), import('../../agent/store/audit.js')]);
  const dir = dataDir(o);
  const fresh = !existsSync(join(dir, 'fleetml.db'));
  const db = openStore(dir);
  console.error(`${fresh ? 'created' : 'using'} ${join(dir, 'fleetml.db')}`);
  try { return f(new TokenStore(db), new AuditLog(db)); } finally { db.close(); }
};
const who = () => `cli:${userInfo().username}`;

/** `fleetml token create|list|revoke`: works on the data dir directly, whether or not the agent runs (SQLite WAL). */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('manage API tokens of the agent on this machine (only hashes are stored)');
  token.command('create [name]').description('create a token and print it once (NAME or --name; default <role>-<time>)')
    .requiredOption('--role <role>', 'read | operate | admin')
    .option('--name <name>', 'token name, the same as the NAME argument (default: <role>-<time>)')
    .option('--data-dir <dir>', 'agent data dir (default: from --config, FLEETML_DATA_DIR, $STATE_DIRECTORY, else ~/.local/share/fleetml)')
    .option('--config <file>', 'agent config file whose data_dir to use (also FLEETML_CONFIG)')
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action((name: string | undefined, o: TokenCreateOpts) => {
      if (name && o.name && name !== o.name) throw new UsageError(`two names given ("${name}" and --name "${o.name}"): give one`);
      return tokenCreateAction({ ...o, name: name ?? o.name });
    });

  token.command('list').description('list tokens (never the secrets)')
    .option('--data-dir <dir>', 'agent data dir')
    .option('--config <file>', 'agent config file whose data_dir to use')
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(tokenListAction);

  token.command('revoke <nameOrId>').description('revoke a token: new connections are refused, open ones end within one ping interval')
    .option('--data-dir <dir>', 'agent data dir')
    .option('--config <file>', 'agent config file whose data_dir to use')
    .option('-o, --output <fmt>', 'table or json', 'table')
    .action(tokenRevokeAction);
}

/** Options of `fleetml token create`. */
export interface TokenCreateOpts extends TokenOpts { role: string; name?: string }

/** `fleetml token create --role R`: create a token, print it once (audited as cli:USER). */
export async function tokenCreateAction(o: TokenCreateOpts): Promise<void> {
  const out = parseOutput(o.output);
  const role = Role.safeParse(o.role);
  if (!role.success) throw new UsageError(`unknown role "${o.role}": use read, operate or admin`);
  const name = o.name ?? `${role.data}-${Date.now().toString(36)}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,62}$/.test(name)) throw new UsageError('token names are 1-63 letters, digits, . _ @ : -');
  const r = await withStore(o, (t, a) => {
    let created;
    try { created = t.create(name, role.data); } catch (e) { throw new UsageError((e as Error).message); }
    a.record({ token_name: who(), role: 'admin', method: 'token.create', params: { name, role: role.data }, outcome: 'ok', remote: 'local' });
    return created;
  });
  if (out === 'json') return printJson({ token: r.token, id: r.row.id, name: r.row.name, role: r.row.role, created_at: r.row.created_at });
  console.log(r.token);
  console.error(`created token "${r.row.name}" (role ${r.row.role}); it is shown only once`);
}

/** `fleetml token list`: every token, never the secrets. */
export async function tokenListAction(o: TokenOpts): Promise<void> {
  const out = parseOutput(o.output);
  const rows = await withStore(o, (t) => t.list());
  if (out === 'json') return printJson(rows);
  const d = (v: number | null) => (v ? new Date(v).toISOString().replace(/\.\d+Z$/, 'Z') : '-');
  console.log(formatTable(['NAME', 'ID', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED'], rows.map((r) => [r.name, r.id, r.role, d(r.created_at), d(r.last_used_at), d(r.revoked_at)])));
}

/** `fleetml token revoke NAME|ID`: revoke a token (audited as cli:USER). */
export async function tokenRevokeAction(nameOrId: string, o: TokenOpts): Promise<void> {
  const out = parseOutput(o.output);
  const ok = await withStore(o, (t, a) => {
    const done = t.revoke(nameOrId).length > 0;
    a.record({ token_name: who(), role: 'admin', method: 'token.revoke', params: { token: nameOrId }, outcome: done ? 'ok' : 'NOT_FOUND', remote: 'local' });
    return done;
  });
  if (!ok) throw new UsageError(`no active token named or with id "${nameOrId}"; see: fleetml token list`);
  if (out === 'json') return printJson({ revoked: nameOrId });
  console.log(`revoked ${nameOrId}`);
}
