// Feeds recording into the real embedded node: what ends up in the trade streams is what a user sees.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { normalizeDecimal } from '../../src/domain/decimal.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { startCoinbaseFeed, type CoinbaseFeed } from '../../src/feeds/coinbase.ts';
import { startFeed, type RunningFeed } from '../../src/feeds/index.ts';
import { simulateTape, type TapeTrade } from '../../src/feeds/simulated.ts';
import type { RecordTrades } from '../../src/feeds/writer.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { startFakeCoinbase, tape, type FakeCoinbase } from './fakeCoinbase.ts';
import { storedTrades } from './storeReads.ts';
import { waitFor } from './waitFor.ts';

const logger = pino({ level: 'silent' });
/** A trade as the store keeps it: decimals without trailing zeros. */
const asStored = (trade: TradeInput): TradeInput => ({
  ...trade,
  price: normalizeDecimal(trade.price)!,
  size: normalizeDecimal(trade.size)!,
});
const PRODUCTS = ['BTC-USD', 'ETH-USD'];

let store: TestStore;
let record: RecordTrades;
beforeAll(async () => {
  store = await startTestStore();
  record = (trades) => recordTrades(store.client, trades, { products: PRODUCTS });
});
afterAll(async () => {
  await store?.stop();
});

describe('Coinbase connector into the store', () => {
  let server: FakeCoinbase | undefined;
  const feeds: CoinbaseFeed[] = [];
  afterEach(async () => {
    for (const feed of feeds.splice(0)) await feed.stop();
    await server?.close();
  });
  const start = (url: string): CoinbaseFeed => {
    const feed = startCoinbaseFeed({
      url,
      products: PRODUCTS,
      record,
      logger,
      reconnect: { baseMs: 20, maxMs: 100 },
    });
    feeds.push(feed);
    return feed;
  };

  it('keeps each trade once across a dropped connection and a process restart', async () => {
    server = await startFakeCoinbase();
    const trades = tape('BTC-USD', 1, 320);
    const feed = start(server.url);
    const first = await server.connection(1);
    first.sendTrade(trades[0]!, 'last_match');
    for (const trade of trades.slice(1, 150)) first.sendTrade(trade);
    await waitFor(() => feed.stats().writer.recorded === 150);
    first.drop();

    const second = await server.connection(2);
    second.sendTrade(trades[149]!, 'last_match');
    for (const trade of trades.slice(139, 300)) second.sendTrade(trade);
    await waitFor(() => feed.stats().writer.recorded === 300);
    await feed.stop();

    // A new process knows no last trade id: the store's deterministic ids keep the re-sent one out.
    const restarted = start(server.url);
    const third = await server.connection(3);
    third.sendTrade(trades[299]!, 'last_match');
    for (const trade of trades.slice(300)) third.sendTrade(trade);
    await waitFor(() => restarted.stats().writer.recorded + restarted.stats().writer.alreadyPresent === 21);
    expect(restarted.stats().writer).toMatchObject({ recorded: 20, alreadyPresent: 1 });

    const stored = await storedTrades(store.client, 'BTC-USD');
    expect(stored).toEqual(trades.map(asStored));
  });
});

describe('startFeed', () => {
  let feed: RunningFeed | undefined;
  afterEach(async () => {
    await feed?.stop();
    feed = undefined;
  });

  it('plays the seeded tape into the store with PRICEALERT_FEED=simulated', async () => {
    const config = loadConfig({ PRICEALERT_FEED: 'simulated', PRICEALERT_PRODUCTS: 'ETH-USD' });
    feed = await startFeed({
      config,
      record: (trades) => recordTrades(store.client, trades, { products: ['ETH-USD'] }),
      logger,
      env: { PRICEALERT_SIM_SEED: '11', PRICEALERT_SIM_RATE: '400' },
    });
    await waitFor(() => {
      const stats = feed!.stats();
      return stats.feed === 'simulated' && stats.writer.recorded >= 100;
    });
    await feed.stop();
    const stats = feed.stats();
    const stored = await storedTrades(store.client, 'ETH-USD');
    expect(stats.feed === 'simulated' && stats.trades).toBe(stored.length);

    const expected = simulateTape({ seed: 11, products: ['ETH-USD'], ratePerSecond: 400, startMs: 0 });
    const shape = (trade: Record<string, unknown>) => [trade.price, trade.size, trade.side];
    const first = Array.from({ length: stored.length }, () => (expected.next().value as TapeTrade).trade);
    expect(stored.map(shape)).toEqual(first.map((trade) => shape({ ...asStored(trade) })));
    expect(stored.every((trade) => trade.source === 'simulated')).toBe(true);
  });

  it('starts nothing with PRICEALERT_FEED=none and refuses bad simulator settings', async () => {
    feed = await startFeed({ config: loadConfig({ PRICEALERT_FEED: 'none' }), record, logger });
    expect(feed.stats()).toEqual({ feed: 'none' });
    await expect(
      startFeed({
        config: loadConfig({ PRICEALERT_FEED: 'simulated' }),
        record,
        logger,
        env: { PRICEALERT_SIM_RATE: 'fast' },
      }),
    ).rejects.toThrow(/PRICEALERT_SIM_RATE/);
  });
});
