/** Protocol version exchanged on connect (client header `Fleetml-Protocol`, agent `hello` notification).
 * Same major = compatible; the agent refuses a different major at the upgrade with 400.
 * Changelog: 1.9 — topic `models` (versions pushed, loaded, unloaded, removed, and routing changes; snapshot {models, aliases}).
 *            1.8 — job `slurm` (Slurm id, partition, state, reason), driver `slurm`, job spec `slurm` options; node.resources
 *                  `slurm` (partitions, free GPUs) and `default_driver`; node.stats `drivers` (health of each task driver);
 *                  node.resources drivers[] `since` and `sweep` (unclaimed containers).
 *            1.7 — rollout.uploadTestSet (a gate's test set in chunks; rollout.start gate.test_set_id, model.evaluate test_set_id),
 *                  rollout `preflight` (host/GPU memory, stable version loaded), node.info `max_frame_bytes` and `model_providers`.
 *            1.6 — node.info `warnings` (e.g. a non-loopback listen address without TLS).
 *            1.5 — model.feedback, model.performance; model.infer takes an optional request `id` and every answer carries one.
 *            1.4 — rollout.start/get/list/pause/resume/promote/abort, model.evaluate, drift.compare, topic rollout.events.
 *            1.3 — drift.report/history/setReference/config, topic drift.alerts.
 *            1.2 — model.push/list/get/load/unload/remove/infer (JSON tensors), model.alias/history/stats.
 *            1.1 — job.submit/list/get/cancel/remove/logs, node.resources, topics job.events and job.logs.
 *            1.0 — node.info, node.stats, node.history, auth.whoami, token.create/list/revoke, subscribe/unsubscribe, topic node.stats. */
export const PROTOCOL_VERSION = '1.9';
/** Header a client sends on the upgrade request to state its protocol version. */
export const PROTOCOL_HEADER = 'fleetml-protocol';

/** Major part of a protocol version string ("1.0" → 1). */
export function protocolMajor(v: string): number {
  const n = Number.parseInt(String(v).split('.')[0] ?? '', 10);
  return Number.isFinite(n) ? n : -1;
}
