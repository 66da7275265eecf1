// One pino logger for the process; components take a child with their own name.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  // Logs go to stderr so that stdout stays for a command's own output (tokens, summaries, JSON).
  return pino({ level, base: { pid: process.pid } }, pino.destination(2));
}
