import { Box } from 'ink';
import { Line } from '../components/Line.js';
import { modelDetailLines } from '../render/model-detail.js';
import { findModel } from '../render/model-row.js';
import { staleMark } from '../render/stale.js';
import type { ViewProps } from './types.js';

/** One model version: signature, lineage, hash, pusher, serving figures. Up/down scroll when it is taller than the screen. */
export function ModelDetailView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const e = findModel(nodes, frame.arg);
  if (!e) return <Line text={`model "${frame.arg}" not found (yet); :models lists the versions`} width={width} theme={theme} tone="bad" />;
  const now = Date.now();
  const mark = staleMark(nodes.find((n) => n.name === e.node), now);
  // A node the console cannot reach: say so first; the figures below are its last ones.
  const lines = [...(mark ? [{ text: `${mark}: ${e.node} is unreachable; what follows is what it last reported`, tone: 'dim' as const }] : []), ...modelDetailLines(e, now)];
  const off = Math.min(selected, Math.max(0, lines.length - height));
  return (
    <Box flexDirection="column">
      {lines.slice(off, off + Math.max(0, height)).map((l, i) => (
        <Line key={off + i} text={l.text} width={width} theme={theme} tone={l.tone} bold={l.bold} />
      ))}
    </Box>
  );
}
