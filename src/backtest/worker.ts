// A backtest thread: one replay from the store, on its own client connection, so that reading, replaying
// and collecting triggers never run on the API's event loop. thread.ts starts it and ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { DomainError, type DomainErrorCode } from '../domain/errors.ts';
import { connectClient } from '../eventstore/store.ts';
import { backtestFromStore, type BacktestRequest } from './index.ts';
import type { BacktestReport } from './report.ts';

/** What the thread is started with: everything about the backtest that can cross a thread boundary. */
export interface BacktestJob {
  /** The same store the API reads (`esdb://…`); the thread opens its own connection to it. */
  connectionString: string;
  request: Omit<BacktestRequest, 'signal' | 'onProgress'>;
}

/** The thread's one message: the report, an error meant for the user, or an internal failure. */
export type FromBacktestThread =
  | { type: 'report'; report: BacktestReport }
  | { type: 'refused'; code: DomainErrorCode; message: string; field?: string }
  | { type: 'failed'; message: string };

const { connectionString, request } = workerData as BacktestJob;
const client = connectClient(connectionString);

let message: FromBacktestThread;
try {
  message = { type: 'report', report: await backtestFromStore({ ...request, client }) };
} catch (error) {
  message =
    error instanceof DomainError
      ? { type: 'refused', code: error.code, message: error.message, field: error.field }
      : { type: 'failed', message: error instanceof Error ? error.message : String(error) };
}
// The parent terminates the thread once it has this message; that closes the connection with it.
parentPort!.postMessage(message);
