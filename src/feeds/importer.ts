// Imports a stream of file lines into the store: batches per product, a few batches in flight at once,
// each product's batches strictly one after another so its stream keeps the file's order.
import type { TradeInput } from '../domain/types.ts';
import type { TradeLine } from './parse.ts';
import type { RecordTrades } from './writer.ts';

export interface ImportSummary {
  /** Lines that held a trade or a bad line (blank lines not counted). */
  read: number;
  recorded: number;
  alreadyPresent: number;
  rejected: number;
  /** With `strict`, the first bad line, where the import stopped. */
  stoppedAt?: number;
}

export interface ImportOptions {
  lines: AsyncIterable<TradeLine>;
  record: RecordTrades;
  /** Stop at the first bad line; nothing from it on is recorded. */
  strict?: boolean;
  /** Trades per record call. Default 1000. */
  batchSize?: number;
  /** Batches queued or being recorded at once, across products. Default 4. */
  concurrency?: number;
  onBadLine?: (line: number, reason: string) => void;
  /** After each batch is recorded, with the running totals. */
  onRecorded?: (summary: ImportSummary) => void;
  /** Stops reading (Ctrl-C); what was read is still recorded. */
  signal?: AbortSignal;
}

/** The lines could not be read to their end (a truncated .gz); what was read before was recorded. */
export class ImportReadError extends Error {
  readonly code = 'IMPORT_READ';
  constructor(
    readonly summary: ImportSummary,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

interface Batch {
  trades: TradeInput[];
  lines: number[];
}

/**
 * Records the lines' trades and answers with the totals. Throws the store's error when recording fails,
 * and ImportReadError (holding the totals) when the lines end in an error: what was read before it is
 * recorded first.
 */
export async function importTrades(options: ImportOptions): Promise<ImportSummary> {
  const { record, onBadLine, onRecorded } = options;
  const batchSize = options.batchSize ?? 1000;
  const concurrency = options.concurrency ?? 4;
  const summary: ImportSummary = { read: 0, recorded: 0, alreadyPresent: 0, rejected: 0 };
  const pending = new Map<string, Batch>();
  const tails = new Map<string, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;

  async function submit(product: string, batch: Batch): Promise<void> {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) return;
    const task = (tails.get(product) ?? Promise.resolve())
      .then(async () => {
        if (failure) return;
        const result = await record(batch.trades);
        summary.recorded += result.recorded;
        summary.alreadyPresent += result.alreadyPresent;
        for (const { index, reason } of result.rejected) {
          summary.rejected += 1;
          onBadLine?.(batch.lines[index] ?? 0, reason);
        }
        onRecorded?.(summary);
      })
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inFlight.delete(task));
    tails.set(product, task);
    inFlight.add(task);
  }

  async function submitPending(): Promise<void> {
    for (const [product, batch] of pending) await submit(product, batch);
    pending.clear();
  }

  async function readLines(): Promise<void> {
    for await (const item of options.lines) {
      if (failure || options.signal?.aborted) break;
      summary.read += 1;
      if ('error' in item) {
        summary.rejected += 1;
        onBadLine?.(item.line, item.error);
        if (options.strict) {
          summary.stoppedAt = item.line;
          break;
        }
        continue;
      }
      const { product } = item.trade;
      let batch = pending.get(product);
      if (!batch) pending.set(product, (batch = { trades: [], lines: [] }));
      batch.trades.push(item.trade);
      batch.lines.push(item.line);
      if (batch.trades.length >= batchSize) {
        pending.delete(product);
        await submit(product, batch);
      }
    }
  }

  let readFailure: { error: unknown } | undefined;
  try {
    await readLines();
  } catch (error) {
    readFailure = { error }; // recorded below like any end of input, then reported
  }
  await submitPending();
  while (inFlight.size > 0) await Promise.race(inFlight);
  if (failure) throw failure.error;
  if (readFailure) throw new ImportReadError(summary, readFailure.error);
  return summary;
}
