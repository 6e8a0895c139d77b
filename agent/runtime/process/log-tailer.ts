import { open, stat } from 'node:fs/promises';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { LogSink } from '../driver.js';
import { FILES } from './exit-record.js';

// Follows <dir>/stdout.log and <dir>/stderr.log and hands complete lines to a sink.
//
// No line lost or repeated across agent restarts, even a SIGKILL: files carry no timestamps, so the tailer
// remembers, per stream, the byte offset just after the last line it DELIVERED (a partial line is not delivered
// and is read again) and persists it in <dir>/log-offsets.json (write to .tmp, rename). With persistMs = 0 (the
// default) it is written synchronously right after each batch of sink calls — no await in between, so a crash
// can repeat lines only if it lands inside that synchronous stretch. persistMs > 0 debounces the writes instead
// (fewer writes; a hard crash may repeat the lines of the last window). Always flushed on dispose. A re-attach
// starts from the persisted offsets.
//
// Polling, not fs.watch: fs.watch misses events on some file systems (NFS, overlay) and needs an fd per file.
// One tick per pollMs, never overlapping (setTimeout after the tick finishes). Reads are bounded per tick.
// A file that shrank (truncated by hand) restarts from 0. A last line without "\n" is delivered once the task
// has ended and nothing more arrives; then the tailer persists its offsets and stops by itself.

/** Tailer options; defaults in TAILER_DEFAULTS. */
export interface LogTailerOptions {
  /** Milliseconds between looks at the files. */
  pollMs: number;
  /** Debounce of the offsets file in milliseconds; 0: write after every batch of delivered lines. */
  persistMs: number;
  /** Most bytes read per stream per tick (keeps one chatty task from starving the event loop). */
  maxBytesPerTick: number;
  /** A longer line is cut into pieces of this many bytes (bounded memory for output without newlines). */
  maxLineBytes: number;
  /** Once a file is this large and read to its end (every line delivered), it is truncated to 0 and read on from
   * there: the task writes the file directly (O_APPEND, so it goes on at the new end), and its size stays bounded
   * while the agent runs. Like logrotate's copytruncate, bytes written between the last read and the truncation
   * (two file system calls: microseconds, milliseconds under load) are lost; an unfinished line is delivered
   * before, so it shows split in two; the delivered lines are kept by the job's log store. Infinity: never. */
  maxFileBytes: number;
}

/** Defaults of LogTailerOptions. */
export const TAILER_DEFAULTS: LogTailerOptions = { pollMs: 150, persistMs: 0, maxBytesPerTick: 1 << 20, maxLineBytes: 64 * 1024, maxFileBytes: Number.POSITIVE_INFINITY };

type StreamName = 'stdout' | 'stderr';
interface StreamState { name: StreamName; path: string; committed: number; read: number; partial: Buffer }

const CHUNK = 64 * 1024;

/** Read persisted offsets; missing or malformed → start from 0. */
export function readOffsets(dir: string): Record<StreamName, number> {
  try {
    const o = JSON.parse(readFileSync(join(dir, FILES.offsets), 'utf8')) as Record<string, unknown>;
    const n = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
    return { stdout: n(o.stdout), stderr: n(o.stderr) };
  } catch {
    return { stdout: 0, stderr: 0 };
  }
}

/** Cut point ≤ limit that does not split a UTF-8 sequence (continuation bytes are 10xxxxxx). */
function utf8Cut(buf: Buffer, limit: number): number {
  let i = limit;
  while (i > limit - 4 && i > 0 && (buf[i] & 0xc0) === 0x80) i--;
  return i > 0 ? i : limit;
}

/** Tails one task's two log files into a sink until disposed (or until the task ended and all is read). */
export class LogTailer {
  private readonly streams: StreamState[];
  private timer: NodeJS.Timeout | null = null;
  private persistTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private stopped = false;

  /** `ended` tells whether the task has exited (then a trailing partial line is flushed and tailing stops). */
  constructor(
    private readonly dir: string,
    private readonly sink: LogSink,
    private readonly ended: () => boolean,
    private readonly log: Logger,
    private readonly opts: LogTailerOptions = TAILER_DEFAULTS,
    private readonly onStop: () => void = () => {},
  ) {
    const off = readOffsets(dir);
    this.streams = (['stdout', 'stderr'] as const).map((name) => ({
      name, path: join(dir, name === 'stdout' ? FILES.stdout : FILES.stderr), committed: off[name], read: off[name], partial: Buffer.alloc(0),
    }));
  }

  /** Begin polling (first look at once). */
  start(): void {
    this.schedule(0);
  }

