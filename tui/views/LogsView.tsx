import { Box } from 'ink';
import { Line } from '../components/Line.js';
import { LOG_FLAG_DEFAULTS } from '../job-keys.js';
import { findJob, shortJobId } from '../render/job-row.js';
import { logWindow } from '../render/log-lines.js';
import { flag } from '../state.js';
import type { ViewProps } from './types.js';

/** Output of one job, followed live: a status line, then as many rows as fit, ending at the newest line or the scroll position. */
export function LogsView({ nodes, frame, selected, height, width, theme, logs }: ViewProps) {
  const autoscroll = flag(frame, 'autoscroll', LOG_FLAG_DEFAULTS.autoscroll);
  const wrap = flag(frame, 'wrap', LOG_FLAG_DEFAULTS.wrap);
  const timestamps = flag(frame, 'timestamps', LOG_FLAG_DEFAULTS.timestamps);
  const job = findJob(nodes, frame.arg);
  const lines = logs?.lines ?? [];
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  const what = job ? `${shortJobId(job.id)}${job.name ? ` ${job.name}` : ''} (${job.state})` : frame.arg ?? '';
  const status = logs?.status === 'error'
    ? `logs of ${what}: ${logs.error}`
    : `logs of ${what} · ${lines.length}${logs?.dropped ? '+' : ''} lines · ${logs?.status === 'connecting' ? 'connecting… · ' : ''}autoscroll ${onOff(autoscroll)} · wrap ${onOff(wrap)} · timestamps ${onOff(timestamps)}`;
  const rows = logWindow(lines, { width, height: height - 1, wrap, timestamps, anchor: autoscroll ? null : selected });
  return (
    <Box flexDirection="column">
      <Line text={status} width={width} theme={theme} tone={logs?.status === 'error' ? 'bad' : 'accent'} />
      {rows.map((r, i) => (
        <Line key={i} text={r.text} width={width} theme={theme} tone={r.tone} />
      ))}
    </Box>
  );
}
