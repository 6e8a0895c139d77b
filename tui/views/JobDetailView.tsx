import { Box } from 'ink';
import { Line } from '../components/Line.js';
import { jobDetailLines } from '../render/job-detail.js';
import { findJob } from '../render/job-row.js';
import type { ViewProps } from './types.js';

/** One job: spec, placement, exit, state history. Up/down scroll when it is taller than the screen. */
export function JobDetailView({ nodes, frame, selected, height, width, theme }: ViewProps) {
  const job = findJob(nodes, frame.arg);
  if (!job) return <Line text={`job "${frame.arg}" not found (yet); :jobs lists the jobs`} width={width} theme={theme} tone="bad" />;
  const lines = jobDetailLines(job, Date.now());
  const off = Math.min(selected, Math.max(0, lines.length - height));
  return (
    <Box flexDirection="column">
      {lines.slice(off, off + Math.max(0, height)).map((l, i) => (
        <Line key={off + i} text={l.text} width={width} theme={theme} tone={l.tone} bold={l.bold} />
      ))}
    </Box>
  );
}
