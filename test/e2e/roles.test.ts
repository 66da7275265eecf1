// pricealert in roles, each part its own process: one `pricealert store`, two API replicas, two
// reactors and two feed connectors on one local Coinbase-protocol feed, stock `pricealert/client`
// consumers on both APIs. One reactor and one feed are killed -9 mid-tape. Every trade must be recorded
// once, every alert change written once and as a naive recomputation says, and every consumer on
// either API must get its user's triggers in firing order, with no gap and no repeat.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPriceAlertClient, type AlertTrigger, type PriceAlertClient } from 'pricealert/client';
import { afterAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AlertCreated, TradeRecorded } from '../../src/domain/events.ts';
import { connectClient, readAll, readStream } from '../../src/eventstore/store.ts';
import { eventually, gql } from '../api/harness.ts';
import { tape } from '../feeds/fakeCoinbase.ts';
import { triggersInFiringOrder } from '../helpers/firingOrder.ts';
import { changesOf, expectedChanges } from '../runtime/helpers.ts';
import { leaseHolders, PRODUCTS, startCluster, type Cluster } from './cluster.ts';
import { killAllServes, serve, token } from './process.ts';

const USERS = ['alice', 'bob'];
const TRADES_PER_PRODUCT = 400;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: Cluster | undefined;
const consumers: PriceAlertClient[] = [];
/** Consumers first, so that none is left retrying against a process that is gone. */
async function stopCluster(): Promise<void> {
  await Promise.all(consumers.splice(0).map((consumer) => consumer.dispose()));
  await cluster?.stop();
  cluster = undefined;
}
afterAll(async () => {
  await stopCluster();
  await killAllServes();
});

/** The events of a stream, oldest first. */
async function eventsOf<T>(stream: string, type: string): Promise<T[]> {
  const found: T[] = [];
  for await (const event of readStream(cluster!.client, stream)) {
    if (event.type === type) found.push(event.data as T);
  }
  return found;
}

