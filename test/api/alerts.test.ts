// Alerts end to end over real HTTP and WebSocket: create, trigger, list, cancel, and who may see what.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codes,
  connect,
  eventually,
  gql,
  settled,
  startHarness,
  subscribe,
  type Harness,
  type WsConnection,
} from './harness.ts';
import { recordPrices } from './trades.ts';

const CREATE = `mutation($input: CreateAlertInput!) { createAlert(input: $input) { id status armed threshold measure window repeat rearmBy triggerCount createdAt } }`;
const TRIGGERED = `subscription($after: String) { alertTriggered(after: $after) { cursor value triggeredAt alert { id status triggerCount } trade { product tradeId price size side time } } }`;

describe('alerts over the API', () => {
  let harness: Harness;
  let alice: string;
  let bob: string;
  let feeder: string;
  const connections: WsConnection[] = [];

  beforeAll(async () => {
    harness = await startHarness();
    [alice, bob, feeder] = await Promise.all([
      harness.token('alice'),
      harness.token('bob'),
      harness.token('feed-1', 'feeder'),
    ]);
  });
  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.dispose()));
    await harness?.stop();
  });

  const open = (token?: string, key?: string): WsConnection => {
    const connection = connect(harness.wsUrl, token, key);
    connections.push(connection);
    return connection;
  };

  it('delivers a trigger to its owner only, with the measure value and the trade that caused it', async () => {
    const created = await gql(
      harness.url,
      CREATE,
      { input: { product: 'BTC-USD', direction: 'ABOVE', threshold: '100.50', measure: 'LAST' } },
      alice,
    );
    expect(created.errors).toBeUndefined();
    const alert = created.data!.createAlert;
    expect(alert).toMatchObject({
      status: 'ACTIVE',
      armed: true,
      threshold: '100.5',
      measure: 'LAST',
      repeat: false,
      rearmBy: '0',
      triggerCount: 0,
    });

    const [aliceSocket, bobSocket] = [open(alice), open(bob)];
    const aliceStream = subscribe(aliceSocket.client, TRIGGERED);
    const bobStream = subscribe(bobSocket.client, TRIGGERED);
    await Promise.all([settled(aliceSocket.client), settled(bobSocket.client)]);

    const [, firing] = await recordPrices(harness, feeder, ['100', '100.75']);
    const trigger = (await aliceStream.next()).alertTriggered;
    expect(trigger).toMatchObject({
      value: '100.75',
      alert: { id: alert.id, status: 'TRIGGERED', triggerCount: 1 },
      trade: { product: 'BTC-USD', tradeId: firing, price: '100.75', size: '0.5', side: 'buy' },
    });
    expect(trigger.trade.time).toMatch(/\.\d{6}Z$/);
    expect(typeof trigger.cursor).toBe('string');

    // Bob is subscribed too; a trigger of his own proves his stream works and got nothing of Alice's.
    await gql(
      harness.url,
      CREATE,
      { input: { product: 'BTC-USD', direction: 'BELOW', threshold: '50', measure: 'LAST' } },
      bob,
    );
    await recordPrices(harness, feeder, ['49']);
    const bobsFirst = (await bobStream.next()).alertTriggered;
    expect(bobsFirst.value).toBe('49');
    expect(bobsFirst.alert.id).not.toBe(alert.id);
    expect(aliceStream.pending).toHaveLength(0);
  });

  it('lists, reads and cancels the caller’s alerts; another user gets NOT_FOUND and sees nothing', async () => {
    const created = await gql(
      harness.url,
      CREATE,
      { input: { product: 'ETH-USD', direction: 'BELOW', threshold: '2000', note: 'buy the dip' } },
      alice,
    );
    const id = created.data!.createAlert.id as string;

    // Read your own write: the list answered right after createAlert already has the alert.
    const response = await gql(
      harness.url,
      '{ alerts(status: ACTIVE) { id note window measure } }',
      {},
      alice,
    );
    const listed = response.data!.alerts as { id: string }[];
    expect(listed.find((alert) => alert.id === id)).toEqual({
      id,
      note: 'buy the dip',
      window: '10m',
      measure: 'MEAN',
    });

    const bobsView = await gql(harness.url, `{ alert(id: "${id}") { id } alerts { id } }`, {}, bob);
    expect(bobsView.data!.alert).toBeNull();
    expect((bobsView.data!.alerts as { id: string }[]).map((alert) => alert.id)).not.toContain(id);

    const bobCancels = await gql(harness.url, `mutation { cancelAlert(id: "${id}") { id } }`, {}, bob);
    expect(codes(bobCancels)).toEqual(['NOT_FOUND']);

    const cancelled = await gql(
      harness.url,
      `mutation { cancelAlert(id: "${id}") { id status armed } }`,
      {},
      alice,
    );
    expect(cancelled.data!.cancelAlert).toEqual({ id, status: 'CANCELLED', armed: false });
    const read = await gql(harness.url, `{ alert(id: "${id}") { status } }`, {}, alice);
    expect(read.data!.alert).toEqual({ status: 'CANCELLED' });
  });

  it('pages through the caller’s triggers oldest first with triggers(after:)', async () => {
    await gql(
      harness.url,
      CREATE,
      { input: { product: 'ETH-USD', direction: 'ABOVE', threshold: '3000', measure: 'LAST', repeat: true } },
      alice,
    );
    await recordPrices(harness, feeder, ['3001', '2999', '3002', '2998', '3003'], 'ETH-USD');
    const all = await eventually(async () => {
      const response = await gql(
        harness.url,
        '{ triggers(first: 1000) { cursor value trade { product } } }',
        {},
        alice,
      );
      const triggers = response.data!.triggers as {
        cursor: string;
        value: string;
        trade: { product: string };
      }[];
      return triggers.filter((trigger) => trigger.trade.product === 'ETH-USD').length === 3
        ? triggers
        : undefined;
    });
    expect(
      all.filter((trigger) => trigger.trade.product === 'ETH-USD').map((trigger) => trigger.value),
    ).toEqual(['3001', '3002', '3003']);

    const firstPage = await gql(harness.url, '{ triggers(first: 2) { cursor value } }', {}, alice);
    const page = firstPage.data!.triggers as { cursor: string; value: string }[];
    expect(page).toEqual(all.slice(0, 2).map(({ cursor, value }) => ({ cursor, value })));
    const rest = await gql(harness.url, `{ triggers(after: "${page[1]!.cursor}") { value } }`, {}, alice);
    expect((rest.data!.triggers as { value: string }[]).map((trigger) => trigger.value)).toEqual(
      all.slice(2).map((trigger) => trigger.value),
    );

    const bobs = await gql(harness.url, '{ triggers { value trade { product } } }', {}, bob);
    expect((bobs.data!.triggers as { value: string }[]).map((trigger) => trigger.value)).toEqual(['49']);
  });

  it('needs a token for alerts and triggers, and the role feeder or admin to record trades', async () => {
    expect(codes(await gql(harness.url, '{ alerts { id } }'))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await gql(harness.url, '{ alerts { id } }', {}, 'not-a-token'))).toEqual([
      'UNAUTHENTICATED',
    ]);
    const expired = await harness.token('alice', 'user', -10);
    expect(codes(await gql(harness.url, '{ alerts { id } }', {}, expired))).toEqual(['UNAUTHENTICATED']);
    const input = {
      product: 'BTC-USD',
      tradeId: 'by-alice',
      price: '1',
      size: '1',
      side: 'buy',
      time: '2026-11-26T08:00:00Z',
    };
    const forbidden = await gql(
      harness.url,
      'mutation($input: RecordTradeInput!) { recordTrade(input: $input) { tradeId } }',
      { input },
      alice,
    );
    expect(codes(forbidden)).toEqual(['FORBIDDEN']);
    const publicRead = await gql(
      harness.url,
      '{ products trades(product: "BTC-USD", last: 2) { tradeId } price(product: "BTC-USD", window: "all") { last count } }',
    );
    expect(publicRead.errors).toBeUndefined();
    expect(publicRead.data!.products).toEqual(['BTC-USD', 'ETH-USD']);
    expect(publicRead.data!.trades).toHaveLength(2);
  });

  it('runs a public backtest over the recorded trades with the live projection code', async () => {
    const response = await gql(
      harness.url,
      `query($input: BacktestInput!) { backtest(input: $input) { product tradesReplayed elapsedMs triggers { alertIndex value trade { price } } } }`,
      {
        input: {
          product: 'BTC-USD',
          alerts: [
            { direction: 'ABOVE', threshold: '100.5', measure: 'LAST' },
            { direction: 'BELOW', threshold: '10', measure: 'LAST' },
          ],
        },
      },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data!.backtest).toMatchObject({
      product: 'BTC-USD',
      tradesReplayed: 3,
      triggers: [{ alertIndex: 0, value: '100.75', trade: { price: '100.75' } }],
    });
  });

  it('accepts the token under connectionParams.Authorization too', async () => {
    const socket = open(alice, 'Authorization');
    const mine = subscribe(socket.client, '{ alerts { id } }');
    expect((await mine.next()).alerts.length).toBeGreaterThan(0);
  });

  it('closes a WebSocket with 4403 for a bad or expired token', async () => {
    expect((await open('garbage').closed).code).toBe(4403);
    expect((await open(await harness.token('alice', 'user', -10)).closed).code).toBe(4403);
  });

  it('refuses alertTriggered without a token and an unknown cursor', async () => {
    const anonymous = subscribe(open().client, TRIGGERED);
    expect(await anonymous.error).toMatchObject([{ extensions: { code: 'UNAUTHENTICATED' } }]);
    const badCursor = subscribe(open(alice).client, TRIGGERED, { after: 'nonsense' });
    expect(await badCursor.error).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', field: 'after' } }]);
  });
  it('pages through the caller’s alerts with first/after, and refuses an after that is not theirs', async () => {
    const carol = await harness.token('carol');
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const created = await gql(
        harness.url,
        CREATE,
        { input: { product: 'BTC-USD', direction: 'ABOVE', threshold: String(900_000 + index) } },
        carol,
      );
      ids.push(created.data!.createAlert.id as string);
    }
    const page = async (first: number, after?: string) =>
      gql(
        harness.url,
        'query($first: Int, $after: ID) { alerts(first: $first, after: $after) { id } }',
        { first, after },
        carol,
      );
    const firstTwo = await page(2);
    expect((firstTwo.data!.alerts as { id: string }[]).map((alert) => alert.id)).toEqual(ids.slice(0, 2));
    const rest = await page(10, ids[1]);
    expect((rest.data!.alerts as { id: string }[]).map((alert) => alert.id)).toEqual(ids.slice(2));
    expect(codes(await page(0))).toEqual(['BAD_USER_INPUT']);
    const alicesAlert = (await gql(harness.url, '{ alerts(first: 1) { id } }', {}, alice)).data!.alerts[0]
      .id as string;
    const foreign = await page(10, alicesAlert);
    expect(codes(foreign)).toEqual(['BAD_USER_INPUT']);
    expect(foreign.errors![0]!.extensions!.field).toBe('after');
  });
});
