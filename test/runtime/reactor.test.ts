import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelAlert, createAlert, type CreateAlertCommand } from '../../src/domain/alerts.ts';
import { DomainError } from '../../src/domain/errors.ts';
import type { AlertCreated, TradeRecorded } from '../../src/domain/events.ts';
import { formatMicros } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { appendToStream } from '../../src/eventstore/store.ts';
import { createLogger } from '../../src/logger.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { changesOf, expectedChanges, lastPosition, WINDOWS } from './helpers.ts';

const logger = createLogger(process.env.TEST_LOG ?? 'silent');
const config = { PRICEALERT_WINDOWS: WINDOWS };
const rules = { products: ['BTC-USD', 'ETH-USD'], windows: WINDOWS, activeCount: 0 };
const NOW = '2026-11-26T08:00:00.000000Z';
const T0 = Date.UTC(2026, 10, 26, 9) * 1000;

/** One trade a second from `startSecond` on (later tests start later, so their trades are not late ones). */
const tape = (prefix: string, prices: string[], product = 'BTC-USD', startSecond = 0): TradeInput[] =>
  prices.map((price, index) => ({
    product,
    tradeId: `${prefix}${index}`,
    price,
    size: '1',
    side: 'buy',
    time: formatMicros(T0 + (startSecond + index) * 1_000_000),
    source: 'test',
  }));
const asRecorded = (trades: TradeInput[]): TradeRecorded[] => trades.map((trade) => ({ ...trade }));

async function create(
  store: TestStore,
  command: Omit<CreateAlertCommand, 'userId' | 'now'>,
): Promise<AlertCreated> {
  const { state } = await createAlert(store.client, { userId: 'user-1', now: NOW, ...command }, rules);
  return state.created;
}

