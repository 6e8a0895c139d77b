import { Box } from 'ink';
import { Line } from '../components/Line.js';
import { rolloutDetailLines } from '../render/rollout-detail.js';
import { findRolloutEntry } from '../render/rollout-row.js';
import type { ViewProps } from './types.js';

/**
 * One rollout, live: header, every step with each node's weight, each node's state, the last analysis next to its
 * thresholds, and the decisions newest first (up/down scroll them). Always fits its height.
 */
export function RolloutDetailView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const e = findRolloutEntry(nodes, frame.arg);
  if (!e) return <Line text={`rollout "${frame.arg}" not found (yet); :rollouts lists them`} width={width} theme={theme} tone="bad" />;
  const lines = rolloutDetailLines(e.rollout, Date.now(), { height, offset: selected, node: e.node });
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => <Line key={i} text={l.text} width={width} theme={theme} tone={l.tone} bold={l.bold} />)}
    </Box>
  );
}