it('one store, two APIs, two reactors, two feeds: kill -9 a reactor and a feed mid-tape, and nothing is lost, repeated or reordered', async () => {
  cluster = await startCluster();
  const { apis, reactors, feeds, coinbase, client } = cluster;

  // The reactors split the products: each holds one lease.
  const split = await eventually(async () => {
    const holders = await leaseHolders(client);
    const pids = new Set([...holders.values()].map((lease) => lease.pid));
    return holders.size === PRODUCTS.length && pids.size === 2 ? holders : undefined;
  }, 20_000);
  const reactorPids = reactors.map((reactor) => reactor.process.pid);
  // Processes without the API still answer a container's probes on PORT.
  for (const served of [...reactors, ...feeds]) {
    const base = served.url.replace(/\/health$/, '');
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect(await (await fetch(`${base}/ready`)).json()).toMatchObject({ status: 'ready' });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    // A reactor shows which product it decides: one each, once the split is balanced.
    const held =
      (await metrics.text()).match(/^pricealert_reactor_lease_held\{product="[A-Z-]+"\} 1$/gm) ?? [];
    expect(held).toHaveLength(reactors.includes(served) ? 1 : 0);
    expect((await fetch(`${base}/graphql`)).status).toBe(404);
  }
  for (const lease of split.values()) expect(reactorPids).toContain(lease.pid);

  // Each user's alerts, half created through each API: repeat alerts that fire and re-arm often.
  const tokens = new Map(
    await Promise.all(USERS.map(async (user) => [user, await cluster!.token(user)] as const)),
  );
  let created = 0;
  for (const user of USERS) {
    for (const product of PRODUCTS) {
      for (const [index, threshold] of ['40100', '40250', '40400'].entries()) {
        const measure = index === 1 ? 'MEAN' : 'LAST';
        const answer = await gql(
          apis[created++ % apis.length]!.url,
          `mutation { createAlert(input: { product: "${product}", direction: ${index === 2 ? 'BELOW' : 'ABOVE'}, threshold: "${threshold}", measure: ${measure}, window: "1m", repeat: true }) { id } }`,
          {},
          tokens.get(user),
        );
        expect(answer.errors).toBeUndefined();
      }
    }
  }

  // A consumer per user on each API, with graphql-ws's default retries and nothing of its own.
  const received = new Map<string, AlertTrigger[]>();
  for (const user of USERS) {
    for (const [index, api] of apis.entries()) {
      const consumer = createPriceAlertClient({
        url: api.url,
        token: tokens.get(user)!,
        webSocketImpl: WebSocket,
      });
      consumers.push(consumer);
      const list: AlertTrigger[] = [];
      received.set(`${user}@api${index + 1}`, list);
      void (async () => {
        for await (const trigger of consumer.alertTriggered()) list.push(trigger);
      })();
      // Answered once the subscription before it is registered (a socket's messages are handled in order).
      await consumer.request('{ products }');
    }
  }
  // Both APIs list each user's alerts alike.
  for (const user of USERS) {
    const lists = await Promise.all(
      apis.map((api) =>
        gql<{ alerts: { id: string }[] }>(api.url, '{ alerts { id status } }', {}, tokens.get(user)),
      ),
    );
    expect(lists[0]!.data!.alerts).toHaveLength(6);
    expect(lists[1]!.data).toEqual(lists[0]!.data);
  }

  // The tape, sent to every connected feed as Coinbase would; a reactor and a feed die halfway.
  const connections = await Promise.all(feeds.map((_, index) => coinbase.connection(index + 1)));
  const tapes = PRODUCTS.map((product) => tape(product, 1, TRADES_PER_PRODUCT));
  const victim = reactors[0]!;
  const victimProducts = [...split]
    .filter(([, lease]) => lease.pid === victim.process.pid)
    .map(([product]) => product);
  expect(victimProducts.length).toBeGreaterThan(0);
  let killedAt = 0;
  for (let index = 0; index < TRADES_PER_PRODUCT; index += 1) {
    for (const trades of tapes) for (const connection of connections) connection.sendTrade(trades[index]!);
    if (index === TRADES_PER_PRODUCT / 4) {
      killedAt = Date.now();
      victim.process.kill('SIGKILL');
      feeds[0]!.process.kill('SIGKILL');
    }
    await sleep(index % 2 === 0 ? 20 : 15);
  }
  await Promise.all([victim.exited, feeds[0]!.exited]);

  // The survivor took the victim's products over.
  const takeover = await eventually(async () => {
    const holders = await leaseHolders(client);
    const taken = victimProducts.map((product) => holders.get(product));
    return taken.every((lease) => lease?.pid === reactors[1]!.process.pid && lease?.takenAt)
      ? taken
      : undefined;
  }, 20_000);
  const takeoverMs = Math.max(...takeover.map((lease) => lease!.takenAt!.getTime() - killedAt));
  process.stdout.write(`takeover after kill -9: ${takeoverMs} ms (${victimProducts.join(', ')})\n`);

  // Every trade recorded once.
  for (const [index, product] of PRODUCTS.entries()) {
    const recorded = await eventually(async () => {
      const trades = await eventsOf<TradeRecorded>(`trades-${product}`, 'TradeRecorded');
      return trades.length >= TRADES_PER_PRODUCT ? trades : undefined;
    }, 20_000);
    expect(recorded.map((trade) => trade.tradeId)).toEqual(tapes[index]!.map((trade) => trade.tradeId));
  }

  // Every alert change written once, as a naive replay of the recorded trades says.
  const alerts: AlertCreated[] = [];
  const trades: TradeRecorded[] = [];
  for (const product of PRODUCTS)
    trades.push(...(await eventsOf<TradeRecorded>(`trades-${product}`, 'TradeRecorded')));
  for await (const event of readAll(client)) {
    if (event.type === 'AlertCreated') alerts.push(event.data as unknown as AlertCreated);
  }
  expect(alerts).toHaveLength(12);
  const expected = expectedChanges(alerts, trades);
  const written = async () =>
    new Map(
      await Promise.all(
        alerts.map(async (alert) => [alert.alertId, await changesOf(client, alert.alertId)] as const),
      ),
    );
  await eventually(async () => {
    const now = await written();
    return alerts.every((alert) => now.get(alert.alertId)!.length >= expected.get(alert.alertId)!.length)
      ? true
      : undefined;
  }, 30_000).catch(() => undefined);
  await sleep(500);
  const final = await written();
  for (const alert of alerts)
    expect(final.get(alert.alertId), alert.alertId).toEqual(expected.get(alert.alertId));

  // Every consumer on either API got its user's triggers in firing order, each once, with the same cursors.
  for (const user of USERS) {
    const inOrder = await triggersInFiringOrder(client, user);
    expect(inOrder.length).toBeGreaterThan(20);
    const lists = apis.map((_, index) => received.get(`${user}@api${index + 1}`)!);
    await eventually(
      () => (lists.every((list) => list.length >= inOrder.length) ? true : undefined),
      30_000,
    ).catch(() => undefined);
    await sleep(300);
    for (const list of lists) {
      expect(
        list.map((trigger) => ({
          alertId: trigger.alert.id,
          tradeId: trigger.trade.tradeId,
          value: trigger.value,
        })),
      ).toEqual(inOrder);
      expect(new Set(list.map((trigger) => trigger.cursor)).size).toBe(list.length);
    }
    expect(lists[1]!.map((trigger) => trigger.cursor)).toEqual(lists[0]!.map((trigger) => trigger.cursor));
    // …and both APIs answer queries alike: the alerts' state, the trigger history and its cursors.
    const answers = await Promise.all(
      apis.map((api) =>
        gql(
          api.url,
          '{ alerts { id status armed triggerCount lastTriggeredAt } triggers(first: 1000) { cursor alert { id } trade { tradeId } } }',
          {},
          tokens.get(user),
        ),
      ),
    );
    expect(answers[0]!.errors).toBeUndefined();
    expect(answers[1]).toEqual(answers[0]);
    expect(
      (answers[0]!.data as { triggers: { cursor: string }[] }).triggers.map((trigger) => trigger.cursor),
    ).toEqual(lists[0]!.map((trigger) => trigger.cursor));
  }
  await stopCluster();
}, 240_000);

