import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AliasTarget, Lineage, RpcError, TensorSpec } from '../../shared/protocol/index.js';
import type { Db } from '../store/db.js';
import { decodeStored, type DecodeWarn } from '../store/decode.js';

const Signature = z.array(TensorSpec);
const Targets = z.array(AliasTarget);

/** sha256 (hex) of a file's bytes. */
function digestOf(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A committed version as stored. */
export interface StoredVersion {
  name: string; version: string; sha256: string; size_bytes: number; inputs: TensorSpec[]; outputs: TensorSpec[];
  pushed_by: string; pushed_at: number; lineage: { git_commit: string | null; dataset_sha256: string | null; dataset_name: string | null; meta: Record<string, string> };
}

/** Reads a candidate file's signature (loads it once): throws a clear Error for a file that is not a loadable model. */
export type SignatureReader = (file: string) => Promise<{ inputs: TensorSpec[]; outputs: TensorSpec[] }>;

/** Bounds of unfinished chunked uploads (agent config uploads.*): per token, in total, and the idle expiry. */
export interface UploadLimits { maxPerToken: number; maxTotal: number; expiryMs: number }
/** The defaults of agent config uploads.*. */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxPerToken: 4, maxTotal: 32, expiryMs: 3_600_000 };

interface UploadRow { id: string; name: string; version: string | null; received: number; started_at: number; pushed_by: string; lineage: string }

/**
 * The model registry of one agent. Artifacts: <root>/artifacts/<sha256>.onnx (content-addressed, written by rename
 * only after the digest and the model check pass); uploads in progress: <root>/uploads/<id>.part with a row in
 * model_uploads. Invariants: a version row exists only for a complete, verified artifact; a refused or interrupted
 * upload leaves nothing (interrupted ones — e.g. by kill -9 — are swept at start-up); versions are immutable.
 * Unfinished uploads are bounded (UploadLimits): at most maxPerToken per token and maxTotal in all, and one idle for
 * longer than expiryMs is removed with its part file, so abandoned pushes cannot fill the disk. The expiry is checked
 * by expireUploads (a timer, expireEvery) and again before a new upload is counted and when a chunk arrives, so an
 * expired upload is never resumed even between two timer runs.
 */
/** The traffic split of one model name. */
export interface RegistryAlias { name: string; targets: Array<{ version: string; weight: number }>; updated_at: number }
/** A committed change of the registry: a new version, a removed one, or a name's new routing. */
export type RegistryChange = { version: StoredVersion } | { removed: { name: string; version: string } } | { alias: RegistryAlias };

export class ModelRegistry {
  private readonly artifacts: string;
  private readonly uploads: string;
  /** Uploads whose final chunk is being committed: any further chunk for them is refused. Set synchronously, before
   * the first await of the commit, so a chunk racing the commit can never append to the bytes being verified. */
  private readonly committing = new Set<string>();
  /** Time of each unfinished upload's last accepted chunk (ms epoch), for the expiry. In memory: uploads never survive
   * a restart (init removes them all). */
  private readonly touched = new Map<string, number>();
  constructor(private readonly db: Db, root: string, private readonly maxBytes: number, private readonly readSignature: SignatureReader, private readonly warn?: DecodeWarn,
    private readonly limits: UploadLimits = DEFAULT_UPLOAD_LIMITS) {
    this.artifacts = join(root, 'artifacts');
    this.uploads = join(root, 'uploads');
  }

  /** Create folders and sweep what a crash left: partial uploads, artifacts no version references. */
  init(): { sweptUploads: number; sweptArtifacts: number } {
    mkdirSync(this.artifacts, { recursive: true, mode: 0o700 });
    mkdirSync(this.uploads, { recursive: true, mode: 0o700 });
    const rows = this.db.prepare('SELECT id FROM model_uploads').all() as Array<{ id: string }>;
    this.db.prepare('DELETE FROM model_uploads').run();
    let sweptUploads = rows.length;
    for (const f of readdirSync(this.uploads)) { rmSync(join(this.uploads, f), { force: true }); if (!rows.some((r) => f.startsWith(r.id))) sweptUploads++; }
    const used = new Set((this.db.prepare('SELECT DISTINCT sha256 FROM model_versions').all() as Array<{ sha256: string }>).map((r) => r.sha256));
    let sweptArtifacts = 0;
    for (const f of readdirSync(this.artifacts)) {
      const sha = f.replace(/\.onnx$/, '');
      if (!used.has(sha)) { rmSync(join(this.artifacts, f), { force: true }); sweptArtifacts++; }
    }
    return { sweptUploads, sweptArtifacts };
  }

