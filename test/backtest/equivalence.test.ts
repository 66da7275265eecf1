// The backtest's promise: on the same trades, with the same alerts created before the first of them, it
// gives exactly the triggers the live reactor writes — same alerts, same trades, same values, re-arms
// included. And replaying from a file gives what replaying the store gives.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestFromFile, backtestFromStore } from '../../src/backtest/index.ts';
import type { BacktestTrigger } from '../../src/backtest/report.ts';
import { createAlert } from '../../src/domain/alerts.ts';
import { parseEvent } from '../../src/domain/events.ts';
import { dateToIso } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { alertStream, tradeStream } from '../../src/domain/types.ts';
import { connectClient, lastEvent, readStream } from '../../src/eventstore/store.ts';
import { createLogger } from '../../src/logger.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { tape, toCsv } from './tape.ts';

const PRODUCT = 'BTC-USD';
const PRODUCTS = [PRODUCT];
const WINDOWS = ['1m', '10m'];
const TRADES = [...tape({ count: 3_000, maxGapMicros: 1_000_000, seed: 7 })];

/** Around the tape's prices, every measure and kind of window, once and repeat (with and without rearmBy). */
const ALERTS = [
  { direction: 'ABOVE', threshold: '42800', measure: 'LAST', repeat: true },
  { direction: 'BELOW', threshold: '42750', measure: 'LAST', repeat: true, rearmBy: '25' },
  { direction: 'ABOVE', threshold: '42790.5', measure: 'MEAN', window: '1m', repeat: true, rearmBy: '10' },
  { direction: 'BELOW', threshold: '42760', measure: 'MEAN', window: '1m', repeat: true },
  { direction: 'ABOVE', threshold: '42780', measure: 'VWAP', window: '10m', repeat: true, rearmBy: '5' },
  { direction: 'BELOW', threshold: '42850', measure: 'VWAP', window: 'all', repeat: true },
  { direction: 'ABOVE', threshold: '43000', measure: 'MEAN', window: '10m' },
  { direction: 'BELOW', threshold: '42700.123456789012345678', measure: 'LAST' },
  { direction: 'ABOVE', threshold: '1', measure: 'MEAN', window: 'all' },
  { direction: 'ABOVE', threshold: '999999', measure: 'LAST', repeat: true },
];

interface Seen {
  alertIndex: number;
  value: string;
  trade: { tradeId: string; price: string; size: string; side: string; time: string };
}

const seen = (trigger: BacktestTrigger): Seen => {
  const { tradeId, price, size, side, time } = trigger.trade;
  return {
    alertIndex: trigger.alertIndex,
    value: trigger.value,
    trade: { tradeId, price, size, side, time },
  };
};
const byTradeThenAlert = (a: Seen, b: Seen): number =>
  a.trade.time.localeCompare(b.trade.time) ||
  a.trade.tradeId.localeCompare(b.trade.tradeId) ||
  a.alertIndex - b.alertIndex;

