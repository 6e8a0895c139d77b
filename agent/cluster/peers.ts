/**
 * Calling a method on a named node of the cluster: this agent's own node through its local dispatcher (same
 * validation and audit as a remote call), its peers (agent config `peers`) through an AgentClient each, with the
 * peer's token (inline or token_file) and, for a wss:// peer with a private certificate, exactly its CA.
 * Built by the composition root (agent/main.ts) and handed to whoever drives other nodes (the rollout coordinator).
 */
import { readFileSync } from 'node:fs';
import { AgentClient } from '../../shared/client/agent-client.js';
import { uploadTestSet, type StagedTestSet, type TestSetCall } from '../../shared/client/test-set-upload.js';
import { RpcError } from '../../shared/protocol/index.js';
import type { MethodName, ResultOf, TestSet } from '../../shared/protocol/index.js';

/** A call on one node as a function of the method. */
export type Caller = <M extends MethodName>(method: M, params: unknown) => Promise<ResultOf<M>>;

/** Calls methods on the nodes this agent can drive: itself and its peers. */
export interface NodeCaller {
  /** This agent's node name. */
  readonly self: string;
  /** Names it can call: itself first, then its peers. */
  names(): string[];
  /** The URL of a node (for records and messages); an unknown name is INVALID_PARAMS. */
  url(node: string): string;
  /** Calls `method` on `node` on behalf of `by` (the principal the audit trail names); rejects as the node answers. */
  call<M extends MethodName>(node: string, method: M, params: unknown, by: string): Promise<ResultOf<M>>;
}

/** A peer as configured (agent config `peers`). */
export interface PeerConfig { name: string; url: string; token?: string; token_file?: string; ca_file?: string }

/** Options of PeerPool. */
export interface PeerPoolOptions {
  /** This node: its name, its URL once listening, and a caller through the local dispatcher per principal name. */
  self: { name: string; url: () => string; call: (by: string) => Caller };
  peers: readonly PeerConfig[];
  /** Per-call timeout on peers (ms). Default 60 000. */
  callTimeoutMs?: number;
}

/**
 * NodeCaller over an AgentClient per peer, opened on first use (token files and CA files are read then, so a token
 * rotated on disk is picked up by the next connection) and kept; dispose() closes them.
 */
export class PeerPool implements NodeCaller {
  private readonly clients = new Map<string, { client: AgentClient; connected: Promise<void> | null }>();
  readonly self: string;

  constructor(private readonly opts: PeerPoolOptions) { this.self = opts.self.name; }

  names(): string[] { return [this.opts.self.name, ...this.opts.peers.map((p) => p.name)]; }

  url(node: string): string {
    if (node === this.opts.self.name) return this.opts.self.url();
    return this.peer(node).url;
  }

  async call<M extends MethodName>(node: string, method: M, params: unknown, by: string): Promise<ResultOf<M>> {
    if (node === this.opts.self.name) return this.opts.self.call(by)(method, params);
    const c = this.client(node);
    if (c.client.state !== 'open') {
      c.connected ??= c.client.connect().then(() => undefined).finally(() => { c.connected = null; });
      await c.connected;
    }
    return c.client.call(method, params as never) as Promise<ResultOf<M>>;
  }

  /** Closes every peer connection. */
  async dispose(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.client.close().catch(() => undefined)));
  }

  private peer(name: string): PeerConfig {
    const p = this.opts.peers.find((x) => x.name === name);
    if (!p) throw new RpcError('INVALID_PARAMS', `unknown node ${name}: this coordinator (${this.opts.self.name}) knows ${this.names().join(', ')} (agent config peers)`);
    return p;
  }

  private client(name: string): { client: AgentClient; connected: Promise<void> | null } {
    const have = this.clients.get(name);
    if (have) return have;
    const p = this.peer(name);
    const token = p.token ?? (p.token_file ? readFileSync(p.token_file, 'utf8').trim() : undefined);
    if (!token) throw new RpcError('INVALID_PARAMS', `peer ${name} has no token in this agent's config (peers[].token or token_file): the coordinator cannot drive it`);
    // A peer on wss:// with a private or self-signed certificate: trust exactly that CA (never "insecure").
    let ca: Buffer | undefined;
    try { ca = p.ca_file ? readFileSync(p.ca_file) : undefined; } catch (e) {
      throw new RpcError('UNAVAILABLE', `peer ${name}: cannot read its ca_file ${p.ca_file}: ${(e as Error).message}`);
    }
    const entry = { client: new AgentClient({ url: p.url, token, reconnect: false, callTimeoutMs: this.opts.callTimeoutMs ?? 60_000, ...(ca ? { ca } : {}) }), connected: null };
    this.clients.set(name, entry);
    return entry;
  }
}

/**
 * Stages a test set on one node (rollout.uploadTestSet, in chunks sized to the frame limit its node.info gives) for
 * a gate evaluated there; `call` is a call on that node. Resolves with the staged set's id and row count.
 */
export function stageTestSet(call: TestSetCall, testSet: TestSet): Promise<StagedTestSet> {
  return uploadTestSet(call, testSet);
}
