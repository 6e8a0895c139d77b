import { Box } from 'ink';
import { Line } from '../components/Line.js';
import { jobDetailLines } from '../render/job-detail.js';
import { findJob } from '../render/job-row.js';
import { staleMark } from '../render/stale.js';
import type { ViewProps } from './types.js';

/** One job: spec, placement, exit, state history. Up/down scroll when it is taller than the screen. */
export function JobDetailView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const job = findJob(nodes, frame.arg);
  if (!job) return <Line text={`job "${frame.arg}" not found (yet); :jobs lists the jobs`} width={width} theme={theme} tone="bad" />;
  const now = Date.now();
  const mark = staleMark(nodes.find((n) => n.name === job.node), now);
  // A node the console cannot reach: say so first; the state below is what it last reported.
  const lines = [...(mark ? [{ text: `${mark}: ${job.node} is unreachable; what follows is what it last reported`, tone: 'dim' as const }] : []), ...jobDetailLines(job, now)];
  const off = Math.min(selected, Math.max(0, lines.length - height));
  return (
    <Box flexDirection="column">
      {lines.slice(off, off + Math.max(0, height)).map((l, i) => (
        <Line key={off + i} text={l.text} width={width} theme={theme} tone={l.tone} bold={l.bold} />
      ))}
    </Box>
  );
}
