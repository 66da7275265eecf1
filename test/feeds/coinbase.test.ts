// The Coinbase connector against a local server speaking the feed protocol. The sink here records what
// the connector hands on, so "each trade once" is checked before the store's own idempotency could hide
// a duplicate; coinbaseStore.test.ts runs the same path into the real embedded node.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { TradeInput } from '../../src/domain/types.ts';
import { startCoinbaseFeed, type CoinbaseFeed } from '../../src/feeds/coinbase.ts';
import type { RecordTrades } from '../../src/feeds/writer.ts';
import { startFakeCoinbase, tape, type FakeCoinbase } from './fakeCoinbase.ts';
import { waitFor } from './waitFor.ts';

const logger = pino({ level: 'silent' });
const PRODUCTS = ['BTC-USD', 'ETH-USD'];

function collectingSink(
  delayMs = 0,
  failFirst = 0,
): { record: RecordTrades; trades: TradeInput[]; calls: number[] } {
  const trades: TradeInput[] = [];
  const calls: number[] = [];
  let failures = 0;
  return {
    trades,
    calls,
    record: async (batch) => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (failures < failFirst) {
        failures += 1;
        throw new Error('store unavailable');
      }
      calls.push(batch.length);
      trades.push(...batch);
      return { recorded: batch.length, alreadyPresent: 0, rejected: [] };
    },
  };
}

let server: FakeCoinbase | undefined;
let feed: CoinbaseFeed | undefined;

afterEach(async () => {
  await feed?.stop();
  await server?.close();
  feed = undefined;
  server = undefined;
});

async function start(
  sink: { record: RecordTrades },
  options: { heartbeatTimeoutMs?: number; highWater?: number; maxBatch?: number } = {},
) {
  server = await startFakeCoinbase();
  feed = startCoinbaseFeed({
    url: server.url,
    products: PRODUCTS,
    record: sink.record,
    logger,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 2_000,
    reconnect: { baseMs: 20, maxMs: 100 },
    ...options,
  });
  return { server, feed };
}

