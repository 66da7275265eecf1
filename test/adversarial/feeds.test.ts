// The Coinbase connector against a hostile feed, into the real embedded node: bad frames with high
// trade ids, garbage of every kind around a dropped connection, ids swapped in flight. What counts is
// what ends up in the store: every real trade, once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { normalizeDecimal } from '../../src/domain/decimal.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { startCoinbaseFeed, type CoinbaseFeed } from '../../src/feeds/coinbase.ts';
import { createTradeIdTracker } from '../../src/feeds/tradeIds.ts';
import { matchMessage, startFakeCoinbase, tape, type FakeCoinbase } from '../feeds/fakeCoinbase.ts';
import { storedTrades } from '../feeds/storeReads.ts';
import { waitFor } from '../feeds/waitFor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const logger = pino({ level: 'silent' });
const PRODUCTS = ['BTC-USD', 'ETH-USD'];
const asStored = (trade: TradeInput): TradeInput => ({
  ...trade,
  price: normalizeDecimal(trade.price)!,
  size: normalizeDecimal(trade.size)!,
});

/** A match for the trade with some fields replaced (undefined removes the field). */
const bent = (trade: TradeInput, fields: Record<string, unknown>): string =>
  JSON.stringify({ ...matchMessage(trade), ...fields });

const HUGE_ID = 9_000_000_000_000;

/** Frames no store would take, many of them with a trade_id far ahead of the real ones. */
function garbage(trade: TradeInput): string[] {
  return [
    'not json at all',
    bent(trade, {}).slice(0, 40),
    '[1,2,3]',
    'null',
    bent(trade, { trade_id: HUGE_ID, price: '-5.00' }),
    bent(trade, { trade_id: HUGE_ID, price: '0' }),
    bent(trade, { trade_id: HUGE_ID, size: '-0.1' }),
    bent(trade, { trade_id: HUGE_ID, price: 'NaN' }),
    bent(trade, { trade_id: HUGE_ID, price: '1e5' }),
    bent(trade, { trade_id: HUGE_ID, time: 'yesterday' }),
    bent(trade, { trade_id: HUGE_ID, time: '2026-02-31T00:00:00Z' }),
    bent(trade, { trade_id: HUGE_ID, time: '2026-11-26T08:00:00' }),
    bent(trade, { trade_id: HUGE_ID, side: 'hold' }),
    bent(trade, { trade_id: HUGE_ID, product_id: 'DOGE-USD' }),
    bent(trade, { trade_id: HUGE_ID, price: 40000.25 }),
    bent(trade, { trade_id: 1e300 }),
    bent(trade, { trade_id: 2 ** 53 + 2 }),
    bent(trade, { trade_id: -1 }),
    bent(trade, { trade_id: 12.5 }),
    bent(trade, { trade_id: String(HUGE_ID) }),
    bent(trade, { trade_id: undefined }),
    bent(trade, { trade_id: HUGE_ID, price: undefined }),
    bent(trade, { trade_id: HUGE_ID, time: undefined }),
    bent(trade, { trade_id: HUGE_ID, product_id: undefined }),
    bent(trade, { trade_id: HUGE_ID, side: undefined }),
    '{"type":"heartbeat","product_id":"BTC-USD","last_trade_id":"many"}',
  ];
}

let store: TestStore;
let server: FakeCoinbase | undefined;
let feed: CoinbaseFeed | undefined;

beforeAll(async () => {
  store = await startTestStore();
});
afterAll(async () => {
  await store?.stop();
});
afterEach(async () => {
  await feed?.stop();
  await server?.close();
  feed = undefined;
  server = undefined;
});

async function startFeed(): Promise<{ server: FakeCoinbase; feed: CoinbaseFeed }> {
  server = await startFakeCoinbase();
  feed = startCoinbaseFeed({
    url: server.url,
    products: PRODUCTS,
    record: (trades) => recordTrades(store.client, trades, { products: PRODUCTS }),
    logger,
    heartbeatTimeoutMs: 5_000,
    reconnect: { baseMs: 20, maxMs: 100 },
  });
  return { server, feed };
}

/** The stored trades of the product whose ids are those of the tape, in stream order. */
const storedOf = async (tapeTrades: TradeInput[]): Promise<Record<string, unknown>[]> => {
  const ids = new Set(tapeTrades.map((trade) => trade.tradeId));
  const product = tapeTrades[0]!.product;
  return (await storedTrades(store.client, product)).filter((trade) => ids.has(String(trade.tradeId)));
};

