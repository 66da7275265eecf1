// Reading `trades-{product}` for a replay: seek by time with single-event reads, then stream forwards.
import { tradeStream, type TradeInput } from '../domain/types.ts';
import { readForwards } from '../eventstore/fastRead.ts';
import {
  BACKWARDS,
  END,
  FORWARDS,
  readStream,
  type Direction,
  type StoreClient,
  type StoredEvent,
} from '../eventstore/store.ts';
import { tradeFromEvent, tradeFromStored, tradeMicros } from './trade.ts';
import type { SeekInfo } from './report.ts';
import { firstPositionAfter } from './seek.ts';

/**
 * How many revisions the replay steps back from where the time search lands. Trades appended up to this
 * many positions after a later-timed trade (late arrivals from the feed) are still read, so they warm
 * the windows; a trade later by more than this is missed from the warm-up (only the warm-up: the trades
 * from `from` on are all read).
 */
export const SEEK_MARGIN = 1_000;

export interface StoreRange {
  trades: AsyncIterable<TradeInput>;
  seek: SeekInfo;
  /** Trades between the start revision and the first trade after `to` (or the end): for progress and caps. */
  expectedTrades: number;
}

export interface StoreRangeOptions {
  /** Read from the first trade whose time is after this (minus SEEK_MARGIN); from revision 0 when absent. */
  afterMicros?: number;
  /** Where `expectedTrades` ends: the first trade whose time is after this. */
  toMicros?: number;
}

export async function openStoreRange(
  client: StoreClient,
  product: string,
  options: StoreRangeOptions,
): Promise<StoreRange> {
  const started = performance.now();
  const stream = tradeStream(product);
  let reads = 0;
  // Memoised as promises, so concurrent searches share a probe rather than read it twice.
  const probed = new Map<number, Promise<number>>();
  const readTime = async (revision: number): Promise<number> => {
    const event = await readOne(client, stream, { fromRevision: BigInt(revision), direction: FORWARDS });
    const trade = event && tradeFromStored(event);
    if (!trade) throw new Error(`${stream}@${revision} is not a trade that can be read`);
    return tradeMicros(trade);
  };
  const timeAt = (revision: number): Promise<number> => {
    let time = probed.get(revision);
    if (!time) {
      reads += 1;
      time = readTime(revision);
      probed.set(revision, time);
    }
    return time;
  };

  reads += 1;
  const last = await readOne(client, stream, { fromRevision: END, direction: BACKWARDS });
  const streamLength = last ? Number(last.revision) + 1 : 0;
  // The two searches are independent: run them side by side (they share the probes already read).
  const [found, end] = await Promise.all([
    options.afterMicros === undefined ? 0 : firstPositionAfter(0, streamLength, options.afterMicros, timeAt),
    options.toMicros === undefined
      ? streamLength
      : firstPositionAfter(0, streamLength, options.toMicros, timeAt),
  ]);
  const startRevision = Math.max(0, found - SEEK_MARGIN);

  return {
    trades: readTrades(client, stream, startRevision),
    seek: { startRevision, streamLength, reads, ms: Math.round(performance.now() - started) },
    expectedTrades: Math.max(0, end - startRevision),
  };
}

async function readOne(
  client: StoreClient,
  stream: string,
  options: { fromRevision: bigint | typeof END; direction: Direction },
): Promise<StoredEvent | undefined> {
  for await (const event of readStream(client, stream, { ...options, maxCount: 1 })) return event;
  return undefined;
}

/**
 * The stream's trades from `fromRevision` on, through the store port's fast forwards read (about twice
 * the events per second of the client's readStream, where the client version allows it).
 */
async function* readTrades(
  client: StoreClient,
  stream: string,
  fromRevision: number,
): AsyncGenerator<TradeInput> {
  for await (const event of readForwards(client, stream, fromRevision)) {
    const trade = event.data === undefined ? undefined : tradeFromEvent(event.type, event.data);
    if (trade) yield trade;
  }
}
