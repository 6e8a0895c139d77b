import { useEffect, useState } from 'react';
import type { FleetActions } from '../shared/client/fleet-types.js';
import type { LogLine } from '../shared/protocol/jobs.js';
import { LOG_BUFFER_LINES, appendBounded } from './render/log-lines.js';
import { parseJobKey } from './render/job-row.js';

/** Default minimum time between two log redraws (ms): a chatty job becomes one redraw per batch. */
export const LOG_BATCH_MS = 100;
/** Lines asked for when following starts. */
export const LOG_TAIL = 500;

/** What the logs view shows: the newest lines and how following goes. */
export interface LogFeed {
  /** Key of the followed job ("node/id"), or null. */
  target: string | null;
  lines: LogLine[];
  status: 'idle' | 'connecting' | 'following' | 'error';
  error: string | null;
  /** Lines dropped from the front of the buffer (it keeps the newest LOG_BUFFER_LINES). */
  dropped: number;
}

const IDLE: LogFeed = { target: null, lines: [], status: 'idle', error: null, dropped: 0 };

/**
 * Follow the output of job `target` ("node/id") through `actions.followLogs` while target is set:
 * subscribes when it becomes set, disposes when it changes or the component unmounts (also when the
 * subscription resolves after that). Lines are batched into one state change per `batchMs`.
 */
export function useJobLogs(actions: FleetActions | undefined, target: string | null, batchMs = LOG_BATCH_MS, max = LOG_BUFFER_LINES): LogFeed {
  const [feed, setFeed] = useState<LogFeed>(IDLE);
  useEffect(() => {
    const key = parseJobKey(target);
    if (!target || !key) {
      setFeed(target ? { ...IDLE, target, status: 'error', error: `"${target}" is not NODE/JOB_ID` } : IDLE);
      return;
    }
    if (!actions) {
      setFeed({ ...IDLE, target, status: 'error', error: 'logs need a connection to the agents (the console was started without one)' });
      return;
    }
    let live = true;
    let dispose: (() => void) | null = null;
    let lines: LogLine[] = [];
    let pending: LogLine[] = [];
    let dropped = 0;
    let status: LogFeed['status'] = 'connecting';
    let timer: ReturnType<typeof setTimeout> | null = null;
    let last = 0;
    const flush = () => {
      timer = null;
      last = Date.now();
      const r = appendBounded(lines, pending, max);
      pending = [];
      lines = r.lines;
      dropped += r.dropped;
      if (live) setFeed({ target, lines, status, error: null, dropped });
    };
    const schedule = () => {
      if (!timer) timer = setTimeout(flush, Math.max(0, last + batchMs - Date.now()));
    };
    setFeed({ ...IDLE, target, status });
    actions.followLogs(key.node, key.id, (l) => {
      if (!live) return;
      pending.push(l);
      schedule();
    }, LOG_TAIL).then(
      (d) => {
        if (!live) return d(); // left the view before the subscription was made
        dispose = d;
        status = 'following';
        schedule();
      },
      (err: unknown) => {
        if (live) setFeed({ target, lines, status: 'error', error: err instanceof Error ? err.message : String(err), dropped });
      },
    );
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
      dispose?.();
    };
  }, [actions, target, batchMs, max]);
  return feed.target === target ? feed : { ...IDLE, target };
}