describe('a Coinbase feed that sends bad frames', () => {
  it('records every good trade after a refused match with a huge trade_id (10, bad, 100, bad, 100)', async () => {
    const { server, feed } = await startFeed();
    const connection = await server.connection(1);
    const trades = tape('ETH-USD', 1, 210);
    for (const trade of trades.slice(0, 10)) connection.sendTrade(trade);
    connection.send(bent(trades[10]!, { trade_id: HUGE_ID, price: '-5.00' }));
    for (const trade of trades.slice(10, 110)) connection.sendTrade(trade);
    connection.send(bent(trades[110]!, { trade_id: HUGE_ID + 1, time: 'not a time' }));
    for (const trade of trades.slice(110)) connection.sendTrade(trade);

    await waitFor(() => feed.stats().writer.recorded === 210);
    expect(await storedTrades(store.client, 'ETH-USD')).toEqual(trades.map(asStored));
    expect(feed.stats()).toMatchObject({ trades: 210, malformed: 2, duplicates: 0, gaps: 0 });
  });

  it('records 4,000 trades exactly once through a dropped socket and 200 garbage frames midway', async () => {
    const { server, feed } = await startFeed();
    const btc = tape('BTC-USD', 100_001, 2_000);
    const eth = tape('ETH-USD', 500_001, 2_000);
    const interleaved = btc.flatMap((trade, index) => [trade, eth[index]!]);
    const junk = garbage(btc[0]!);

    const first = await server.connection(1);
    first.sendTrade(btc[0]!, 'last_match');
    first.sendTrade(eth[0]!, 'last_match');
    let garbageSent = 0;
    for (const [index, trade] of interleaved.slice(2, 2_400).entries()) {
      first.sendTrade(trade);
      if (index >= 1_000 && index % 5 === 0 && garbageSent < 200) {
        first.send(junk[garbageSent % junk.length]!);
        garbageSent += 1;
      }
    }
    expect(garbageSent).toBe(200);
    await waitFor(() => feed.stats().malformed === 200 && feed.stats().trades === 2_400);
    first.drop();

    const second = await server.connection(2);
    second.sendTrade(btc[1_199]!, 'last_match');
    second.sendTrade(eth[1_199]!, 'last_match');
    for (const trade of interleaved.slice(2_200)) second.sendTrade(trade); // overlaps what was recorded

    await waitFor(() => feed.stats().writer.recorded === 4_000 && feed.stats().duplicates === 202);
    expect(await storedOf(btc)).toEqual(btc.map(asStored));
    expect(await storedOf(eth)).toEqual(eth.map(asStored));
    expect(feed.stats()).toMatchObject({ trades: 4_000, malformed: 200, gaps: 0, disconnects: 1 });
  });

  it('records a trade whose id arrives after the next one (ids swapped in flight)', async () => {
    const { server, feed } = await startFeed();
    const connection = await server.connection(1);
    const trades = tape('BTC-USD', 900_001, 10);
    const order = [0, 1, 2, 3, 4, 6, 5, 7, 9, 8];
    for (const index of order) connection.sendTrade(trades[index]!);

    await waitFor(() => feed.stats().trades + feed.stats().duplicates === 10);
    await waitFor(() => feed.stats().writer.recorded >= 10);
    expect((await storedOf(trades)).map((trade) => trade.tradeId)).toEqual(
      order.map((index) => trades[index]!.tradeId),
    );
    expect(feed.stats()).toMatchObject({
      trades: 10,
      duplicates: 0,
      lateTrades: 2,
      gaps: 2,
      missedTrades: 0,
    });
  });
});

describe('the trade ids a connector has seen', () => {
  it('fills gaps with late trades, drops re-sends, and forgets the oldest gaps past its bound', () => {
    const ids = createTradeIdTracker(2);
    expect(ids.match('P', 1)).toEqual({ kind: 'next' });
    expect(ids.match('P', 4)).toEqual({ kind: 'gap', after: 1, missed: 2 });
    expect(ids.match('P', 3)).toEqual({ kind: 'late' });
    expect(ids.match('P', 3)).toEqual({ kind: 'duplicate' });
    expect(ids.heartbeat('P', 7)).toEqual({ after: 4, missed: 3 });
    expect(ids.match('P', 6)).toEqual({ kind: 'late' }); // splits 5–7 into 5 and 7: three gaps, bound two
    expect(ids.match('P', 2)).toEqual({ kind: 'duplicate' }); // the oldest gap was forgotten
    expect(ids.match('P', 5)).toEqual({ kind: 'late' });
    expect(ids.match('P', 7)).toEqual({ kind: 'late' });
    expect(ids.match('P', 8)).toEqual({ kind: 'next' });
    expect(ids.match('Q', 8)).toEqual({ kind: 'next' });
    // A well-formed match far ahead cannot be told from a real one; the real ones after it still count.
    expect(ids.match('Q', HUGE_ID)).toEqual({ kind: 'gap', after: 8, missed: HUGE_ID - 9 });
    expect(ids.match('Q', 9)).toEqual({ kind: 'late' });
    expect(ids.match('Q', 10)).toEqual({ kind: 'late' });
    expect(ids.match('Q', 10)).toEqual({ kind: 'duplicate' });
  });
});
