// Rendering of live performance (model.performance) and `fleetml feedback send` results.
import type { VersionPerformance } from '../../shared/protocol/feedback.js';

const f3 = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** "accuracy 0.750  f1 0.733  (40 labelled of 120 kept, 1h)", or the MAE / RMSE of a regressor; "no labels yet" without. */
export function performanceLine(p: VersionPerformance): string {
  const counts = `${p.labelled} labelled of ${p.requests} kept, ${p.window}`;
  if (p.task === null) return `no labels yet (${counts}; send them with: fleetml feedback send)`;
  if (p.task === 'classification') return `accuracy ${f3(p.accuracy)}  f1 ${f3(p.f1)}  (${counts})`;
  return `mae ${f3(p.mae)}  rmse ${f3(p.rmse)}  (${counts})`;
}

/** The summary of a send: per node and the total. */
export function feedbackSummary(sent: number, nodes: ReadonlyArray<{ node: string; matched: number; already_labelled: number; error: string | null }>): string {
  const matched = nodes.reduce((a, n) => a + n.matched, 0);
  const already = nodes.reduce((a, n) => a + n.already_labelled, 0);
  const lines = nodes.map((n) => (n.error ? `${n.node}: failed: ${n.error}` : `${n.node}: ${n.matched} matched, ${n.already_labelled} already labelled`));
  lines.push(`${sent} labels: ${matched} matched, ${already} already labelled, ${Math.max(0, sent - matched - already)} unknown on every node (never kept, evicted or expired)`);
  return lines.join('\n');
}
