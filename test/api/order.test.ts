// Triggers in firing order: many alerts firing on neighbouring trades, written side by side by the
// reactor, reach `triggers` and a live `pricealert/client` consumer in the order a naive replay of
// the tape fires them — also for a consumer cut off as too slow, which resumes by itself.
import { createPriceAlertClient, type AlertTrigger } from 'pricealert/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SLOW_CONSUMER_CLOSE } from '../../src/api/outlets.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { eventually, gql, startHarness, type Harness } from './harness.ts';

interface TestAlert {
  direction: 'ABOVE' | 'BELOW';
  threshold: number;
}

/** A probe that fires on the first trade, then ABOVE and BELOW alerts all over the tape's range. */
const ALERTS: TestAlert[] = [
  { direction: 'ABOVE', threshold: 1 },
  ...Array.from({ length: 24 }, (_, index) => ({
    direction: index % 2 ? ('ABOVE' as const) : ('BELOW' as const),
    threshold: 100 + (index % 12),
  })),
];

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ maxBufferedBytes: 64 * 1024 });
});
afterAll(() => harness?.stop());

let tradeNumber = 0;
function tape(count: number, prefix: string): TradeInput[] {
  return Array.from({ length: count }, () => {
    tradeNumber += 1;
    return {
      product: 'BTC-USD',
      tradeId: `${prefix}${tradeNumber}`,
      price: String(97 + ((tradeNumber * 7919) % 18)),
      size: '1',
      side: 'buy',
      time: new Date(Date.UTC(2026, 10, 26, 9) + tradeNumber * 10).toISOString(),
      source: 'test',
    };
  });
}

/** Which alert fires on which trade: LAST, level-triggered, repeat with re-arm by 0, in creation order. */
function naive(alerts: TestAlert[], trades: TradeInput[]): { alert: number; tradeId: string }[] {
  const armed = alerts.map(() => true);
  const fired: { alert: number; tradeId: string }[] = [];
  for (const trade of trades) {
    const price = Number(trade.price);
    alerts.forEach(({ direction, threshold }, alert) => {
      const met = direction === 'ABOVE' ? price >= threshold : price <= threshold;
      if (armed[alert] && met) {
        armed[alert] = false;
        fired.push({ alert, tradeId: trade.tradeId });
      } else if (!armed[alert] && !met) armed[alert] = true;
    });
  }
  return fired;
}

async function createAlerts(token: string): Promise<string[]> {
  const ids: string[] = [];
  for (const { direction, threshold } of ALERTS) {
    const created = await gql(
      harness.url,
      `mutation { createAlert(input: { product: "BTC-USD", direction: ${direction}, threshold: "${threshold}", measure: LAST, repeat: true }) { id } }`,
      {},
      token,
    );
    if (created.errors) throw new Error(JSON.stringify(created.errors));
    ids.push(created.data!.createAlert.id as string);
  }
  return ids;
}

async function allTriggers(token: string): Promise<{ alertId: string; tradeId: string }[]> {
  const all: { alertId: string; tradeId: string }[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await gql(
      harness.url,
      'query($after: String) { triggers(after: $after, first: 1000) { cursor alert { id } trade { tradeId } } }',
      { after },
      token,
    );
    const triggers = page.data!.triggers as {
      cursor: string;
      alert: { id: string };
      trade: { tradeId: string };
    }[];
    all.push(...triggers.map((trigger) => ({ alertId: trigger.alert.id, tradeId: trigger.trade.tradeId })));
    if (triggers.length < 1000) return all;
    after = triggers.at(-1)!.cursor;
  }
}

const shape = (trigger: AlertTrigger) => ({ alertId: trigger.alert.id, tradeId: trigger.trade.tradeId });

it('hands out triggers in firing order, as a naive replay of the tape fires them', async () => {
  const olga = await harness.token('olga');
  const ids = await createAlerts(olga);
  const client = createPriceAlertClient({ url: harness.wsUrl, token: olga, webSocketImpl: WebSocket });
  const received: AlertTrigger[] = [];
  const stream = client.alertTriggered();
  const consuming = (async () => {
    for await (const trigger of stream) received.push(trigger);
  })();

  // The probe fires on the first trade: once it arrives, the live subscription is in place.
  const trades = tape(1, 'o');
  await recordTrades(harness.store.client, trades, { products: ['BTC-USD'] });
  await eventually(() => (received.length > 0 ? true : undefined));
  // Then the rest in large batches, so that the reactor's appends overlap.
  const rest = tape(600, 'o');
  trades.push(...rest);
  await recordTrades(harness.store.client, rest, { products: ['BTC-USD'] });

  const expected = naive(ALERTS, trades).map(({ alert, tradeId }) => ({ alertId: ids[alert]!, tradeId }));
  expect(expected.length).toBeGreaterThan(500);
  await eventually(() => (received.length >= expected.length ? true : undefined), 20_000);
  expect(received.map(shape)).toEqual(expected);
  expect(await allTriggers(olga)).toEqual(expected);

  await stream.return?.();
  await consuming;
  await client.dispose();
});

it('a consumer closed as too slow resumes by itself and misses nothing', async () => {
  const paul = await harness.token('paul');
  const ids = await createAlerts(paul);
  const sockets: WebSocket[] = [];
  class Recorded extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  const closes: number[] = [];
  const client = createPriceAlertClient({
    url: harness.wsUrl,
    token: paul,
    webSocketImpl: Recorded,
    graphqlWs: { on: { closed: (event) => closes.push((event as { code: number }).code) } },
  });
  const received: AlertTrigger[] = [];
  const stream = client.alertTriggered();
  const consuming = (async () => {
    for await (const trigger of stream) received.push(trigger);
  })();
  // Many price subscriptions on the same connection give it plenty to read.
  const prices = Array.from({ length: 90 }, () => client.price('BTC-USD', '1m'));
  const draining = prices.map(async (iterator) => {
    for await (const _ of iterator);
  });

  const trades = tape(1, 'p');
  await recordTrades(harness.store.client, trades, { products: ['BTC-USD'] });
  // 91 subscriptions on one socket start slowly on a loaded machine: allow it the long wait.
  await eventually(() => (received.length > 0 ? true : undefined), 30_000);
  sockets[0]!.pause();
  const rest = tape(400, 'p');
  trades.push(...rest);
  await recordTrades(harness.store.client, rest, { products: ['BTC-USD'] });
  sockets[0]!.resume();

  const expected = naive(ALERTS, trades).map(({ alert, tradeId }) => ({ alertId: ids[alert]!, tradeId }));
  await eventually(() => (received.length >= expected.length ? true : undefined), 30_000);
  expect(closes).toContain(SLOW_CONSUMER_CLOSE);
  expect(sockets.length).toBeGreaterThan(1);
  expect(received.map(shape)).toEqual(expected);

  await stream.return?.();
  await Promise.all(prices.map((iterator) => iterator.return?.()));
  await Promise.all([consuming, ...draining]);
  await client.dispose();
}, 90_000);