describe('alert reactor', () => {
  let store: TestStore;
  const reactors: Reactor[] = [];
  const start = async () => {
    const reactor = await startReactor({ client: store.client, config, logger, checkpointEveryMs: 50 });
    reactors.push(reactor);
    await reactor.ready;
    return reactor;
  };

  beforeAll(async () => {
    store = await startTestStore();
  });
  afterAll(async () => {
    await Promise.all(reactors.map((reactor) => reactor.stop()));
    await store?.stop();
  });

  it('given alerts and a tape, when the reactor runs, then exactly the expected changes are written', async () => {
    const alerts = [
      await create(store, {
        alertId: 'mean-above',
        product: 'BTC-USD',
        direction: 'ABOVE',
        threshold: '100',
        measure: 'MEAN',
        window: '1m',
      }),
      await create(store, {
        alertId: 'last-below',
        product: 'BTC-USD',
        direction: 'BELOW',
        threshold: '90',
        measure: 'LAST',
        repeat: true,
        rearmBy: '5',
      }),
      await create(store, { alertId: 'never', product: 'BTC-USD', direction: 'ABOVE', threshold: '1000' }),
      await create(store, {
        alertId: 'other-product',
        product: 'ETH-USD',
        direction: 'BELOW',
        threshold: '1000000',
        measure: 'LAST',
      }),
    ];
    const reactor = await start();
    const trades = tape('a', ['95', '105', '85', '92', '96', '89']);
    const summary = await recordTrades(store.client, trades, { products: rules.products });
    expect(summary).toEqual({ recorded: 6, alreadyPresent: 0, rejected: [] });
    await reactor.caughtUpTo(await lastPosition(store.client));

    expect(await changesOf(store.client, 'mean-above')).toEqual(['AlertTriggered a1']);
    expect(await changesOf(store.client, 'last-below')).toEqual([
      'AlertTriggered a2',
      'AlertRearmed a4',
      'AlertTriggered a5',
    ]);
    expect(await changesOf(store.client, 'never')).toEqual([]);
    expect(await changesOf(store.client, 'other-product')).toEqual([]);
    expect(expectedChanges(alerts.slice(0, 3), asRecorded(trades)).get('last-below')).toEqual([
      'AlertTriggered a2',
      'AlertRearmed a4',
      'AlertTriggered a5',
    ]);
    expect(reactor.views.alert('mean-above')).toMatchObject({
      status: 'TRIGGERED',
      triggerCount: 1,
      armed: false,
    });
    expect(reactor.views.alert('last-below')).toMatchObject({
      status: 'ACTIVE',
      triggerCount: 2,
      armed: false,
    });
    expect(reactor.views.price('BTC-USD', '1m')).toMatchObject({ count: 6, last: '89', mean: '93.66666667' });
    expect(reactor.views.activeAlertCount('user-1')).toBe(3);
  });

  it('given two reactors at once, when trades cross many alerts, then every change is written once', async () => {
    const alerts: AlertCreated[] = [];
    for (let index = 0; index < 20; index += 1) {
      alerts.push(
        await create(store, {
          alertId: `pair-${index}`,
          product: 'ETH-USD',
          direction: index % 2 ? 'ABOVE' : 'BELOW',
          threshold: String(95 + index / 2),
          measure: index % 3 === 0 ? 'LAST' : 'MEAN',
          window: '1m',
          repeat: index % 4 !== 0,
          rearmBy: '1',
        }),
      );
    }
    const [first, second] = [await start(), await start()];
    const prices = Array.from({ length: 60 }, (_, index) =>
      String(100 + Math.round(12 * Math.sin(index / 3))),
    );
    const trades = tape('p', prices, 'ETH-USD');
    await recordTrades(store.client, trades, { products: rules.products });
    const end = await lastPosition(store.client);
    await Promise.all([first!.caughtUpTo(end), second!.caughtUpTo(end)]);
    const expected = expectedChanges(alerts, asRecorded(trades));
    let total = 0;
    for (const alert of alerts) {
      const written = await changesOf(store.client, alert.alertId);
      expect(written).toEqual(expected.get(alert.alertId));
      total += written.length;
    }
    expect(total).toBeGreaterThan(20);
  });

  it('given room for only two waiting changes, when a burst of trades crosses many alerts, then every change is written once, in order', async () => {
    const alerts: AlertCreated[] = [];
    for (let index = 0; index < 16; index += 1) {
      alerts.push(
        await create(store, {
          alertId: `burst-${index}`,
          product: 'ETH-USD',
          direction: index % 2 ? 'ABOVE' : 'BELOW',
          threshold: String(96 + index / 2),
          measure: index % 3 === 0 ? 'MEAN' : 'LAST',
          window: '1m',
          repeat: index % 5 !== 0,
          rearmBy: '1',
        }),
      );
    }
    const reactor = await startReactor({ client: store.client, config, logger, maxWaitingChanges: 2 });
    reactors.push(reactor);
    await reactor.ready;
    const prices = Array.from({ length: 50 }, (_, index) =>
      String(100 + Math.round(10 * Math.sin(index / 2))),
    );
    const trades = tape('b', prices, 'ETH-USD', 3000);
    await recordTrades(store.client, trades, { products: rules.products });
    await reactor.caughtUpTo(await lastPosition(store.client));
    const expected = expectedChanges(alerts, asRecorded(trades));
    for (const alert of alerts)
      expect(await changesOf(store.client, alert.alertId)).toEqual(expected.get(alert.alertId));
    expect([...expected.values()].flat().length).toBeGreaterThan(50);
  });

  it('given a cancel racing a trigger, when both land, then exactly one of them takes effect', async () => {
    await start();
    const ids = Array.from({ length: 12 }, (_, index) => `race-${index}`);
    for (const alertId of ids)
      await create(store, {
        alertId,
        product: 'BTC-USD',
        direction: 'ABOVE',
        threshold: '1',
        measure: 'LAST',
      });
    const cancels = ids.map((alertId) =>
      cancelAlert(store.client, { alertId, userId: 'user-1', now: NOW }).then(
        () => 'cancelled',
        (error: unknown) =>
          error instanceof DomainError && error.code === 'CONFLICT' ? 'refused' : Promise.reject(error),
      ),
    );
    await recordTrades(store.client, tape('race', ['5'], 'BTC-USD', 500), { products: rules.products });
    const outcomes = await Promise.all(cancels);
    const end = await lastPosition(store.client);
    await Promise.all(reactors.map((reactor) => reactor.caughtUpTo(end)));
    for (const [index, alertId] of ids.entries()) {
      const written = await changesOf(store.client, alertId);
      expect(written).toEqual(
        outcomes[index] === 'cancelled' ? ['AlertCancelled'] : ['AlertTriggered race0'],
      );
    }
  });

  it('given malformed and unknown events in the store, when the reactor meets them, then it skips them and carries on', async () => {
    const reactor = await start();
    await create(store, {
      alertId: 'after-garbage',
      product: 'BTC-USD',
      direction: 'BELOW',
      threshold: '2',
      measure: 'LAST',
    });
    await appendToStream(store.client, 'trades-BTC-USD', {
      type: 'TradeRecorded',
      data: { product: 'BTC-USD', price: 'cheap' },
    });
    await appendToStream(store.client, 'alert-after-garbage', {
      type: 'AlertSnoozed',
      data: { alertId: 'after-garbage' },
    });
    await recordTrades(store.client, tape('g', ['1'], 'BTC-USD', 1000), { products: rules.products });
    await reactor.caughtUpTo(await lastPosition(store.client));
    expect(await changesOf(store.client, 'after-garbage')).toEqual(['AlertSnoozed', 'AlertTriggered g0']);
  });

  it('given an alert that expires, when its time passes, then AlertExpired is written and it never fires', async () => {
    const reactor = await startReactor({ client: store.client, config, logger, expiryEveryMs: 50 });
    reactors.push(reactor);
    await reactor.ready;
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    await createAlert(
      store.client,
      {
        alertId: 'short-lived',
        userId: 'user-2',
        product: 'ETH-USD',
        direction: 'ABOVE',
        threshold: '1000000000',
        measure: 'LAST',
        expiresAt,
        now: new Date().toISOString(),
      },
      rules,
    );
    for (
      let waited = 0;
      reactor.views.alert('short-lived')?.status !== 'EXPIRED' && waited < 100;
      waited += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(reactor.views.alert('short-lived')).toMatchObject({ status: 'EXPIRED', armed: false });
    await recordTrades(store.client, tape('late', ['2000000000'], 'ETH-USD', 2000), {
      products: rules.products,
    });
    await reactor.caughtUpTo(await lastPosition(store.client));
    expect(await changesOf(store.client, 'short-lived')).toEqual(['AlertExpired']);
    expect(reactor.views.activeAlertCount('user-2')).toBe(0);
  });

  it('given two reactors at once, when trades cross alerts of every condition, then every change is written once, decided again after each conflict', async () => {
    const conditions: Omit<CreateAlertCommand, 'userId' | 'now' | 'alertId' | 'product'>[] = [
      { condition: 'CROSS', direction: 'ABOVE', threshold: '104', measure: 'LAST', repeat: true },
      {
        condition: 'CROSS',
        direction: 'BELOW',
        threshold: '96',
        measure: 'LAST',
        repeat: true,
        cooldown: '30s',
      },
      { condition: 'MOVE', direction: 'ABOVE', percent: '3', window: '1m', repeat: true, cooldown: '5s' },
      { condition: 'MOVE', direction: 'BELOW', percent: '4', window: '1m', repeat: true },
      { condition: 'ENTER', low: '98', high: '102', measure: 'LAST', repeat: true, cooldown: '15s' },
      { condition: 'EXIT', low: '95', high: '105', measure: 'LAST', repeat: true },
      { direction: 'ABOVE', threshold: '106', measure: 'LAST', repeat: true, cooldown: '15s' },
    ];
    // Only these two race (the earlier tests' reactors would make it a crowd).
    await Promise.all(reactors.splice(0).map((reactor) => reactor.stop()));
    const alerts: AlertCreated[] = [];
    for (const [index, fields] of conditions.entries())
      alerts.push(await create(store, { ...fields, alertId: `cond-${index}`, product: 'ETH-USD' }));
    const [first, second] = [await start(), await start()];
    const prices = Array.from({ length: 80 }, (_, index) =>
      String(100 + Math.round(12 * Math.sin(index / 3))),
    );
    // Long after every other test's trades, so none of them is in these alerts' windows.
    const trades = tape('c', prices, 'ETH-USD', 6000);
    await recordTrades(store.client, trades, { products: rules.products });
    const end = await lastPosition(store.client);
    await Promise.all([first!.caughtUpTo(end), second!.caughtUpTo(end)]);
    const expected = expectedChanges(alerts, asRecorded(trades));
    const kinds = new Set<string>();
    for (const alert of alerts) {
      const written = await changesOf(store.client, alert.alertId);
      expect(written, alert.alertId).toEqual(expected.get(alert.alertId));
      expect(
        written.some((line) => line.startsWith('AlertTriggered')),
        alert.alertId,
      ).toBe(true);
      for (const line of written) kinds.add(line.split(' ')[0]!);
    }
    expect([...kinds].sort()).toEqual(['AlertDisarmed', 'AlertRearmed', 'AlertTriggered']);
    // The reactors raced: changes were refused to one of them and decided again from the stream.
    expect(first!.stats().alertChangeConflicts + second!.stats().alertChangeConflicts).toBeGreaterThan(0);
  }, 60_000);
});
