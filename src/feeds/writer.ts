// Turns trades that arrive one by one into batched `record` calls behind a bounded queue. One call runs at
// a time, so each product's trades reach the store in the order they arrived; when the store is slower
// than the source, push() answers false and the source pauses until drained().
import type { RecordSummary } from '../domain/trades.ts';
import type { TradeInput } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay, type Backoff } from './backoff.ts';
import { throttledWarn } from './throttledLog.ts';

export type { RecordSummary };

/** Where a feed's trades go: the domain's recordTrades bound to a store client and the products. */
export type RecordTrades = (trades: TradeInput[]) => Promise<RecordSummary>;

export interface TradeWriterOptions {
  record: RecordTrades;
  logger: Logger;
  /** Most trades per record call. Default 1000. */
  maxBatch?: number;
  /** push() answers false once this many trades wait; drained() resolves at half of it. Default 10,000. */
  highWater?: number;
  /** Delays between attempts when record throws: the batch is kept and retried, never dropped. Default 200 ms … 10 s. */
  retry?: Backoff;
}

export interface WriterStats {
  batches: number;
  recorded: number;
  alreadyPresent: number;
  rejected: number;
  /** record calls that threw (and were retried). */
  failures: number;
  /** The longest the queue has been; stays near highWater however fast the source is. */
  maxQueued: number;
}

export interface TradeWriter {
  /** Queues a trade; false means the queue is full: stop pushing until drained() resolves. */
  push(trade: TradeInput): boolean;
  drained(): Promise<void>;
  /** Flushes with one last attempt per batch; what still fails is dropped and logged. */
  close(): Promise<void>;
  stats(): WriterStats;
}

export function createTradeWriter(options: TradeWriterOptions): TradeWriter {
  const { record, logger } = options;
  const maxBatch = options.maxBatch ?? 1000;
  const highWater = options.highWater ?? 10_000;
  const lowWater = Math.floor(highWater / 2);
  const retry = options.retry ?? { baseMs: 200, maxMs: 10_000 };
  const warn = throttledWarn(logger);
  const stats: WriterStats = {
    batches: 0,
    recorded: 0,
    alreadyPresent: 0,
    rejected: 0,
    failures: 0,
    maxQueued: 0,
  };
  let queue: TradeInput[] = [];
  let running: Promise<void> | undefined;
  let closing = false;
  let drainWaiters: (() => void)[] = [];
  /** close() makes a retry that is waiting out its delay try once more right away. */
  let cutRetryShort: (() => void) | undefined;

  function wakeDrainWaiters(): void {
    if (queue.length > lowWater || drainWaiters.length === 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const wake of waiters) wake();
  }

  async function writeBatch(batch: TradeInput[]): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const summary = await record(batch);
        stats.batches += 1;
        stats.recorded += summary.recorded;
        stats.alreadyPresent += summary.alreadyPresent;
        stats.rejected += summary.rejected.length;
        for (const { index, reason } of summary.rejected) {
          const trade = batch[index];
          warn('rejected', { product: trade?.product, tradeId: trade?.tradeId, reason }, 'trade rejected');
        }
        return;
      } catch (error) {
        stats.failures += 1;
        if (closing) {
          logger.error(
            { err: error, dropped: batch.length },
            'recording trades failed while stopping; dropped them',
          );
          return;
        }
        warn('record-failed', { err: error, attempt }, 'recording trades failed; retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffDelay(attempt, retry));
          cutRetryShort = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        cutRetryShort = undefined;
      }
    }
  }

  async function writeAll(): Promise<void> {
    // Let the rest of this tick's trades (one TCP chunk holds hundreds of frames) join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (queue.length > 0) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      wakeDrainWaiters();
      await writeBatch(batch);
    }
  }

  function start(): void {
    running ??= writeAll().finally(() => {
      running = undefined;
      if (queue.length > 0) start();
    });
  }

  return {
    push(trade) {
      queue.push(trade);
      if (queue.length > stats.maxQueued) stats.maxQueued = queue.length;
      start();
      return queue.length < highWater;
    },
    drained() {
      if (queue.length <= lowWater) return Promise.resolve();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    async close() {
      closing = true;
      cutRetryShort?.();
      while (running) await running;
    },
    stats: () => ({ ...stats }),
  };
}