  /** Path of a version's artifact. */
  file(v: StoredVersion): string { return join(this.artifacts, `${v.sha256}.onnx`); }

  /** Append one chunk; the final one verifies and commits. Returns the upload id, bytes so far, and the version once committed. */
  async push(p: { name: string; version?: string; upload_id?: string; offset: number; data: Buffer; final: boolean; sha256?: string; lineage?: { git_commit?: string; dataset_sha256?: string; dataset_name?: string; meta?: Record<string, string> } }, by: string, now = Date.now()):
    Promise<{ upload_id: string; received_bytes: number; version: StoredVersion | null }> {
    let up: UploadRow | undefined;
    if (!p.upload_id) {
      if (p.offset !== 0) throw new RpcError('INVALID_PARAMS', 'the first chunk of an upload has offset 0 and no upload_id');
      if (p.version && this.get(p.name, p.version)) throw new RpcError('CONFLICT', `model ${p.name} version ${p.version} already exists (versions are immutable: push another version)`);
      this.admitUpload(by, now);
      const id = `u_${randomBytes(8).toString('hex')}`;
      this.db.prepare('INSERT INTO model_uploads (id, name, version, received, started_at, pushed_by, lineage) VALUES (?, ?, ?, 0, ?, ?, ?)')
        .run(id, p.name, p.version ?? null, now, by, JSON.stringify(p.lineage ?? {}));
      closeSync(openSync(this.part(id), 'w', 0o600));
      this.touched.set(id, now);
      up = this.db.prepare('SELECT * FROM model_uploads WHERE id = ?').get(id) as UploadRow;
    } else {
      up = this.db.prepare('SELECT * FROM model_uploads WHERE id = ?').get(p.upload_id) as UploadRow | undefined;
      if (!up) throw new RpcError('NOT_FOUND', `no upload ${p.upload_id.slice(0, 64)} (it finished, failed, expired after ${this.limits.expiryMs / 1000} s without a chunk, or the agent restarted: start again from offset 0)`);
      if (up.name !== p.name) throw new RpcError('INVALID_PARAMS', `upload ${up.id} is for model ${up.name}, not ${p.name}`);
      if (this.committing.has(up.id)) throw new RpcError('CONFLICT', `upload ${up.id} is being committed (its final chunk was received): no chunk can follow it`);
      if (this.idleTooLong(up, now)) {
        this.abort(up.id);
        throw new RpcError('NOT_FOUND', `upload ${up.id} expired: no chunk for more than ${this.limits.expiryMs / 1000} s (uploads.expiry_s); start again from offset 0`);
      }
    }
    if (p.offset !== up.received) throw new RpcError('INVALID_PARAMS', `chunk at offset ${p.offset}, but ${up.received} bytes were received: resend from offset ${up.received}`);
    if (up.received + p.data.length > this.maxBytes) { this.abort(up.id); throw new RpcError('INVALID_PARAMS', `model larger than the limit of ${this.maxBytes} bytes (models.max_bytes)`); }
    const fd = openSync(this.part(up.id), 'r+');
    try { writeSync(fd, p.data, 0, p.data.length, up.received); if (p.final) fsyncSync(fd); } finally { closeSync(fd); }
    const received = up.received + p.data.length;
    this.db.prepare('UPDATE model_uploads SET received = ? WHERE id = ?').run(received, up.id);
    this.touched.set(up.id, now);
    if (!p.final) return { upload_id: up.id, received_bytes: received, version: null };
    // Locked before the first await: from here on no chunk of this upload is accepted (see `committing`).
    this.committing.add(up.id);
    try {
      return { upload_id: up.id, received_bytes: received, version: await this.commit(up, received, p.sha256, now) };
    } finally {
      this.committing.delete(up.id);
      this.abort(up.id); // the part file is gone either way (renamed into artifacts, or refused)
    }
  }

