import { readFileSync } from 'node:fs';

// Host users as the job drivers need them: a process job runs as jobs.process_user, and the mount policy must know
// every uid and gid a job can write as. Read from /etc/passwd and /etc/group (files only: NSS modules such as LDAP
// are not consulted; a numeric "uid[:gid]" works for any user).

/** A resolved host user. */
export interface HostUser { name: string | null; uid: number; gid: number; home: string | null; gids: number[] }

function table(file: string): string[][] {
  try { return readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')); } catch { return []; }
}

/** Resolve "name", "uid" or "uid:gid" to a host user; null when a name is unknown. */
export function lookupUser(spec: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): HostUser | null {
  const passwd = table(files.passwd);
  const num = /^(\d+)(?::(\d+))?$/.exec(spec);
  const row = num ? passwd.find((r) => r[2] === num[1]) : passwd.find((r) => r[0] === spec);
  if (!row && !num) return null;
  const uid = num ? Number(num[1]) : Number(row![2]);
  const gid = num?.[2] !== undefined ? Number(num[2]) : row ? Number(row[3]) : uid;
  const name = row ? row[0] : null;
  // Supplementary groups: only when the primary group comes from passwd (initgroups semantics). An explicit gid
  // means exactly that group (what setpriv --clear-groups and the container engine's numeric user do).
  const extra = name && num?.[2] === undefined ? table(files.group).filter((g) => (g[3] ?? '').split(',').includes(name)).map((g) => Number(g[2])) : [];
  return { name, uid, gid, home: row?.[5] || null, gids: [...new Set([gid, ...extra])] };
}

/** The user this agent runs as. */
export function agentUser(): HostUser {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  return { name: null, uid, gid, home: process.env.HOME ?? null, gids: [...new Set([gid, ...(process.getgroups?.() ?? [])])] };
}

/** Whether this process can start processes as another user (root, or CAP_SETUID + CAP_SETGID + CAP_KILL). */
export function canSwitchUsers(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (!m) return false;
    const eff = BigInt(`0x${m[1]}`);
    const has = (bit: number) => (eff & (1n << BigInt(bit))) !== 0n;
    return has(5) && has(6) && has(7); // CAP_KILL, CAP_SETGID, CAP_SETUID
  } catch { return false; }
}
