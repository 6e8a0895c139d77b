// Types shared by the parts of the rollout coordinator (coordinator.ts, start.ts, analysis.ts, effects.ts).
import { z } from 'zod';
import type { MethodName, ResultOf, RolloutDecision, StoredRolloutSpec } from '../../shared/protocol/index.js';

/** The spec of a rollout as stored (defaults applied, the test set apart). */
export type Spec = StoredRolloutSpec;

/** A call on a named node on behalf of `by`; a failure names the node (`node` on the error: an unreachable node pauses the rollout). */
export type NodeCall = <M extends MethodName>(node: string, by: string, method: M, params: unknown) => Promise<ResultOf<M>>;

/** Counters of a node at a step's start (coordinator bookkeeping: stored in its own column, never sent to clients). */
export const Baseline = z.object({
  cand: z.object({ requests: z.number(), errors: z.number() }),
  stable: z.object({ requests: z.number(), errors: z.number(), p95: z.number().nullable() }),
  shadow: z.object({ compared: z.number(), disagreements: z.number() }).nullable(),
});
export type Baseline = z.infer<typeof Baseline>;

/** Baselines of a step, per node name. */
export const Baselines = z.record(z.string(), Baseline);
export type Baselines = z.infer<typeof Baselines>;

/** Every decision kind. */
export type DecisionKind = RolloutDecision['kind'];

/** The figures a decision of kind K carries (never: it carries none). */
export type FiguresOf<K extends DecisionKind> = RolloutDecision extends infer D
  ? D extends { kind: infer DK } ? K extends DK ? ('figures' extends keyof D ? Exclude<D['figures' & keyof D], undefined> : never) : never : never
  : never;
