// The agent's parts in start-up order, and their shutdown in reverse: each part is registered the moment it is
// made (`use`), and `close()` awaits every disposer newest-first, one at a time, so a part is always closed before
// what it depends on (the API before the jobs it serves, everything before the database).
//
// A disposer that throws does not stop the others: its error is handed to `onError` and the rest still run. One
// that has not finished after `partTimeoutMs` (10 s by default: a rollout step waiting on a peer, a reference being
// profiled) is reported the same way and shutdown goes on, so the whole stop stays well inside systemd's stop
// timeout instead of ending in a SIGKILL.

/** Something that can be closed: a function, or an object with dispose(), close() or stop(). */
export type Disposable = (() => unknown) | { dispose(): unknown } | { close(): unknown } | { stop(): unknown };

const disposerOf = (x: Disposable): (() => unknown) => {
  if (typeof x === 'function') return x;
  if ('dispose' in x) return () => x.dispose();
  if ('close' in x) return () => x.close();
  return () => x.stop();
};

/** A stack of disposers, closed in reverse order of registration. */
export class Lifecycle {
  private readonly stack: Array<{ name: string; dispose: () => unknown }> = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly onError: (name: string, e: unknown) => void = () => undefined, private readonly partTimeoutMs = 10_000) {}

  /** Register `x` (closed by `close()`, after everything registered later); returns it. */
  use<T extends Disposable>(name: string, x: T): T;
  /** Register a value with its own disposer; returns the value. */
  use<T>(name: string, x: T, dispose: (x: T) => unknown): T;
  use<T>(name: string, x: T, dispose?: (x: T) => unknown): T {
    if (this.closing) throw new Error(`lifecycle: ${name} registered after close()`);
    this.stack.push({ name, dispose: dispose ? () => dispose(x) : disposerOf(x as Disposable) });
    return x;
  }

  /** Names in registration order (for logs and tests). */
  get names(): string[] { return this.stack.map((s) => s.name); }

  /** Close every part, newest first, each awaited before the next; idempotent (a second call awaits the first). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.stack.length) {
        const { name, dispose } = this.stack.pop()!;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), this.partTimeoutMs); });
        try {
          if (await Promise.race([Promise.resolve().then(dispose), late]) === 'late') this.onError(name, new Error(`did not close within ${this.partTimeoutMs / 1000} s; shutdown goes on without it`));
        } catch (e) { this.onError(name, e); } finally { clearTimeout(timer); }
      }
    })();
    return this.closing;
  }
}
