// Webhook delivery across a kill -9 of `pricealert serve` in the middle of a POST: after a restart (and
// the dead worker's shard leases expiring) every trigger reaches the receiver (the one under way at the
// kill is POSTed again), none is lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordTrades } from '../../src/domain/trades.ts';
import { eventually, gql } from '../api/harness.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { startReceiver, verifySignature, type Receiver } from '../webhooks/receiver.ts';
import { CREATE_ALERT, CREATE_WEBHOOK, DELIVERIES } from '../webhooks/setup.ts';
import { freePort, killAllServes, serve, token } from './process.ts';

const ALERTS = 4;
const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-webhooks-'));
let store: TestStore;
let receiver: Receiver;

beforeAll(async () => {
  store = await startTestStore();
});
afterAll(async () => {
  await killAllServes();
  await receiver?.close();
  await store?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

let tradeNumber = 0;
const trade = (price: string) =>
  recordTrades(
    store.client,
    [
      {
        product: 'BTC-USD',
        tradeId: `k${++tradeNumber}`,
        price,
        size: '1',
        side: 'buy',
        time: new Date(Date.UTC(2026, 10, 26, 9) + tradeNumber * 1000).toISOString(),
        source: 'test',
      },
    ],
    { products: ['BTC-USD'] },
  );

it('kill -9 of serve mid-delivery loses no trigger', { timeout: 120_000 }, async () => {
  const env = {
    PORT: String(await freePort()),
    EVENTSTORE_URL: store.connectionString,
    PRICEALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    PRICEALERT_WEBHOOK_RETRY: '50ms,500ms,24h',
    // A POST nobody answers times out after this.
    PRICEALERT_WEBHOOK_TIMEOUT: '1s',
  };
  const [alice = ''] = await token(dataDir, 'alice');
  let first = true;
  let killed: (() => void) | undefined;
  // The first request is held open, and serve is killed while it is; every later one is answered.
  receiver = await startReceiver(() => {
    if (!first) return 200;
    first = false;
    killed?.();
    return 'hang';
  });

  let served = await serve(dataDir, env);
  const created = await gql(served.url, CREATE_WEBHOOK, { url: `${receiver.origin}/hook` }, alice);
  expect(created.errors).toBeUndefined();
  const { secret, webhook } = created.data!.createWebhook as { secret: string; webhook: { id: string } };
  for (let index = 0; index < ALERTS; index += 1)
    expect(
      (await gql(served.url, CREATE_ALERT, { threshold: String(100 + index) }, alice)).errors,
    ).toBeUndefined();

  const exited = served.exited;
  const killedNow = new Promise<void>((resolve) => {
    killed = () => {
      served.process.kill('SIGKILL');
      resolve();
    };
  });
  await trade('120');
  await killedNow;
  await exited;
  // More triggers while no worker runs: they wait in the store.
  await trade('90');
  await trade('130');

  served = await serve(dataDir, env);
  const { triggers } = (await gql(served.url, '{ triggers { cursor } }', {}, alice)).data!;
  expect(triggers).toHaveLength(ALERTS * 2);
  const cursors = triggers.map((trigger: { cursor: string }) => trigger.cursor) as string[];
  await eventually(() => {
    const ids = new Set(receiver.received.map((request) => request.headers['webhook-id']));
    return cursors.every((cursor) => ids.has(cursor)) ? true : undefined;
  }, 30_000);
  for (const request of receiver.received) expect(verifySignature(secret, request)).toBe(true);

  const deliveries = await eventually(async () => {
    const list = (await gql(served.url, DELIVERIES, { id: webhook.id }, alice)).data!.webhookDeliveries as {
      id: string;
      outcome: string;
      attempts: { ok: boolean | null }[];
    }[];
    return list.length === cursors.length && list.every((delivery) => delivery.outcome === 'DELIVERED')
      ? list
      : undefined;
  });
  expect(deliveries.map((delivery) => delivery.id).sort()).toEqual([...cursors].sort());
  // The POST under way at the kill was never recorded: it was made again, and only that one shows.
  const interrupted = String(receiver.received[0]!.headers['webhook-id']);
  expect(receiver.received.filter((request) => request.headers['webhook-id'] === interrupted)).toHaveLength(
    2,
  );
  const record = deliveries.find((delivery) => delivery.id === interrupted);
  expect(record?.attempts.map((attempt) => attempt.ok)).toEqual([true]);
  served.process.kill('SIGTERM');
  await served.exited;
});
