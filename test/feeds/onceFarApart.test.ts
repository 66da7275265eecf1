// A trade recorded twice, far apart — by the live feed, then by an import of a file holding it after
// the store has long forgotten its event id, then by the feed again after a restart — counts once in
// the projections, in the triggers the reactor writes and in a backtest. The node runs with EventStoreDB's
// idempotency (`recent`, a few recent event ids only), so nothing here leans on the store to notice.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestFromStore } from '../../src/backtest/index.ts';
import { createAlert } from '../../src/domain/alerts.ts';
import type { AlertCreated, TradeRecorded } from '../../src/domain/events.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { tradeStream } from '../../src/domain/types.ts';
import { lastEvent } from '../../src/eventstore/store.ts';
import { startCoinbaseFeed, type CoinbaseFeed } from '../../src/feeds/coinbase.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { changesOf, expectedChanges, WINDOWS } from '../runtime/helpers.ts';
import { startFakeCoinbase, tape, type FakeCoinbase } from './fakeCoinbase.ts';
import { storedTrades } from './storeReads.ts';
import { waitFor } from './waitFor.ts';

const root = new URL('../../', import.meta.url).pathname;
const PRODUCT = 'BTC-USD';
const PRODUCTS = ['BTC-USD', 'ETH-USD'];
const TAPE = tape(PRODUCT, 5_000_001, 350);
const logger = pino({ level: 'silent' });

/** Around the tape's prices (40000.25 … 40499.25): every measure, once and repeat. */
const ALERTS = [
  { direction: 'ABOVE', threshold: '40400', measure: 'LAST', repeat: true, rearmBy: '50' },
  { direction: 'BELOW', threshold: '40100', measure: 'LAST', repeat: true },
  { direction: 'ABOVE', threshold: '40252', measure: 'MEAN', window: '1m', repeat: true },
  { direction: 'BELOW', threshold: '40247', measure: 'VWAP', window: '10m', repeat: true, rearmBy: '1' },
  { direction: 'ABOVE', threshold: '40300', measure: 'MEAN', window: 'all' },
] as const;

describe('a trade recorded twice far apart, from the feed and from an import', { timeout: 90_000 }, () => {
  let store: TestStore;
  let reactor: Reactor;
  let server: FakeCoinbase;
  let dir: string;
  const feeds: CoinbaseFeed[] = [];
  const alerts: AlertCreated[] = [];

  const startFeed = (): CoinbaseFeed => {
    const feed = startCoinbaseFeed({
      url: server.url,
      products: PRODUCTS,
      record: (trades) => recordTrades(store.client, trades, { products: PRODUCTS }),
      logger,
      reconnect: { baseMs: 20, maxMs: 100 },
    });
    feeds.push(feed);
    return feed;
  };

  beforeAll(async () => {
    store = await startTestStore({ idempotency: 'recent', limits: { idempotencyCacheSize: 32 } });
    dir = mkdtempSync(join(tmpdir(), 'pricealert-far-apart-'));
    server = await startFakeCoinbase();
    reactor = await startReactor({ client: store.client, config: { PRICEALERT_WINDOWS: WINDOWS }, logger });
    await reactor.ready;
    for (const [index, alert] of ALERTS.entries()) {
      const { state } = await createAlert(
        store.client,
        {
          ...alert,
          alertId: `far-${index}`,
          userId: 'u',
          product: PRODUCT,
          now: '2026-11-26T07:00:00.000000Z',
        },
        { products: PRODUCTS, windows: WINDOWS },
      );
      alerts.push(state.created);
    }
  });

  afterAll(async () => {
    for (const feed of feeds) await feed.stop();
    await server?.close();
    await reactor?.stop();
    await store?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts each trade once in the stream, the prices, the triggers and a backtest', async () => {
    // The feed records trades 0–199; other trades follow, pushing those ids out of the store's memory.
    const feed = startFeed();
    const live = await server.connection(1);
    for (const trade of TAPE.slice(0, 200)) live.sendTrade(trade);
    for (const trade of tape('ETH-USD', 1, 100)) live.sendTrade(trade);
    await waitFor(() => feed.stats().writer.recorded === 300);
    await feed.stop();

    // A file of trades 100–299 imported by a process of its own: half of it already there.
    const file = join(dir, 'trades.csv');
    const lines = TAPE.slice(100, 300).map((t) => `${t.time},${t.tradeId},${t.price},${t.size},${t.side}`);
    writeFileSync(file, `time,trade_id,price,size,side\n${lines.join('\n')}\n`);
    const imported = await promisify(execFile)(
      process.execPath,
      [join(root, 'bin/pricealert.js'), 'import', file, '--product', PRODUCT],
      { cwd: root, env: { ...process.env, EVENTSTORE_URL: store.connectionString, LOG_LEVEL: 'warn' } },
    );
    expect(imported.stdout).toBe('read 200, recorded 100, already present 100, rejected 0\n');

    // The feed restarts and its venue sends from trade 250 on: 250–299 came in by the import.
    const restarted = startFeed();
    const again = await server.connection(2);
    for (const trade of TAPE.slice(250)) again.sendTrade(trade);
    await waitFor(() => restarted.stats().writer.recorded + restarted.stats().writer.alreadyPresent === 100);
    expect(restarted.stats().writer).toMatchObject({ recorded: 50, alreadyPresent: 50 });

    const stored = (await storedTrades(store.client, PRODUCT)) as unknown as TradeRecorded[];
    expect(stored.map((trade) => trade.tradeId)).toEqual(TAPE.map((trade) => trade.tradeId));

    const last = await lastEvent(store.client, tradeStream(PRODUCT));
    await reactor.caughtUpTo(last!.position!.commit);
    expect(reactor.views.price(PRODUCT, 'all')?.count).toBe(TAPE.length);

    const expected = expectedChanges(alerts, stored);
    for (const alert of alerts)
      expect(await changesOf(store.client, alert.alertId)).toEqual(expected.get(alert.alertId));
    const fired = [...expected.values()].flat().filter((line) => line.startsWith('AlertTriggered'));
    expect(fired.length).toBeGreaterThan(5);

    const report = await backtestFromStore({
      client: store.client,
      product: PRODUCT,
      alerts: ALERTS.map((alert) => ({ ...alert })),
      products: PRODUCTS,
      windows: WINDOWS,
    });
    expect(report.tradesReplayed).toBe(TAPE.length);
    const byAlert = alerts.map((alert) =>
      expected.get(alert.alertId)!.filter((line) => line.startsWith('AlertTriggered')),
    );
    expect(
      alerts.map((_, index) =>
        report.triggers
          .filter((trigger) => trigger.alertIndex === index)
          .map((trigger) => `AlertTriggered ${trigger.trade.tradeId}`),
      ),
    ).toEqual(byAlert);
  });
});
