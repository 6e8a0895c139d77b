import type { Role } from '../../shared/protocol/index.js';

/** Who is on the other end of a connection (from the token presented at the upgrade). */
export interface Principal { tokenId: string; tokenName: string; role: Role }

/** What a handler gets besides its params. */
export interface CallContext {
  principal: Principal;
  remote: string | null;
  /** The connection, for subscriptions. */
  conn: ConnectionLike;
}

/** The part of a connection handlers may use. */
export interface ConnectionLike {
  readonly id: string;
  /** Register a subscription's disposer under an id; closing the socket disposes all. */
  addSubscription(id: string, dispose: () => void): void;
  removeSubscription(id: string): boolean;
  /** Subscriptions this connection holds. */
  readonly subscriptionCount: number;
  /** Send a subscription event; conflatable events keep only the latest when the peer is slow. */
  sendEvent(subscriptionId: string, data: unknown, conflate: boolean): void;
}
