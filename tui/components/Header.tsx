import { Box } from 'ink';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import { clusterCounts, plural } from '../render/cluster-row.js';
import { fit } from '../render/format.js';
import type { Theme } from '../theme.js';
import { Line } from './Line.js';

/** Props of Header. */
export interface HeaderProps {
  title: string;
  nodes: readonly FleetNode[];
  /** Breadcrumb of the view stack ("cluster › gpu01"). */
  crumb: string;
  readonly: boolean;
  width: number;
  theme: Theme;
}

/** The top line: cluster name, node/GPU counts, simulated count, read-only flag, and the breadcrumb on the right. */
export function Header({ title, nodes, crumb, readonly, width, theme }: HeaderProps) {
  const c = clusterCounts(nodes);
  const parts = [`fleetml · ${title}`, plural(c.nodes, 'node'), `${c.up} up`];
  if (c.down) parts.push(`${c.down} down`);
  parts.push(plural(c.gpus, 'GPU'));
  if (c.simulated) parts.push(`${c.simulated} SIM`);
  if (readonly) parts.push('READ-ONLY');
  const left = parts.join(' · ');
  const text = left.length + crumb.length + 2 <= width ? left + fit(crumb, width - left.length, 'right') : left;
  return (
    <Box>
      <Line text={text} width={width} theme={theme} bold tone={c.down ? 'warn' : 'accent'} />
    </Box>
  );
}
