// The `price` subscription: the current figures first, then every change, shared by all its subscribers.
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
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

it('sends graphql-ws `next` frames for each subscription id, and none after the client completes one', async () => {
  const query = 'subscription { price(product: "ETH-USD", window: "all") { last count } }';
  await recordPrices(harness, feeder, ['2400'], 'ETH-USD');
  const socket = new WebSocket(harness.wsUrl, 'graphql-transport-ws');
  const frames: string[] = [];
  let arrived: () => void = () => {};
  socket.on('message', (data) => {
    frames.push(String(data));
    arrived();
  });
  const frame = async (matches: (text: string) => boolean): Promise<string> => {
    for (;;) {
      const found = frames.find(matches);
      if (found) return found;
      await new Promise<void>((resolve) => (arrived = resolve));
    }
  };
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await frame((text) => text.includes('connection_ack'));
  for (const id of ['a', 'b']) socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));

  const { price } = (await gql(harness.url, '{ price(product: "ETH-USD", window: "all") { last count } }'))
    .data!;
  const current = `{"data":{"price":${JSON.stringify(price)}}}`;
  expect(await frame((text) => text.startsWith('{"id":"a"'))).toBe(
    `{"id":"a","type":"next","payload":${current}}`,
  );
  expect(await frame((text) => text.startsWith('{"id":"b"'))).toBe(
    `{"id":"b","type":"next","payload":${current}}`,
  );

  socket.send(JSON.stringify({ id: 'a', type: 'complete' }));
  // A query after it on the same socket: once it completes, the server has handled the `complete`.
  socket.send(JSON.stringify({ id: 'barrier', type: 'subscribe', payload: { query: '{ products }' } }));
  await frame((text) => text === '{"id":"barrier","type":"complete"}');
  await recordPrices(harness, feeder, ['2500'], 'ETH-USD');
  const next = `{"data":{"price":{"last":"2500","count":${price.count + 1}}}}`;
  expect(await frame((text) => text.includes('2500'))).toBe(`{"id":"b","type":"next","payload":${next}}`);
  expect(frames.filter((text) => text.startsWith('{"id":"a"'))).toHaveLength(1);
  socket.close();
});