// `recent`: the node recognises replayed appends as EventStoreDB does (recent event ids only); the tape
// is recorded a second time, long after, and must still count once.
describe.each(['full', 'recent'] as const)('backtest ≡ live (idempotency %s)', (idempotency) => {
  let store: TestStore;
  let reactor: Reactor;
  let dir: string;
  const live: Seen[] = [];

  beforeAll(async () => {
    store = await startTestStore({ idempotency, limits: { idempotencyCacheSize: 200 } });
    dir = await mkdtemp(join(tmpdir(), 'pricealert-backtest-'));
    await writeFile(join(dir, 'trades.csv'), toCsv(TRADES));
    reactor = await startReactor({
      client: store.client,
      config: { PRICEALERT_WINDOWS: WINDOWS },
      logger: createLogger('silent'),
    });
    await reactor.ready;
    for (const [index, alert] of ALERTS.entries()) {
      await createAlert(
        store.client,
        {
          ...(alert as Parameters<typeof createAlert>[1]),
          alertId: `eq-${index}`,
          userId: 'u1',
          product: PRODUCT,
          now: dateToIso(new Date()),
        },
        { products: PRODUCTS, windows: WINDOWS },
      );
    }
    // The reactor tells its listeners after settling each trade.
    let applied = 0;
    const allApplied = new Promise<void>((resolve) => {
      reactor.onChange(() => {
        applied += 1;
        if (applied === TRADES.length) resolve();
      });
    });
    // The feed's path: recordTrades in batches, while the reactor runs.
    for (let start = 0; start < TRADES.length; start += 500) {
      const summary = await recordTrades(store.client, TRADES.slice(start, start + 500), {
        products: PRODUCTS,
      });
      expect(summary.recorded).toBe(Math.min(500, TRADES.length - start));
    }
    await allApplied;
    // A feed replay of the whole tape from a process of its own (every id long out of the recent cache):
    // nothing new, so the reactor has nothing more to apply.
    const replay = connectClient(store.connectionString);
    const again = await recordTrades(replay, TRADES, { products: PRODUCTS });
    await replay.dispose();
    expect(again).toMatchObject({ recorded: 0, alreadyPresent: TRADES.length });
    // Applied is not yet written: the reactor writes a trade's alert changes while it takes the next
    // trades, so wait until it has settled the last one.
    const last = await lastEvent(store.client, tradeStream(PRODUCT));
    await reactor.caughtUpTo(last!.position!.commit);
    for (const index of ALERTS.keys()) {
      for await (const event of readStream(store.client, alertStream(`eq-${index}`))) {
        const parsed = parseEvent(event.type, event.data);
        if (parsed.ok && parsed.event.type === 'AlertTriggered') {
          const { value, trade } = parsed.event.data;
          live.push({ alertIndex: index, value, trade });
        }
      }
    }
    live.sort(byTradeThenAlert);
  }, 120_000);

  afterAll(async () => {
    await reactor?.stop();
    await store?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fires the same alerts on the same trades with the same values as the live reactor', async () => {
    const report = await backtestFromStore({
      client: store.client,
      product: PRODUCT,
      alerts: ALERTS,
      products: PRODUCTS,
      windows: WINDOWS,
    });
    expect(report.tradesReplayed).toBe(TRADES.length);
    // Not vacuous: repeat alerts fire again (so they re-armed), once-alerts once, the unreachable never.
    const fired = report.summary.map((entry) => entry.fired);
    expect(fired.slice(0, 5).every((count) => count >= 2)).toBe(true);
    expect(fired.slice(5, 9)).toEqual([1, 1, 1, 1]);
    expect(fired[9]).toBe(0);

    expect(report.triggers.map(seen).sort(byTradeThenAlert)).toEqual(live);
  });

  it('gives the same report from the CSV file of the same trades as from the store', async () => {
    const common = { product: PRODUCT, alerts: ALERTS, products: PRODUCTS, windows: WINDOWS };
    const fromStore = await backtestFromStore({ ...common, client: store.client });
    const fromFile = await backtestFromFile({ ...common, path: join(dir, 'trades.csv') });
    expect(fromFile.triggers).toEqual(fromStore.triggers);
    expect(fromFile.summary).toEqual(fromStore.summary);
  });

  it('agrees between file and store with from/to, the store seeking past the start', async () => {
    const from = TRADES[2_000]!.time;
    const to = TRADES[2_600]!.time;
    const common = {
      product: PRODUCT,
      alerts: ALERTS.slice(0, 4),
      products: PRODUCTS,
      windows: WINDOWS,
      from,
      to,
    };
    const fromStore = await backtestFromStore({ ...common, client: store.client });
    const fromFile = await backtestFromFile({ ...common, path: join(dir, 'trades.csv') });
    expect(fromStore.triggers.length).toBeGreaterThan(0);
    expect(fromFile.triggers).toEqual(fromStore.triggers);
    expect(
      fromStore.triggers.every((trigger) => trigger.triggeredAt >= from && trigger.triggeredAt <= to),
    ).toBe(true);
    // 10m of warm-up before `from` at about two trades a second, and the seek margin: far less than the stream.
    expect(fromStore.seek!.startRevision).toBeGreaterThan(0);
    // tradesReplayed counts the trades in [from, to]; the warm-up before them is counted apart.
    const inRange = TRADES.filter((trade) => trade.time >= from && trade.time <= to).length;
    expect(fromStore.tradesReplayed).toBe(inRange);
    expect(fromFile.tradesReplayed).toBe(inRange);
    expect(fromStore.warmUpTrades).toBeGreaterThan(0);
    expect(fromStore.warmUp.trades).toBe(fromStore.warmUpTrades);
    const upToTo = TRADES.filter((trade) => trade.time <= to).length;
    expect(fromStore.seek!.startRevision + fromStore.warmUpTrades + inRange).toBe(upToTo);
    expect(fromStore.warmUp.since! < from).toBe(true);
  });
});