describe('Coinbase connector', () => {
  it('subscribes once to matches and heartbeat, and records exactly the tape, batched', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink);
    const connection = await server.connection(1);
    expect(connection.subscribe).toEqual({
      type: 'subscribe',
      product_ids: PRODUCTS,
      channels: ['matches', 'heartbeat'],
    });

    const btc = tape('BTC-USD', 1, 300);
    const eth = tape('ETH-USD', 9_001, 100);
    connection.sendTrade(btc[0]!, 'last_match');
    connection.sendTrade(eth[0]!, 'last_match');
    for (const trade of [...btc.slice(1), ...eth.slice(1)]) connection.sendTrade(trade);

    await waitFor(() => sink.trades.length === 400);
    expect(sink.trades.filter((trade) => trade.product === 'BTC-USD')).toEqual(btc);
    expect(sink.trades.filter((trade) => trade.product === 'ETH-USD')).toEqual(eth);
    expect(sink.calls.length).toBeLessThan(50);
    expect(feed.stats()).toMatchObject({ trades: 400, duplicates: 0, gaps: 0, malformed: 0, connections: 1 });
    expect(server.connections).toHaveLength(1);
    expect(connection.received).toBe(1);
  });

  it('after a dropped connection, resumes and records each re-sent trade once', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink);
    const trades = tape('BTC-USD', 1, 100);
    const first = await server.connection(1);
    first.sendTrade(trades[0]!, 'last_match');
    for (const trade of trades.slice(1, 50)) first.sendTrade(trade);
    await waitFor(() => sink.trades.length === 50);
    first.drop();

    const second = await server.connection(2);
    second.sendTrade(trades[49]!, 'last_match');
    for (const trade of trades.slice(39)) second.sendTrade(trade); // overlaps 40..50

    await waitFor(() => sink.trades.length >= 100 && feed.stats().duplicates === 12);
    expect(sink.trades).toEqual(trades);
    expect(feed.stats()).toMatchObject({
      trades: 100,
      duplicates: 12,
      gaps: 0,
      disconnects: 1,
      connections: 2,
    });
  });

  it('detects and counts a gap in trade ids, between matches and behind a heartbeat', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink);
    const connection = await server.connection(1);
    const trades = tape('ETH-USD', 1, 30);
    for (const trade of [...trades.slice(0, 10), ...trades.slice(13, 20)]) connection.sendTrade(trade); // 11–13 lost
    await waitFor(() => sink.trades.length === 17);
    expect(feed.stats()).toMatchObject({ gaps: 1, missedTrades: 3 });

    connection.send({
      type: 'heartbeat',
      sequence: 5_000,
      last_trade_id: 25,
      product_id: 'ETH-USD',
      time: new Date().toISOString(),
    });
    connection.sendTrade(trades[25]!);
    await waitFor(() => sink.trades.length === 18);
    expect(feed.stats()).toMatchObject({ gaps: 2, missedTrades: 8 });
    expect(sink.trades.map((trade) => trade.tradeId)).not.toContain('12');
  });

  it('records a trade a heartbeat reported missing when a reconnect brings it as last_match', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink);
    const trades = tape('BTC-USD', 1, 15);
    const first = await server.connection(1);
    for (const trade of trades.slice(0, 10)) first.sendTrade(trade);
    first.send({
      type: 'heartbeat',
      sequence: 9_000,
      last_trade_id: 12,
      product_id: 'BTC-USD',
      time: new Date().toISOString(),
    });
    await waitFor(() => feed.stats().missedTrades === 2);
    first.drop();

    const second = await server.connection(2);
    second.sendTrade(trades[11]!, 'last_match');
    for (const trade of trades.slice(12)) second.sendTrade(trade);
    await waitFor(() => sink.trades.length === 14);
    expect(sink.trades.map((trade) => trade.tradeId)).toEqual(
      [...trades.slice(0, 10), ...trades.slice(11)].map((trade) => trade.tradeId),
    );
    expect(feed.stats()).toMatchObject({ gaps: 1, missedTrades: 1, duplicates: 0 });
  });

  it('counts 10,000 malformed or unexpected frames and records the trades between them unchanged', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink);
    const connection = await server.connection(1);
    const trades = tape('BTC-USD', 1, 500);
    const junk = [
      'not json at all',
      '[1,2,3]',
      '{"no":"type"}',
      '{"type":"match","trade_id":7,"product_id":"BTC-USD"}',
      '{"type":"match","trade_id":"x","product_id":"BTC-USD","price":"1","size":"1","side":"buy","time":"t"}',
      '{"type":"match","trade_id":8,"product_id":"BTC-USD","price":1,"size":"1","side":"buy","time":"t"}',
      '{"type":"heartbeat","product_id":"BTC-USD"}',
      '{"type":"ticker","product_id":"BTC-USD","price":"1"}',
      '{"type":"l2update","product_id":"BTC-USD","changes":[]}',
      '\u0000\u0001garbage\uFFFD',
    ];
    for (let index = 0; index < 10_000; index += 1) {
      connection.send(junk[index % junk.length]!);
      if (index % 20 === 0) connection.sendTrade(trades[index / 20]!);
    }
    await waitFor(() => feed.stats().frames >= 10_500 + 2);
    await waitFor(() => sink.trades.length === 500);
    expect(sink.trades).toEqual(trades);
    const stats = feed.stats();
    expect(stats.malformed + stats.unexpected).toBe(10_000);
    expect(stats.unexpected).toBe(2_000);
    expect(stats).toMatchObject({ trades: 500, connections: 1, disconnects: 0 });
  });

  it('treats heartbeat silence as a dead connection and reconnects', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink, { heartbeatTimeoutMs: 300 });
    const first = await server.connection(1);
    first.sendTrade(tape('BTC-USD', 1, 1)[0]!);
    first.silence();
    const second = await server.connection(2);
    expect(second.subscribe.product_ids).toEqual(PRODUCTS);
    expect(feed.stats().heartbeatTimeouts).toBeGreaterThanOrEqual(1);
    await waitFor(() => !first.open);
  });

  it('logs and counts an error message and keeps the feed running', async () => {
    const sink = collectingSink();
    const { server, feed } = await start(sink);
    const connection = await server.connection(1);
    connection.send({
      type: 'error',
      message: 'Failed to subscribe',
      reason: 'FOO-BAR is not a valid product',
    });
    const trades = tape('BTC-USD', 1, 5);
    for (const trade of trades) connection.sendTrade(trade);
    await waitFor(() => sink.trades.length === 5);
    expect(feed.stats()).toMatchObject({ serverErrors: 1, connections: 1 });
  });

  it('under a burst into a slow store, pauses the socket with a bounded queue and loses nothing', async () => {
    const sink = collectingSink(15, 2); // slow, and the first two calls fail
    const { server, feed } = await start(sink, { highWater: 200, maxBatch: 100, heartbeatTimeoutMs: 5_000 });
    const connection = await server.connection(1);
    const trades = tape('BTC-USD', 1, 3_000);
    for (const trade of trades) connection.sendTrade(trade);
    await waitFor(() => sink.trades.length === 3_000, 20_000);
    expect(sink.trades).toEqual(trades);
    const stats = feed.stats();
    expect(stats.pauses).toBeGreaterThan(0);
    expect(stats.writer.maxQueued).toBeLessThan(1_500);
    expect(stats.writer.failures).toBe(2);
    expect(Math.max(...sink.calls)).toBeLessThanOrEqual(100);
  });

  it('stops promptly while the store is down, dropping what it cannot record', async () => {
    const sink = collectingSink(0, Number.POSITIVE_INFINITY);
    const { server, feed } = await start(sink);
    const connection = await server.connection(1);
    for (const trade of tape('BTC-USD', 1, 10)) connection.sendTrade(trade);
    await waitFor(() => feed.stats().writer.failures >= 2);
    await feed.stop();
    expect(sink.trades).toEqual([]);
    expect(feed.stats().writer.recorded).toBe(0);
  });
});
