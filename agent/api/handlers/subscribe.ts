import { randomBytes } from 'node:crypto';
import { topics, roleAllows, RpcError } from '../../../shared/protocol/index.js';
import type { TopicName } from '../../../shared/protocol/index.js';
import type { HandlerMap } from '../rpc.js';
import type { CallContext } from '../context.js';
import type { TopicProviders } from '../topics.js';
import { describeIssues } from '../rpc.js';

/** subscribe / unsubscribe: snapshot first, then events with a per-subscription seq. */
export function subscribeHandlers(providers: TopicProviders, maxPerConnection = 64): HandlerMap {
  /** Start one subscription of a known topic: its params decoded with the topic's schema, events sent as declared. */
  function start<T extends TopicName>(name: T, rawParams: unknown, ctx: CallContext) {
    const spec = topics[name];
    if (!roleAllows(ctx.principal.role, spec.role)) throw new RpcError('FORBIDDEN', `topic ${name} needs role ${spec.role}`);
    const parsed = spec.params.safeParse(rawParams ?? {});
    if (!parsed.success) throw new RpcError('INVALID_PARAMS', `invalid params for topic ${name}: ${describeIssues(parsed.error.issues)}`);
    const conn = ctx.conn;
    if (conn.subscriptionCount >= maxPerConnection) throw new RpcError('OVERLOADED', `at most ${maxPerConnection} subscriptions per connection`);
    const provider = providers[name];
    if (!provider) throw new RpcError('UNAVAILABLE', `topic ${name} is not served by this agent`);
    const params = parsed.data as Parameters<typeof provider.snapshot>[0];
    const subscriptionId = `s_${randomBytes(6).toString('hex')}`;
    // Register before snapshotting so no event between the two is lost (the client de-duplicates by seq/ts).
    const dispose = provider.subscribe(params, (data) => conn.sendEvent(subscriptionId, data, spec.conflate));
    conn.addSubscription(subscriptionId, dispose);
    try {
      return { subscriptionId, snapshot: provider.snapshot(params) ?? null };
    } catch (e) {
      conn.removeSubscription(subscriptionId); // the client never learns this id: nothing may stay behind
      throw e;
    }
  }
  return {
    'subscribe': (p, ctx) => {
      if (!Object.hasOwn(topics, p.topic)) throw new RpcError('NOT_FOUND', `unknown topic: ${p.topic.slice(0, 64)} (known: ${Object.keys(topics).join(', ')})`);
      return start(p.topic as TopicName, p.params, ctx);
    },
    'unsubscribe': (p, ctx) => ({ ok: ctx.conn.removeSubscription(p.subscriptionId) }),
  };
}
