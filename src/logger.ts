// One pino logger for the process; components take a child with their own name.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

/**
 * Logs go to stderr so that stdout stays for a command's own output (tokens, summaries, JSON). A
 * person at a terminal gets coloured lines (`pretty`, by default when stderr is a terminal); anything
 * else (a file, a collector) gets JSON. Synchronous either way, so the last lines before an exit are kept.
 */
export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  pretty: boolean = process.stderr.isTTY === true,
): Logger {
  const destination = pretty
    ? prettyStream()({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : pino.destination(2);
  return pino({ level, base: { pid: process.pid } }, destination);
}

/** Loaded only for a terminal: a server whose logs go to a pipe or a file does not pay for it. */
const prettyStream = (): typeof PinoPretty =>
  createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
