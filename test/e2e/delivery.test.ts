// Trigger delivery as a user meets it: `pricealert serve` restarted with SIGTERM and killed with -9
// while trades flow and alerts fire, and a `pricealert/client` consumer with graphql-ws's default
// retries and no resume code of its own. It must see every trigger once, in firing order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPriceAlertClient, type AlertTrigger } from 'pricealert/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { eventually, gql } from '../api/harness.ts';
import { triggersInFiringOrder } from '../helpers/firingOrder.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { freePort, killAllServes, serve, token, type Served } from './process.ts';

const ALERTS = 12;
const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-delivery-'));
let store: TestStore;

beforeAll(async () => {
  store = await startTestStore();
});
afterAll(async () => {
  await killAllServes();
  await store?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

let tradeNumber = 0;
/** Prices that wander over all thresholds (100 … 111), so alerts fire and re-arm on neighbouring trades. */
function nextTrades(count: number): TradeInput[] {
  return Array.from({ length: count }, () => {
    tradeNumber += 1;
    return {
      product: 'BTC-USD',
      tradeId: `d${tradeNumber}`,
      price: String(95 + ((tradeNumber * 7919) % 22)),
      size: '1',
      side: 'buy',
      time: new Date(Date.UTC(2026, 10, 26, 9) + tradeNumber * 100).toISOString(),
      source: 'test',
    };
  });
}

it('a pricealert/client consumer sees every trigger once, in firing order, across SIGTERM and kill -9 restarts', async () => {
  const port = String(await freePort());
  const env = { PORT: port, EVENTSTORE_URL: store.connectionString };
  const start = async (): Promise<Served> => {
    return serve(dataDir, env);
  };
  const [[alice = '']] = await Promise.all([token(dataDir, 'alice')]);
  let server = await start();
  for (let index = 0; index < ALERTS; index += 1) {
    const created = await gql(
      server.url,
      `mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "${100 + index}", measure: LAST, repeat: true }) { id } }`,
      {},
      alice,
    );
    expect(created.errors).toBeUndefined();
  }

  const client = createPriceAlertClient({ url: server.url, token: alice, webSocketImpl: WebSocket });
  const received: AlertTrigger[] = [];
  const triggers = client.alertTriggered();
  const consuming = (async () => {
    for await (const trigger of triggers) received.push(trigger);
  })();
  // The subscription is live once a first trade's triggers arrive; from there everything counts.
  const firstTrade = nextTrades(1);
  firstTrade[0]!.price = '120';
  await recordTrades(store.client, firstTrade, { products: ['BTC-USD'] });
  await eventually(() => (received.length > 0 ? true : undefined));
  const startCursor = received[0]!.cursor;

  let pumping = true;
  const pump = (async () => {
    while (pumping) {
      await recordTrades(store.client, nextTrades(5), { products: ['BTC-USD'] });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(1_000);
  server.process.kill('SIGTERM');
  expect(await server.exited).toBe(0);
  server = await start();
  await sleep(1_500);
  server.process.kill('SIGKILL');
  await server.exited;
  server = await start();
  await sleep(1_000);
  pumping = false;
  await pump;

  // Everything the store says alice's alerts did from the first trigger received on, in firing order.
  const shape = (trigger: AlertTrigger) => ({
    alertId: trigger.alert.id,
    tradeId: trigger.trade.tradeId,
    value: trigger.value,
  });
  const first = shape(received[0]!);
  const expectedNow = async () => {
    const all = await triggersInFiringOrder(store.client, 'alice');
    return all.slice(
      all.findIndex((trigger) => trigger.alertId === first.alertId && trigger.tradeId === first.tradeId),
    );
  };
  await eventually(
    async () => ((await expectedNow()).length === received.length ? true : undefined),
    30_000,
  ).catch(() => undefined);
  await sleep(500);
  const expected = await expectedNow();
  expect(expected.length).toBeGreaterThan(50);
  expect(received.map(shape)).toEqual(expected);
  expect(new Set(received.map((trigger) => trigger.cursor)).size).toBe(received.length);
  expect(received[0]!.cursor).toBe(startCursor);

  await triggers.return?.();
  await consuming;
  await client.dispose();
  server.process.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}, 120_000);
