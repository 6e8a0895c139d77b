import { useEffect, useState } from 'react';
import { useStdout } from 'ink';
import type { FleetNode, FleetSource } from '../shared/client/fleet-types.js';

/** Default minimum time between two fleet state changes (ms). */
export const FLEET_BATCH_MS = 250;

/**
 * The fleet snapshot, refreshed from `source.onChange` but at most once per `batchMs`:
 * a burst of changes from many agents becomes one React state change (one redraw).
 */
export function useFleet(source: FleetSource, batchMs = FLEET_BATCH_MS): FleetNode[] {
  const [nodes, setNodes] = useState<FleetNode[]>(() => source.snapshot());
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let last = 0;
    const flush = () => {
      timer = null;
      last = Date.now();
      setNodes(source.snapshot());
    };
    const unsubscribe = source.onChange(() => {
      if (timer) return; // a flush is already scheduled and will read the newest snapshot
      timer = setTimeout(flush, Math.max(0, last + batchMs - Date.now()));
    });
    setNodes(source.snapshot()); // changes between first render and subscribe
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [source, batchMs]);
  return nodes;
}

/** Terminal size in character cells. */
export interface TermSize {
  rows: number;
  columns: number;
}

/** The terminal size, updated on resize; `override` (tests) wins. Defaults to 80×24 when stdout does not say. */
export function useTerminalSize(override?: TermSize): TermSize {
  const { stdout } = useStdout();
  const read = (): TermSize => ({ rows: stdout.rows || 24, columns: stdout.columns || 80 });
  const [size, setSize] = useState<TermSize>(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return override ?? size;
}
