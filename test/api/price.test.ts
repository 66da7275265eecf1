// The `price` subscription: the current figures first, then every change, shared by all its subscribers.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, gql, settled, startHarness, subscribe, type Harness } from './harness.ts';
import { recordPrices } from './trades.ts';

const PRICE = 'subscription { price(product: "ETH-USD", window: "all") { last count high low } }';

let harness: Harness;
let feeder: string;
beforeAll(async () => {
  harness = await startHarness();
  feeder = await harness.token('feeder', 'feeder');
});
afterAll(() => harness?.stop());

it('streams every change to each subscriber; a late one starts from the current figures', async () => {
  const first = connect(harness.wsUrl);
  const early = subscribe(first.client, PRICE);
  await settled(first.client);
  await recordPrices(harness, feeder, ['2000'], 'ETH-USD');
  expect((await early.next()).price).toEqual({ last: '2000', count: 1, high: '2000', low: '2000' });

  const second = connect(harness.wsUrl);
  const late = subscribe(second.client, PRICE);
  expect((await late.next()).price).toEqual({ last: '2000', count: 1, high: '2000', low: '2000' });

  await recordPrices(harness, feeder, ['2100.5'], 'ETH-USD');
  const expected = { last: '2100.5', count: 2, high: '2100.5', low: '2000' };
  expect((await early.next()).price).toEqual(expected);
  expect((await late.next()).price).toEqual(expected);

  // One subscriber leaving does not end the stream for the other.
  await first.dispose();
  await recordPrices(harness, feeder, ['1999'], 'ETH-USD');
  expect((await late.next()).price).toEqual({ last: '1999', count: 3, high: '2100.5', low: '1999' });
  const queried = await gql(harness.url, '{ price(product: "ETH-USD", window: "all") { last count } }');
  expect(queried.data!.price).toEqual({ last: '1999', count: 3 });
  await second.dispose();
});

it('refuses an unknown product or window on subscribing', async () => {
  const socket = connect(harness.wsUrl);
  const unknown = subscribe(socket.client, 'subscription { price(product: "XRP-USD") { last } }');
  expect(await unknown.error).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', field: 'product' } }]);
  const window = subscribe(
    socket.client,
    'subscription { price(product: "ETH-USD", window: "2h") { last } }',
  );
  expect(await window.error).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', field: 'window' } }]);
  await socket.dispose();
});