  /** Stop polling and persist the offsets now. Idempotent. */
  dispose(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.timer = this.persistTimer = null;
    this.persist();
    this.onStop();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick().then((finished) => {
        if (finished) this.dispose();
        // behind a fast writer (a tick's read budget ran out): look again at once, so the backlog stays small
        else this.schedule(this.behind ? 0 : this.opts.pollMs);
      }, (e: unknown) => {
        this.log.warn({ err: e, dir: this.dir }, 'log tail failed; retrying');
        this.schedule(this.opts.pollMs * 4);
      });
    }, ms);
  }

  /** One look at both files; true when the task has ended and everything was delivered. */
  private async tick(): Promise<boolean> {
    // Read `ended` BEFORE the files: output written before the exit is then certainly in them.
    const ended = this.ended();
    this.behind = false;
    let idle = true;
    for (const s of this.streams) {
      if (this.stopped) return false;
      if (await this.drain(s)) idle = false;
    }
    if (!ended || !idle) return false;
    for (const s of this.streams) {
      if (s.partial.length > 0) this.deliver(s, s.partial, s.read);
      s.partial = Buffer.alloc(0);
    }
    this.persist();
    return true;
  }

  /** Read what is new in one file; true when bytes were read. */
  private async drain(s: StreamState): Promise<boolean> {
    let size: number;
    try {
      size = (await stat(s.path)).size;
    } catch {
      return false; // not created (yet)
    }
    if (size < s.committed || size < s.read) {
      this.log.warn({ dir: this.dir, stream: s.name }, 'log file shrank; reading it from the start');
      s.committed = s.read = 0;
      s.partial = Buffer.alloc(0);
      this.markDirty();
    }
    if (size === s.read) return false;
    const fh = await open(s.path, 'r');
    try {
      let budget = this.opts.maxBytesPerTick;
      while (s.read < size && budget > 0 && !this.stopped) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - s.read, budget));
        const { bytesRead } = await fh.read(buf, 0, buf.length, s.read);
        if (bytesRead === 0) break;
        budget -= bytesRead;
        s.read += bytesRead;
        this.split(s, buf.subarray(0, bytesRead));
        if (this.opts.persistMs === 0) this.persist(); // same synchronous stretch as the sink calls
      }
    } finally {
      await fh.close();
    }
    if (s.read < size) this.behind = true;
    if (s.read >= this.opts.maxFileBytes && !this.stopped) await this.truncate(s);
    return true;
  }

  /** Truncate a file that was read to its end (see maxFileBytes), then read on from offset 0. */
  private async truncate(s: StreamState): Promise<void> {
    const fh = await open(s.path, 'r+');
    try {
      if ((await fh.stat()).size !== s.read) return; // more arrived: read it first, truncate on a later tick
      // An unfinished line (progress bars with \r, output without newlines) is delivered as it is first: its bytes
      // leave the file, and a writer that never ends a line must not keep the file from being bounded.
      if (s.partial.length > 0) { this.deliver(s, s.partial, s.read); s.partial = Buffer.alloc(0); }
      await fh.truncate(0);
    } finally {
      await fh.close();
    }
    s.committed = s.read = 0;
    this.dirty = true;
    this.persist(); // a crash before this line reads the (shrunk) file from its start: nothing is delivered twice
  }

  /** The last tick left bytes unread (its budget ran out). */
  private behind = false;

  /** Deliver the complete lines of partial + chunk (cutting over-long ones); keep the rest as partial. */
  private split(s: StreamState, chunk: Buffer): void {
    const data = s.partial.length > 0 ? Buffer.concat([s.partial, chunk]) : chunk;
    const base = s.read - data.length; // file offset of data[0]
    const max = this.opts.maxLineBytes;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      const end = nl < 0 ? data.length : nl;
      if (end - start > max) {
        const cut = start + utf8Cut(data.subarray(start), max);
        this.deliver(s, data.subarray(start, cut), base + cut);
        start = cut;
        continue;
      }
      if (nl < 0) break;
      this.deliver(s, data.subarray(start, nl), base + nl + 1);
      start = nl + 1;
    }
    s.partial = Buffer.from(data.subarray(start)); // copy: `chunk` is a per-read buffer
  }

  private deliver(s: StreamState, line: Buffer, endOffset: number): void {
    let text = line.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    s.committed = endOffset;
    this.markDirty();
    try {
      this.sink(s.name, text, Date.now());
    } catch (e) {
      this.log.warn({ err: e, dir: this.dir }, 'log sink threw; line dropped');
    }
  }

  private markDirty(): void {
    this.dirty = true;
    if (this.persistTimer || this.stopped || this.opts.persistMs === 0) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      this.persist();
    }, this.opts.persistMs);
  }

  private persist(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const file = join(this.dir, FILES.offsets);
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ stdout: this.streams[0].committed, stderr: this.streams[1].committed, ts: Date.now() }));
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.log.warn({ err: e, dir: this.dir }, 'could not persist log offsets');
    }
  }
}
