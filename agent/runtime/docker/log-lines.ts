import { StringDecoder } from 'node:string_decoder';

// Turns the engine's log frames into lines. With `timestamps: true` every frame the logs endpoint sends is one
// log message: "<RFC3339Nano timestamp> <text>". A message normally ends in "\n"; a long line is split by the
// engine into several partial messages (each with its own timestamp, only the last one with "\n"), and the
// HTTP chunks cut frames anywhere (demuxStream reassembles frames; this class reassembles lines).

/** Most characters kept for one unfinished line; beyond that it is delivered as a line of its own. */
export const MAX_PENDING_CHARS = 1 << 20;

/** Milliseconds since the epoch of an RFC3339(Nano) timestamp, keeping microseconds as a fraction
 * (two lines in the same millisecond stay ordered and `sinceTs` stays exact); null when it is not one. */
export function parseLogTimestamp(s: string): number | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return null;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(whole)) return null;
  const micros = m[2] ? Math.floor(Number(m[2].padEnd(9, '0')) / 1000) : 0;
  return whole + micros / 1000;
}

type Stream = 'stdout' | 'stderr';
type Emit = (stream: Stream, line: string, ts: number) => void;

interface Pending { text: string; ts: number | null; decoder: StringDecoder }

/** Reassembles lines per stream from timestamped frames; a line carries the timestamp of its first fragment. */
export class LogLineAssembler {
  private readonly pending: Record<Stream, Pending> = {
    stdout: { text: '', ts: null, decoder: new StringDecoder('utf8') },
    stderr: { text: '', ts: null, decoder: new StringDecoder('utf8') },
  };

  constructor(private readonly emit: Emit, private readonly now: () => number = Date.now) {}

  /** One frame of one stream, as demuxStream delivers it. */
  frame(stream: Stream, payload: Buffer): void {
    const p = this.pending[stream];
    // The timestamp is ASCII and ends at the first space; without one (timestamps off) the arrival time is used.
    const sp = payload.indexOf(0x20);
    const parsed = sp > 0 && sp <= 40 ? parseLogTimestamp(payload.subarray(0, sp).toString('latin1')) : null;
    const ts = parsed ?? this.now();
    // The decoder keeps a multi-byte character that a partial message cut in two.
    const text = p.decoder.write(parsed !== null ? payload.subarray(sp + 1) : payload);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.deliver(stream, p, p.text + text.slice(start, nl), p.ts ?? ts);
      start = nl + 1;
    }
    if (start < text.length) {
      if (p.ts === null) p.ts = ts;
      p.text += text.slice(start);
      if (p.text.length >= MAX_PENDING_CHARS) this.deliver(stream, p, p.text, p.ts);
    }
  }

  /** Delivers unfinished lines (the stream ended without a final newline). */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.pending[stream];
      const rest = p.text + p.decoder.end();
      if (rest.length > 0) this.deliver(stream, p, rest, p.ts ?? this.now());
      p.decoder = new StringDecoder('utf8');
    }
  }

  private deliver(stream: Stream, p: Pending, line: string, ts: number): void {
    p.text = '';
    p.ts = null;
    this.emit(stream, line.endsWith('\r') ? line.slice(0, -1) : line, ts);
  }
}

/** One frame of the engine's multiplexed stream format (8-byte header: stream type, 3 zero bytes, length). */
export interface LogFrame { stream: Stream; payload: Buffer }

/** Splits a complete multiplexed buffer (a non-follow logs answer) into frames; stdin frames and a torn tail are dropped. */
export function splitFrames(buf: Buffer): LogFrame[] {
  const out: LogFrame[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const type = buf[at];
    const len = buf.readUInt32BE(at + 4);
    if (at + 8 + len > buf.length) break;
    if (type === 1 || type === 2) out.push({ stream: type === 1 ? 'stdout' : 'stderr', payload: buf.subarray(at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return out;
}