  private async commit(up: UploadRow, size: number, expected: string | undefined, now: number): Promise<StoredVersion> {
    if (!expected) throw new RpcError('INVALID_PARAMS', 'the final chunk needs sha256 of the whole file');
    // The upload is locked (`committing`): every write to the part file goes through push(), which now refuses this
    // upload, so the bytes hashed here are the bytes checked and renamed below.
    const part = this.part(up.id);
    const bytes = readFileSync(part);
    if (bytes.length !== size) throw new RpcError('INVALID_PARAMS', `upload ${up.id} holds ${bytes.length} bytes, ${size} were acknowledged (start again from offset 0)`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== expected) throw new RpcError('INVALID_PARAMS', `digest mismatch: received ${size} bytes with sha256 ${sha}, expected ${expected} (corrupt or incomplete upload)`);
    let sig: { inputs: TensorSpec[]; outputs: TensorSpec[] };
    try { sig = await this.readSignature(part); } catch (e) {
      throw new RpcError('INVALID_PARAMS', `not a loadable ONNX model: ${(e as Error).message}`);
    }
    const art = join(this.artifacts, `${sha}.onnx`);
    // Content-addressed: the same bytes are stored once. An artifact already there is reused only when its bytes
    // still have its name's digest; one that does not (tampered, torn) is replaced by the verified upload.
    if (!existsSync(art) || digestOf(art) !== sha) renameSync(part, art);
    const lineage = JSON.parse(up.lineage) as { git_commit?: string; dataset_sha256?: string; dataset_name?: string; meta?: Record<string, string> };
    const seq = ((this.db.prepare('SELECT MAX(seq) AS m FROM model_versions WHERE name = ?').get(up.name) as { m: number | null }).m ?? 0) + 1;
    const version = up.version ?? `v${seq}`;
    const existing = this.get(up.name, version);
    if (existing) {
      if (existing.sha256 === sha) return existing; // an identical re-push is a no-op
      throw new RpcError('CONFLICT', `model ${up.name} version ${version} already exists with another digest (versions are immutable)`);
    }
    const v: StoredVersion = {
      name: up.name, version, sha256: sha, size_bytes: size, inputs: sig.inputs, outputs: sig.outputs, pushed_by: up.pushed_by, pushed_at: now,
      lineage: { git_commit: lineage.git_commit ?? null, dataset_sha256: lineage.dataset_sha256 ?? null, dataset_name: lineage.dataset_name ?? null, meta: lineage.meta ?? {} },
    };
    this.db.prepare('INSERT INTO model_versions (name, version, sha256, size_bytes, inputs, outputs, pushed_by, pushed_at, lineage, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(v.name, v.version, v.sha256, v.size_bytes, JSON.stringify(v.inputs), JSON.stringify(v.outputs), v.pushed_by, v.pushed_at, JSON.stringify(v.lineage), seq);
    this.forget(v.name);
    this.changed({ version: v });
    return v;
  }

  /**
   * Register a local file (e.g. a retraining job's output) as a version, through the same commit as an upload: size
   * limit, digest, the ONNX check, content addressing, immutability. A version that exists with the same bytes is
   * returned as it is (a resumed caller may register again); with other bytes it is CONFLICT.
   */
  async registerFile(p: { name: string; version: string; file: string; lineage?: { git_commit?: string; dataset_sha256?: string; dataset_name?: string; meta?: Record<string, string> } }, by: string, now = Date.now()): Promise<StoredVersion> {
    let size: number;
    try { size = statSync(p.file).size; } catch (e) { throw new RpcError('INVALID_PARAMS', `cannot read ${p.file}: ${(e as Error).message}`); }
    if (size > this.maxBytes) throw new RpcError('INVALID_PARAMS', `model larger than the limit of ${this.maxBytes} bytes (models.max_bytes)`);
    const id = `u_${randomBytes(8).toString('hex')}`;
    this.db.prepare('INSERT INTO model_uploads (id, name, version, received, started_at, pushed_by, lineage) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, p.name, p.version, size, now, by, JSON.stringify(p.lineage ?? {}));
    this.committing.add(id);
    try {
      const bytes = readFileSync(p.file);
      const fd = openSync(this.part(id), 'w', 0o600);
      try { writeSync(fd, bytes, 0, bytes.length, 0); fsyncSync(fd); } finally { closeSync(fd); }
      const up = this.db.prepare('SELECT * FROM model_uploads WHERE id = ?').get(id) as UploadRow;
      return await this.commit(up, bytes.length, createHash('sha256').update(bytes).digest('hex'), now);
    } finally {
      this.committing.delete(id);
      this.abort(id);
    }
  }

  private part(id: string): string { return join(this.uploads, `${id}.part`); }

  private abort(id: string): void {
    this.db.prepare('DELETE FROM model_uploads WHERE id = ?').run(id);
    this.touched.delete(id);
    rmSync(this.part(id), { force: true });
  }

  private idleTooLong(up: Pick<UploadRow, 'id' | 'started_at'>, now: number): boolean {
    return now - (this.touched.get(up.id) ?? up.started_at) > this.limits.expiryMs;
  }

  /** Unfinished uploads (a final chunk being committed, and registerFile's, are not: they end on their own). */
  private unfinished(): UploadRow[] {
    return (this.db.prepare('SELECT * FROM model_uploads').all() as UploadRow[]).filter((u) => !this.committing.has(u.id));
  }

  /** A new upload of `by` may start: expired ones are removed first, then the caps are checked (OVERLOADED). */
  private admitUpload(by: string, now: number): void {
    this.expireUploads(now);
    const open = this.unfinished();
    const expiry = `an upload idle for ${this.limits.expiryMs / 1000} s expires (uploads.expiry_s)`;
    const mine = open.filter((u) => u.pushed_by === by).length;
    if (mine >= this.limits.maxPerToken) {
      throw new RpcError('OVERLOADED', `token ${by} already has ${mine} unfinished model uploads, the most one token may hold (uploads.max_per_token ${this.limits.maxPerToken}): finish one (send its final chunk) or wait until an abandoned one expires — ${expiry}`,
        { limit: 'uploads.max_per_token', max: this.limits.maxPerToken, unfinished: mine });
    }
    if (open.length >= this.limits.maxTotal) {
      throw new RpcError('OVERLOADED', `the node already has ${open.length} unfinished model uploads, the most it holds (uploads.max_total ${this.limits.maxTotal}): retry once one finishes or expires — ${expiry}`,
        { limit: 'uploads.max_total', max: this.limits.maxTotal, unfinished: open.length });
    }
  }

  /** Remove the unfinished uploads that received no chunk for longer than the expiry, part files too; returns their ids. */
  expireUploads(now = Date.now()): string[] {
    const gone: string[] = [];
    for (const u of this.unfinished()) if (this.idleTooLong(u, now)) { this.abort(u.id); gone.push(u.id); }
    return gone;
  }

  /** Run expireUploads every min(60 s, expiry / 2) (errors go to `onError`); returns the stop function. */
  expireEvery(onExpired: (ids: string[]) => void, onError: (e: unknown) => void): () => void {
    const t = setInterval(() => {
      try { const ids = this.expireUploads(); if (ids.length > 0) onExpired(ids); } catch (e) { onError(e); }
    }, Math.max(100, Math.min(60_000, this.limits.expiryMs / 2)));
    t.unref();
    return () => clearInterval(t);
  }

  /** A version row with its JSON columns decoded by their schemas (agent/store/decode.ts). */
  private row(r: Record<string, unknown>): StoredVersion {
    const where = (column: string) => ({ table: 'model_versions', id: `${String(r.name)}@${String(r.version)}`, column });
    return {
      ...(r as unknown as StoredVersion),
      inputs: decodeStored(Signature, r.inputs as string, where('inputs'), this.warn),
      outputs: decodeStored(Signature, r.outputs as string, where('outputs'), this.warn),
      lineage: decodeStored(Lineage, r.lineage as string, where('lineage'), this.warn),
    };
  }

  // Every inference resolves its name (versions and alias): keep that per name in memory instead of querying SQLite
  // and parsing signatures on the hot path. Invariant: every write to model_versions / model_aliases goes through
  // this class and drops the name's entry (forget), so the cache never serves a stale route.
  private routes = new Map<string, { versions: StoredVersion[]; alias: { targets: Array<{ version: string; weight: number }>; updated_at: number } | null }>();
  private route(name: string) {
    let r = this.routes.get(name);
    if (!r) {
      const rows = this.db.prepare('SELECT * FROM model_versions WHERE name = ? ORDER BY seq DESC').all(name) as Array<Record<string, unknown>>;
      const a = this.db.prepare('SELECT targets, updated_at FROM model_aliases WHERE name = ?').get(name) as { targets: string; updated_at: number } | undefined;
      r = { versions: rows.map((x) => this.row(x)), alias: a ? { targets: decodeStored(Targets, a.targets, { table: 'model_aliases', id: name, column: 'targets' }, this.warn), updated_at: a.updated_at } : null };
      // Only names that exist are kept: a caller asking for ever new unknown names cannot grow this map.
      if (r.versions.length > 0 || r.alias) this.routes.set(name, r);
    }
    return r;
  }
  private forget(name: string): void { this.routes.delete(name); }

  get(name: string, version: string): StoredVersion | null {
    return this.route(name).versions.find((v) => v.version === version) ?? null;
  }

  /** Versions (of one name), newest first. */
  list(name?: string): StoredVersion[] {
    if (name) return [...this.route(name).versions];
    const rows = this.db.prepare('SELECT * FROM model_versions ORDER BY name, seq DESC').all() as Array<Record<string, unknown>>;
    return rows.map((r) => this.row(r));
  }

  /** A version, or the newest when none is named; NOT_FOUND with a hint otherwise. */
  resolve(name: string, version?: string): StoredVersion {
    const v = version ? this.get(name, version) : this.list(name)[0] ?? null;
    if (!v) throw new RpcError('NOT_FOUND', version ? `no version ${version} of model ${name} (see: fleetml model show ${name})` : `no model named ${name} (push one with: fleetml model push ${name} FILE.onnx)`);
    return v;
  }

  /** Remove a version; its artifact goes when no other version uses it. */
  remove(name: string, version: string): boolean {
    const v = this.get(name, version);
    if (!v) return false;
    const a = this.alias(name);
    if (a?.targets.some((t) => t.version === version && t.weight > 0)) throw new RpcError('CONFLICT', `version ${version} of ${name} serves traffic (alias ${a.targets.map((t) => `${t.version}:${t.weight}`).join(', ')}): route it away first with fleetml model alias`);
    this.db.prepare('DELETE FROM model_versions WHERE name = ? AND version = ?').run(name, version);
    this.forget(name);
    const still = this.db.prepare('SELECT 1 FROM model_versions WHERE sha256 = ? LIMIT 1').get(v.sha256);
    if (!still) rmSync(this.file(v), { force: true });
    this.changed({ removed: { name, version } });
    return true;
  }

  /** The traffic split of a name, or null when it has none (then the newest version serves). */
  alias(name: string): { targets: Array<{ version: string; weight: number }>; updated_at: number } | null {
    return this.route(name).alias;
  }

  /** Set a traffic split and append it to the name's history (one transaction). */
  setAlias(name: string, targets: Array<{ version: string; weight: number }>, by: string, reason: string | null, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO model_aliases (name, targets, updated_at, updated_by) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET targets = excluded.targets, updated_at = excluded.updated_at, updated_by = excluded.updated_by')
        .run(name, JSON.stringify(targets), now, by);
      this.db.prepare('INSERT INTO model_alias_history (name, ts, targets, updated_by, reason) VALUES (?, ?, ?, ?, ?)').run(name, now, JSON.stringify(targets), by, reason);
    })();
    this.forget(name);
    this.changed({ alias: { name, targets, updated_at: now } });
  }