it('without EVENTSTORE_URL, roles on one data dir share its node; a reactor stopped with SIGTERM releases its leases', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-roles-embedded-'));
  try {
    const env = { PRICEALERT_PRODUCTS: 'BTC-USD', PRICEALERT_JWT_SECRET: '' };
    // The API starts the data dir's node; the reactor finds it running and uses it.
    const api = await serve(dataDir, env, ['--role', 'api']);
    const reactor = await serve(dataDir, env, ['--role', 'reactor']);
    const [[alice = ''], [feeder = '']] = await Promise.all([
      token(dataDir, 'alice'),
      token(dataDir, 'feeder-1', '--role', 'feeder'),
    ]);
    const created = await gql(
      api.url,
      'mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "100", measure: LAST }) { id } }',
      {},
      alice,
    );
    expect(created.errors).toBeUndefined();
    const recorded = await gql(
      api.url,
      'mutation { recordTrade(input: { product: "BTC-USD", tradeId: "e1", price: "150", size: "1", side: "buy", time: "2026-11-26T09:00:00Z" }) { tradeId } }',
      {},
      feeder,
    );
    expect(recorded.errors).toBeUndefined();
    // The reactor process decides; the API process shows it.
    const fired = await eventually(async () => {
      const answer = await gql<{ triggers: { trade: { tradeId: string } }[] }>(
        api.url,
        '{ triggers { trade { tradeId } } }',
        {},
        alice,
      );
      return answer.data?.triggers.length ? answer.data.triggers : undefined;
    });
    expect(fired).toEqual([{ trade: { tradeId: 'e1' } }]);

    const { connectionString } = JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8')) as {
      connectionString: string;
    };
    const client = connectClient(connectionString);
    try {
      const held = (await leaseHolders(client)).get('BTC-USD');
      expect(held?.pid).toBe(reactor.process.pid);
      reactor.process.kill('SIGTERM');
      expect(await reactor.exited).toBe(0);
      const after = (await leaseHolders(client)).get('BTC-USD');
      expect(after).toMatchObject({ type: 'ReactorLeaseReleased', holder: held!.holder });
    } finally {
      await client.dispose();
    }
    api.process.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);
