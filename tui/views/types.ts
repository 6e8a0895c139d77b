import type { ComponentType } from 'react';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { ViewRoute } from '../commands.js';
import type { Frame } from '../state.js';
import type { Theme } from '../theme.js';
import type { DriftFeed } from '../drift-poller.js';
import type { LogFeed } from '../use-job-logs.js';

/** What every view component receives. Views get data only: they never touch the socket. */
export interface ViewProps {
  nodes: readonly FleetNode[];
  frame: Frame;
  /** Selection already clamped to the view's item count. */
  selected: number;
  /** Lines the view may use; it must not render more. */
  height: number;
  width: number;
  theme: Theme;
  /** Output of the followed job (logs view only; App owns the subscription). */
  logs?: LogFeed;
  /** Drift of the open model version (drift-model view only; App owns the polling). */
  drift?: DriftFeed;
}

/** A pluggable view: route (id, aliases), its selectable items, where Enter goes, and its component. */
export interface ViewSpec extends ViewRoute {
  /** Status-line title ("cluster", "node gpu01"). */
  title(frame: Frame): string;
  /** Keys of the selectable rows after the frame's filter, in display order (selection indexes into this). */
  items(nodes: readonly FleetNode[], frame: Frame, logs?: LogFeed, drift?: DriftFeed): string[];
  /** The view Enter opens for a selected item, or null when rows do not drill. */
  drill?(item: string, frame: Frame): { view: string; arg: string | null } | null;
  Component: ComponentType<ViewProps>;
}
