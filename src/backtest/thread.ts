// Backtests in worker threads for a server: each replay runs off the caller's event loop, in a thread of
// its own with a bounded heap, and only so many run at once per client and in all.
import type { Worker } from 'node:worker_threads';
import { DomainError } from '../domain/errors.ts';
import { moduleBeside, startWorker } from '../layout.ts';
import type { BacktestReport } from './report.ts';
import type { BacktestJob, FromBacktestThread } from './worker.ts';

export interface BacktestThreadsOptions {
  /** The store the threads read (`esdb://…`); each thread opens its own connection. */
  connectionString: string;
  /** Backtests one client (a user, or an address) may run at once. */
  maxPerClient: number;
  /** Backtests running at once in all. */
  maxRunning: number;
  /** Old-generation heap of each thread in MiB; a replay that needs more ends with LIMIT_EXCEEDED. */
  maxHeapMb: number;
}

export interface BacktestThreads {
  /**
   * Runs one backtest from the store in a thread of its own. Throws DomainError LIMIT_EXCEEDED when
   * `client` already runs `maxPerClient` backtests or `maxRunning` run in all; input errors and the
   * replay's caps come back as the DomainErrors `backtestFromStore` throws. Aborting `signal`
   * terminates the thread and rejects with the signal's reason.
   */
  run(client: string, request: BacktestJob['request'], signal?: AbortSignal): Promise<BacktestReport>;
  /** Threads alive now: a backtest counts until its thread has exited. */
  readonly running: number;
  /** Terminates every running backtest and waits for the threads to exit. */
  stop(): Promise<void>;
}

const ENTRY = moduleBeside(import.meta.url, './worker');

const overLimit = (message: string): DomainError => new DomainError('LIMIT_EXCEEDED', message);

export function startBacktestThreads(options: BacktestThreadsOptions): BacktestThreads {
  const { connectionString, maxPerClient, maxRunning, maxHeapMb } = options;
  const perClient = new Map<string, number>();
  const threads = new Map<Worker, Promise<void>>();
  let stopped = false;

  const spawn = (job: BacktestJob): Worker => {
    const resourceLimits = { maxOldGenerationSizeMb: maxHeapMb };
    return startWorker(ENTRY, { workerData: job, resourceLimits });
  };

  const run: BacktestThreads['run'] = async (client, request, signal) => {
    if (stopped) throw new Error('the server is stopping');
    signal?.throwIfAborted();
    const mine = perClient.get(client) ?? 0;
    if (mine >= maxPerClient) {
      throw overLimit(
        `at most ${maxPerClient} backtests run at once per client; retry when one has finished`,
      );
    }
    if (threads.size >= maxRunning) {
      throw overLimit(`the server runs at most ${maxRunning} backtests at once; retry in a moment`);
    }

    perClient.set(client, mine + 1);
    const worker = spawn({ connectionString, request });
    let exited: () => void = () => {};
    threads.set(worker, new Promise((resolve) => (exited = resolve)));

    return new Promise<BacktestReport>((resolve, reject) => {
      let settled = false;
      // The first outcome wins; whatever it is, the thread has nothing more to do.
      const settle = (outcome: () => void): void => {
        if (!settled) {
          settled = true;
          outcome();
        }
        void worker.terminate();
      };
      const onAbort = (): void => settle(() => reject(signal!.reason));
      signal?.addEventListener('abort', onAbort, { once: true });

      worker.once('message', (message: FromBacktestThread) =>
        settle(() => {
          if (message.type === 'report') resolve(message.report);
          else if (message.type === 'refused') reject(refusal(message));
          else reject(new Error(`backtest failed: ${message.message}`));
        }),
      );
      worker.once('error', (error: Error & { code?: string }) =>
        settle(() =>
          reject(
            error.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? overLimit(
                  `a backtest may use at most ${maxHeapMb} MiB of memory; narrow from and to, or test fewer alerts`,
                )
              : error,
          ),
        ),
      );
      worker.once('exit', (code) => {
        signal?.removeEventListener('abort', onAbort);
        const left = (perClient.get(client) ?? 1) - 1;
        if (left === 0) perClient.delete(client);
        else perClient.set(client, left);
        threads.delete(worker);
        exited();
        const why = stopped ? 'the server stopped' : `its thread exited with code ${code}`;
        settle(() => reject(new Error(`the backtest ended before reporting: ${why}`)));
      });
    });
  };

  return {
    run,
    get running() {
      return threads.size;
    },
    async stop() {
      stopped = true;
      const exits = [...threads.values()];
      for (const worker of threads.keys()) void worker.terminate();
      await Promise.all(exits);
    },
  };
}

/** The thread's DomainError again, as backtestFromStore threw it (its message already names the field). */
function refusal(message: Extract<FromBacktestThread, { type: 'refused' }>): DomainError {
  const { code, field } = message;
  const text = field ? message.message.slice(field.length + 2) : message.message;
  return new DomainError(code, text, field);
}
