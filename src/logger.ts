// One pino logger for the process; components take a child with their own name.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  // Logs go to stderr so that stdout stays for a command's own output (tokens, summaries, JSON).
  // A person at a terminal gets coloured lines; anything else (a file, a collector) gets JSON.
  // Synchronous either way, so the last lines before an exit are not lost.
  const destination = process.stderr.isTTY
    ? pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : pino.destination(2);
  return pino({ level, base: { pid: process.pid } }, destination);
}
