// Seeking by trade time in a real trade stream: the right revision, in a few single-event reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStoreDBClient } from '@eventstore/db-client';
import { openStoreRange, SEEK_MARGIN } from '../../src/backtest/storeSource.ts';
import { parseTime } from '../../src/domain/time.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { appendTrades, tape } from './tape.ts';

const COUNT = 50_000;
const micros = (trade: TradeInput): number => parseTime(trade.time)!.micros;

/** The client, with every event the store sends to a read counted. */
function counting(client: EventStoreDBClient) {
  const counter = { calls: 0, events: 0 };
  const proxy = new Proxy(client, {
    get(target, key, receiver) {
      if (key !== 'readStream') return Reflect.get(target, key, receiver);
      return (...args: Parameters<EventStoreDBClient['readStream']>) => {
        counter.calls += 1;
        const read = target.readStream(...args);
        read.on('data', () => (counter.events += 1));
        return read;
      };
    },
  });
  return { client: proxy, counter };
}

describe('seeking trades-{product} by time', () => {
  let store: TestStore;
  const trades = [...tape({ count: COUNT, maxGapMicros: 1_000_000 })];

  beforeAll(async () => {
    store = await startTestStore();
    await appendTrades(store.client, trades);
  });
  afterAll(() => store?.stop());

  it('starts a margin before the first trade after the target, reading about log2(n) single events', async () => {
    const { client, counter } = counting(store.client);
    const target = micros(trades[30_000]!);
    const firstAfter = trades.findIndex((trade) => micros(trade) > target);
    const range = await openStoreRange(client, 'BTC-USD', { afterMicros: target });
    expect(range.seek.startRevision).toBe(firstAfter - SEEK_MARGIN);
    expect(range.seek.streamLength).toBe(COUNT);
    expect(range.expectedTrades).toBe(COUNT - range.seek.startRevision);
    expect(counter.events).toBe(range.seek.reads);
    expect(counter.events).toBeLessThanOrEqual(Math.ceil(Math.log2(COUNT)) + 2);

    const first: TradeInput[] = [];
    for await (const trade of range.trades) {
      first.push(trade);
      if (first.length === 3) break;
    }
    expect(first.map((trade) => trade.tradeId)).toEqual(
      trades.slice(firstAfter - SEEK_MARGIN, firstAfter - SEEK_MARGIN + 3).map((trade) => trade.tradeId),
    );
  });

  it('ends the expected range at the first trade after `to`, and reads from 0 without a target', async () => {
    const to = micros(trades[40_000]!);
    const end = trades.findIndex((trade) => micros(trade) > to);
    const range = await openStoreRange(store.client, 'BTC-USD', { toMicros: to });
    expect(range.seek.startRevision).toBe(0);
    expect(range.expectedTrades).toBe(end);
  });

  it('finds nothing to read in a stream that does not exist', async () => {
    const range = await openStoreRange(store.client, 'ETH-USD', { afterMicros: 0 });
    expect(range.seek).toMatchObject({ startRevision: 0, streamLength: 0 });
    const read: TradeInput[] = [];
    for await (const trade of range.trades) read.push(trade);
    expect(read).toEqual([]);
  });
});
