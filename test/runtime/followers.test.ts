// The reactor following products it does not lead: it decides like their reactor, waits to see the
// outcome in `$all` instead of writing, and so releases the same triggers in the same order; when it
// takes a product over, it writes what is still missing, and nothing twice.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAlert } from '../../src/domain/alerts.ts';
import type { AlertCreated } from '../../src/domain/events.ts';
import { formatMicros } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { createLogger } from '../../src/logger.ts';
import type { Leadership } from '../../src/runtime/leases.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { changesOf, expectedChanges, lastPosition, WINDOWS } from './helpers.ts';

const logger = createLogger(process.env.TEST_LOG ?? 'silent');
const PRODUCTS = ['BTC-USD', 'ETH-USD'];
const rules = { products: PRODUCTS, windows: WINDOWS, activeCount: 0 };
const T0 = Date.UTC(2026, 10, 26, 9) * 1000;

let store: TestStore;
const reactors: Reactor[] = [];
beforeAll(async () => {
  store = await startTestStore();
});
afterAll(async () => {
  await Promise.all(reactors.map((reactor) => reactor.stop()));
  await store?.stop();
});

/** Leadership a test hands out and takes back by hand. */
function manual(...products: string[]): Leadership & { set(...products: string[]): void } {
  const led = new Set(products);
  const listeners = new Set<() => void>();
  return {
    leads: (product) => led.has(product),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(...next) {
      led.clear();
      for (const product of next) led.add(product);
      for (const listener of listeners) listener();
    },
  };
}

const start = async (options: { leadership?: Leadership; readOnly?: boolean }): Promise<Reactor> => {
  const reactor = await startReactor({
    client: store.client,
    config: { PRICEALERT_WINDOWS: WINDOWS },
    logger,
    checkpointEveryMs: 50,
    ...options,
  });
  reactors.push(reactor);
  await reactor.ready;
  return reactor;
};

let tradeNumber = 0;
/** Trades alternating between the products, prices wandering across every threshold. */
function trades(count: number): TradeInput[] {
  return Array.from({ length: count }, () => {
    tradeNumber += 1;
    return {
      product: PRODUCTS[tradeNumber % 2]!,
      tradeId: `f${tradeNumber}`,
      price: String(100 + Math.round(12 * Math.sin(tradeNumber / 3))),
      size: '1',
      side: 'buy',
      time: formatMicros(T0 + tradeNumber * 1_000_000),
      source: 'test',
    };
  });
}

/** A user's triggers as a reactor's trigger log has them: cursor keys and trades, in firing order. */
const triggersOf = (reactor: Reactor) => {
  const result = reactor.views.triggersAfter('user-1', undefined, 10_000);
  if (!result.ok) throw new Error('triggers evicted');
  return result.entries.map((entry) => ({
    key: `${entry.key.cause}/${entry.key.created}`,
    alertId: entry.event.alertId,
    tradeId: entry.event.trade.tradeId,
  }));
};

it('given one reactor per product and an API replica, every change is written once, by its product’s reactor, and all three release the same triggers', async () => {
  const alerts: AlertCreated[] = [];
  for (let index = 0; index < 16; index += 1) {
    const { state } = await createAlert(
      store.client,
      {
        userId: 'user-1',
        now: '2026-11-26T08:00:00.000000Z',
        alertId: `follow-${index}`,
        product: PRODUCTS[index % 2]!,
        direction: index % 4 < 2 ? 'ABOVE' : 'BELOW',
        threshold: String(94 + index),
        measure: 'LAST',
        window: '1m',
        repeat: index % 3 !== 0,
        rearmBy: '1',
      },
      rules,
    );
    alerts.push(state.created);
  }
  const btc = manual('BTC-USD');
  const eth = manual('ETH-USD');
  const [btcReactor, ethReactor, replica] = await Promise.all([
    start({ leadership: btc }),
    start({ leadership: eth }),
    start({ readOnly: true }),
  ]);

  const tape = trades(80);
  await recordTrades(store.client, tape.slice(0, 40), { products: PRODUCTS });
  const middle = await lastPosition(store.client);
  await Promise.all([btcReactor, ethReactor, replica].map((reactor) => reactor.caughtUpTo(middle)));

  // BTC's reactor goes away: nobody leads BTC, so the followers wait for its changes…
  const expected = expectedChanges(
    alerts,
    tape.map((trade) => ({ ...trade })),
  );
  const later = new Set(tape.slice(40).map((trade) => trade.tradeId));
  const btcPending = alerts.some(
    (alert) =>
      alert.product === 'BTC-USD' &&
      expected.get(alert.alertId)!.some((line) => later.has(line.split(' ')[1]!)),
  );
  expect(btcPending).toBe(true);
  btc.set();
  await recordTrades(store.client, tape.slice(40), { products: PRODUCTS });
  const end = await lastPosition(store.client);
  let replicaCaughtUp = false;
  void replica.caughtUpTo(end).then(() => (replicaCaughtUp = true));
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(replicaCaughtUp).toBe(false);
  // …until ETH's reactor takes BTC over and writes what is missing.
  eth.set('BTC-USD', 'ETH-USD');
  await Promise.all([btcReactor, ethReactor, replica].map((reactor) => reactor.caughtUpTo(end)));

  let btcWrites = 0;
  let ethWrites = 0;
  for (const alert of alerts) {
    const written = await changesOf(store.client, alert.alertId);
    expect(written, alert.alertId).toEqual(expected.get(alert.alertId));
    if (alert.product === 'ETH-USD') ethWrites += written.length;
    else btcWrites += written.length;
  }
  expect(btcWrites).toBeGreaterThan(0);
  expect(ethWrites).toBeGreaterThan(0);
  // The replica wrote nothing; BTC's reactor wrote only BTC changes, and only before it let go.
  expect(replica.stats().alertChangesWritten).toBe(0);
  expect(btcReactor.stats().alertChangesWritten).toBeLessThanOrEqual(btcWrites);
  expect(btcReactor.stats().alertChangesWritten + ethReactor.stats().alertChangesWritten).toBe(
    btcWrites + ethWrites,
  );
  expect(ethReactor.stats().alertChangesWritten).toBeGreaterThan(ethWrites);

  const fired = triggersOf(btcReactor);
  expect(fired.length).toBeGreaterThan(10);
  expect(triggersOf(ethReactor)).toEqual(fired);
  expect(triggersOf(replica)).toEqual(fired);
  for (const alert of alerts)
    expect(replica.views.alert(alert.alertId)).toEqual(btcReactor.views.alert(alert.alertId));
}, 60_000);
