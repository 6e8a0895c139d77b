// Errors of the docker driver. The codes are stable: the job manager and the docs (docs/jobs-docker.md) use them.

/** Stable codes of DockerDriverError. */
export type DockerErrorCode =
  /** The engine does not answer on its socket (not started, restarting, wrong DOCKER_HOST). */
  | 'ENGINE_UNREACHABLE'
  /** The engine accepted the connection but did not answer a call within jobs.docker_call_timeout_ms (hung dockerd). */
  | 'ENGINE_TIMEOUT'
  /** The image is not on this node; the driver never pulls. */
  | 'IMAGE_MISSING'
  /** A bind mount is outside the allowed roots, missing, or not expressible. */
  | 'MOUNT_REFUSED'
  /** A container for this (job, attempt) already exists: it is never started twice. */
  | 'ALREADY_EXISTS'
  /** The engine refused to create or start the container (bad command, no GPU runtime, …). */
  | 'ENGINE_ERROR'
  /** The handle does not name a container of this driver. */
  | 'BAD_HANDLE'
  /** The driver was disposed while the call was pending. */
  | 'DISPOSED';

/** An error of the docker driver with a stable code and a message that says what to try next. */
export class DockerDriverError extends Error {
  constructor(readonly code: DockerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DockerDriverError';
  }
}

/** HTTP status of an engine error (dockerode puts it on statusCode), or null for transport errors. */
export function engineStatus(err: unknown): number | null {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : null;
}

/** The engine's own message (json.message) when it sent one, else the error's message. */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: unknown }; reason?: unknown; message?: unknown } | null;
  if (e && typeof e.json === 'object' && e.json && typeof e.json.message === 'string') return e.json.message.trim();
  if (e && typeof e.message === 'string') return e.message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
  return String(err);
}

/** True when the call was cancelled through an AbortSignal. */
export function isAbort(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR';
}
