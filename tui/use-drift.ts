import { useEffect, useRef, useState } from 'react';
import type { DriftReader } from '../shared/client/fleet-types.js';
import { DriftPoller, idleFeed, type DriftFeed, type DriftPollerOptions } from './drift-poller.js';
import { parseDriftKey } from './render/drift-row.js';

/** The feature the drift-model view has selected: the report's features in table order, selection clamped. */
export function selectedFeature(feed: DriftFeed, selected: number): string | null {
  const fs = feed.report?.features ?? [];
  return fs.length ? fs[Math.max(0, Math.min(fs.length - 1, selected))].name : null;
}

/**
 * Poll the drift of `target` ("node/name[@version]") over `window` while target is set (the drift-model view is on
 * top): a DriftPoller is started when target or window changes and disposed when they change again or on unmount.
 * `selected` is the table's selection: a newly selected feature's histogram is asked for at once.
 */
export function useDriftFeed(reader: DriftReader | undefined, target: string | null, window: string, selected: number, opts?: DriftPollerOptions): DriftFeed {
  const [feed, setFeed] = useState<DriftFeed>(() => idleFeed());
  const poller = useRef<DriftPoller | null>(null);
  useEffect(() => {
    if (!target) { setFeed(idleFeed()); return; }
    const t = parseDriftKey(target);
    if (!t) { setFeed({ ...idleFeed(target, window), status: 'error', error: `"${target}" is not NODE/MODEL or NODE/MODEL@VERSION` }); return; }
    if (!reader) { setFeed({ ...idleFeed(target, window), status: 'error', error: 'drift needs a connection to the agents (the console was started without one)' }); return; }
    const p = new DriftPoller(reader, { key: target, ...t, window }, setFeed, opts);
    poller.current = p;
    p.start();
    return () => {
      p.dispose();
      if (poller.current === p) poller.current = null;
    };
  }, [reader, target, window, opts?.pollMs, opts?.maxBackoffMs]);
  const current = feed.target === target && feed.window === window ? feed : idleFeed(target, window);
  const feature = selectedFeature(current, selected);
  useEffect(() => { poller.current?.setFeature(feature); }, [feature, current.report]);
  return current;
}