  /** The traffic split of every aliased name, by name (the models topic's snapshot). */
  aliases(): RegistryAlias[] {
    const rows = this.db.prepare('SELECT name, targets, updated_at FROM model_aliases ORDER BY name').all() as Array<{ name: string; targets: string; updated_at: number }>;
    return rows.map((r) => ({ name: r.name, targets: decodeStored(Targets, r.targets, { table: 'model_aliases', id: r.name, column: 'targets' }, this.warn), updated_at: r.updated_at }));
  }

  // Change listeners (the models topic): told after each committed write, never before (a listener reading the
  // registry sees the change). A listener that throws does not stop the others nor fail the write.
  private readonly listeners = new Set<(c: RegistryChange) => void>();
  /** Be told of every new version, removed version and routing change; returns the unsubscribe. */
  onChange(l: (c: RegistryChange) => void): () => void { this.listeners.add(l); return () => { this.listeners.delete(l); }; }
  private changed(c: RegistryChange): void {
    for (const l of this.listeners) { try { l(c); } catch { /* a subscriber's failure is its own */ } }
  }

  /** Routing timeline of a name, newest first. */
  aliasHistory(name: string, limit: number): Array<{ ts: number; targets: Array<{ version: string; weight: number }>; by: string; reason: string | null }> {
    return (this.db.prepare('SELECT ts, targets, updated_by AS by, reason FROM model_alias_history WHERE name = ? ORDER BY id DESC LIMIT ?').all(name, limit) as Array<{ ts: number; targets: string; by: string; reason: string | null }>)
      .map((r) => ({ ...r, targets: decodeStored(Targets, r.targets, { table: 'model_alias_history', id: `${name}@${r.ts}`, column: 'targets' }, this.warn) }));
  }

  /** Bytes of an artifact on disk (for checks). */
  size(v: StoredVersion): number { return statSync(this.file(v)).size; }
}
