// Deterministic trade tapes for the backtest tests and benchmark: a random walk with microsecond times.
import { formatMicros } from '../../src/domain/time.ts';
import { seededRandom } from '../../src/feeds/simulated.ts';
import { decideRecordTrade } from '../../src/domain/trades.ts';
import { tradeStream, type TradeInput } from '../../src/domain/types.ts';
import { appendToStream, type StoreClient } from '../../src/eventstore/store.ts';

export interface TapeOptions {
  product?: string;
  count: number;
  /** First trade time, micros since the epoch. */
  startMicros?: number;
  /** Largest gap between trades in micros (gaps are uniform in [0, maxGap], so equal times happen). */
  maxGapMicros?: number;
  seed?: number;
  startPrice?: number;
}

export const TAPE_START_MICROS = Date.UTC(2026, 10, 1) * 1_000;

export function* tape(options: TapeOptions): Generator<TradeInput> {
  const next = seededRandom(options.seed ?? 1);
  const product = options.product ?? 'BTC-USD';
  const maxGap = options.maxGapMicros ?? 2_000_000;
  let micros = options.startMicros ?? TAPE_START_MICROS;
  let cents = Math.round((options.startPrice ?? 43_000) * 100);
  for (let index = 0; index < options.count; index += 1) {
    cents = Math.max(100, cents + Math.round((next() - 0.5) * 2_000));
    micros += Math.floor(next() * maxGap);
    yield {
      product,
      tradeId: String(1_000_000 + index),
      price: (cents / 100).toFixed(2),
      size: (0.0001 + next()).toFixed(8),
      side: next() < 0.5 ? 'buy' : 'sell',
      time: formatMicros(micros),
      source: 'coinbase',
    };
  }
}

/** The import CSV format of CONTRACT §1, with the optional product column; `header: false` for a continuation. */
export function toCsv(trades: Iterable<TradeInput>, header = true): string {
  const lines = header ? ['time,trade_id,price,size,side,product'] : [];
  for (const t of trades) lines.push(`${t.time},${t.tradeId},${t.price},${t.size},${t.side},${t.product}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Appends trades to their product streams in large batches, as exactly the TradeRecorded events
 * recordTrades would write (same ids, same normalised data), without its per-batch checks.
 */
export async function appendTrades(
  client: StoreClient,
  trades: readonly TradeInput[],
  batch = 5_000,
): Promise<void> {
  for (let start = 0; start < trades.length; start += batch) {
    const slice = trades.slice(start, start + batch);
    const events = slice.map((trade) => {
      const { id, data } = decideRecordTrade(trade, [trade.product]);
      return { id, type: 'TradeRecorded', data };
    });
    await appendToStream(client, tradeStream(slice[0]!.product), events);
  }
}
