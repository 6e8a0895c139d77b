import pino from 'pino';

/** Logger type used across the agent (pino). */
export type Logger = pino.Logger;

/** Structured JSON lines to stderr for journald; fixed keys: time, level, msg, subsystem. */
export function createLogger(level: string, dest: number = 2): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest, sync: true }));
}
