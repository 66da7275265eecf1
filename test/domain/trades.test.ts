import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.ts';
import {
  decideRecordTrade,
  recordTrade,
  recordTrades,
  tradeEventId,
  tradeIndexStream,
} from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { appendToStream, connectClient, readStream, type StoreClient } from '../../src/eventstore/store.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const products = ['BTC-USD', 'ETH-USD'];
const input = (tradeId: string, more: Partial<TradeInput> = {}): TradeInput => ({
  product: 'BTC-USD',
  tradeId,
  price: '43250.10',
  size: '0.5',
  side: 'buy',
  time: '2026-11-26T08:16:27.123456Z',
  source: 'coinbase',
  ...more,
});

describe('decideRecordTrade', () => {
  it('given a valid trade, then one TradeRecorded with the v5 id of source:product:tradeId', () => {
    expect(decideRecordTrade(input('7'), products)).toEqual({
      id: tradeEventId('coinbase', 'BTC-USD', '7'),
      data: {
        product: 'BTC-USD',
        tradeId: '7',
        price: '43250.1',
        size: '0.5',
        side: 'buy',
        time: '2026-11-26T08:16:27.123456Z',
        source: 'coinbase',
      },
    });
    expect(tradeEventId('coinbase', 'BTC-USD', '7')).not.toBe(tradeEventId('api', 'BTC-USD', '7'));
  });
  it.each([
    [{ product: 'DOGE-USD' }, 'product'],
    [{ price: '0' }, 'price'],
    [{ size: '-1' }, 'size'],
    [{ side: 'hold' as 'buy' }, 'side'],
    [{ time: 'noon' }, 'time'],
    [{ tradeId: '' }, 'tradeId'],
  ] as const)('given %o, then it is rejected naming %s', (bad, field) => {
    expect(() => decideRecordTrade(input('1', bad), products)).toThrow(DomainError);
    try {
      decideRecordTrade(input('1', bad), products);
    } catch (error) {
      expect((error as DomainError).field).toBe(field);
    }
  });
});

/** Trade ids the recent mode remembers: a few batches push a trade out of it. */
const CACHE = 16;

// `full` is the embedded node's own idempotency; `recent` is EventStoreDB's (recent ids only), under
// which every guarantee here must hold too.
describe.each(['full', 'recent'] as const)(
  'recordTrades through the embedded node (idempotency %s)',
  (idempotency) => {
    let store: TestStore;
    const clients: StoreClient[] = [];
    beforeAll(async () => {
      store = await startTestStore({ idempotency, limits: { idempotencyCacheSize: CACHE } });
    });
    afterAll(async () => {
      await Promise.all(clients.map((client) => client.dispose()));
      await store?.stop();
    });
    /** Another process's connection: its own writer, knowing nothing of the stream yet. */
    const connect = (): StoreClient => {
      const client = connectClient(store.connectionString);
      clients.push(client);
      return client;
    };
    const stored = async (product: string): Promise<string[]> => {
      const ids: string[] = [];
      for await (const event of readStream(store.client, `trades-${product}`))
        if (event.type === 'TradeRecorded') ids.push((event.data as { tradeId: string }).tradeId);
      return ids;
    };
    /** Pushes every earlier event id out of the recent mode's cache. */
    const flushCache = () =>
      appendToStream(
        store.client,
        `filler-${randomUUID()}`,
        Array.from({ length: CACHE }, () => ({ type: 'Filler', data: {} })),
      );

    it('given a batch, when recorded twice and then overlapping, then each trade is stored once and counted honestly', async () => {
      const batch = ['1', '2', '3', '4'].map((id) => input(id));
      expect(
        await recordTrades(store.client, [...batch, input('bad', { price: 'x' })], { products }),
      ).toEqual({
        recorded: 4,
        alreadyPresent: 0,
        rejected: [{ index: 4, reason: 'price: must be a decimal number greater than 0' }],
      });
      expect(await recordTrades(store.client, batch, { products })).toEqual({
        recorded: 0,
        alreadyPresent: 4,
        rejected: [],
      });
      // Some old, some new, interleaved, one twice: only the new are appended.
      const mixed = ['5', '2', '6', '4', '7', '7'].map((id) => input(id));
      expect(await recordTrades(store.client, mixed, { products })).toEqual({
        recorded: 3,
        alreadyPresent: 3,
        rejected: [],
      });
      expect(await stored('BTC-USD')).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    });

    it('given a trade from another source with the same id, then it is another trade', async () => {
      const first = await recordTrade(store.client, input('x', { product: 'ETH-USD', source: 'api' }), {
        products,
      });
      const again = await recordTrade(store.client, input('x', { product: 'ETH-USD', source: 'api' }), {
        products,
      });
      const other = await recordTrade(store.client, input('x', { product: 'ETH-USD' }), { products });
      expect([first.recorded, again.recorded, other.recorded]).toEqual([true, false, true]);
    });

    it('given trades appended by someone else in between, then the counts still hold', async () => {
      await appendToStream(store.client, 'trades-BTC-USD', { type: 'SomethingElse', data: {} });
      expect(
        await recordTrades(
          store.client,
          ['8', '1'].map((id) => input(id)),
          { products },
        ),
      ).toEqual({ recorded: 1, alreadyPresent: 1, rejected: [] });
    });

    it('given trades recorded long ago, when recorded again from another process, then they are already present', async () => {
      const product = 'ETH-USD';
      const old = ['100', '101', '102'].map((id) => input(id, { product }));
      await recordTrades(store.client, old, { products });
      await flushCache();
      const later = connect();
      expect(await recordTrades(later, [...old, input('103', { product })], { products })).toEqual({
        recorded: 1,
        alreadyPresent: 3,
        rejected: [],
      });
      // And the writer that knew the stream learns of 103 when its own append meets it.
      expect(
        await recordTrades(
          store.client,
          ['103', '104'].map((id) => input(id, { product })),
          { products },
        ),
      ).toMatchObject({ recorded: 1, alreadyPresent: 1 });
      const stale = await recordTrade(later, input('104', { product }), { products });
      expect(stale.recorded).toBe(false);
      expect((await stored(product)).filter((id) => id.startsWith('10'))).toEqual([
        '100',
        '101',
        '102',
        '103',
        '104',
      ]);
    });

    it('given a duplicate long after, then recordTrade answers with the stored values and names what differs', async () => {
      await recordTrade(store.client, input('500', { price: '1.5', size: '2' }), { products });
      await flushCache();
      const outcome = await recordTrade(connect(), input('500', { price: '1.6', size: '2' }), { products });
      expect(outcome).toMatchObject({ recorded: false, conflictingFields: ['price'] });
      expect(outcome.trade).toMatchObject({ tradeId: '500', price: '1.5', size: '2' });
    });

    it('given an append whose answer was lost, when the writer tries again, then the trades are stored once', async () => {
      const product = 'BTC-USD';
      const writer = connect();
      await recordTrades(writer, [input('600', { product })], { products });
      // What the writer will append next, already in the stream at the revision it expects: as if its
      // append had been written and only the answer lost.
      const next = ['601', '602'].map((id) => decideRecordTrade(input(id, { product }), products));
      await appendToStream(
        store.client,
        'trades-BTC-USD',
        next.map(({ id, data }) => ({ id, type: 'TradeRecorded', data })),
      );
      await flushCache();
      await recordTrades(
        writer,
        next.map(({ data }) => input(data.tradeId, { product })),
        { products },
      );
      expect((await stored(product)).filter((id) => id.startsWith('60'))).toEqual(['600', '601', '602']);
    });

    it('given two writers recording the same trades at once, then each trade is stored once', async () => {
      const product = 'ETH-USD';
      const tape = Array.from({ length: 1200 }, (_, n) => input(String(10_000 + n), { product }));
      const [a, b] = [connect(), connect()];
      // Two feed connectors on the same product, in batches of their own sizes, b starting a little later.
      const feed = async (client: StoreClient, size: number, from: number) => {
        let recorded = 0;
        for (let start = from; start < tape.length; start += size)
          recorded += (await recordTrades(client, tape.slice(start, start + size), { products })).recorded;
        return recorded;
      };
      const [byA, byB] = await Promise.all([feed(a, 50, 0), feed(b, 70, 30)]);
      const ids = (await stored(product)).filter((id) => Number(id) >= 10_000);
      expect(ids.length).toBe(tape.length);
      expect(new Set(ids).size).toBe(tape.length);
      // Both worked: neither writer recorded everything alone.
      expect(byA).toBeGreaterThan(0);
      expect(byB).toBeGreaterThan(0);
      expect(byA + byB).toBeGreaterThanOrEqual(tape.length);
    });
  },
);

describe('the trade index snapshot', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await startTestStore({ idempotency: 'recent', limits: { idempotencyCacheSize: CACHE } });
  });
  afterAll(() => store?.stop());
  const snapshots = async (): Promise<{ revision: string }[]> => {
    const found: { revision: string }[] = [];
    for await (const event of readStream(store.client, tradeIndexStream('trades-BTC-USD')))
      found.push(event.data as { revision: string });
    return found;
  };

  it('is written every 10,000 events, and a new writer starting from it, or from garbage, records each trade once', async () => {
    const tape = Array.from({ length: 10_100 }, (_, n) => input(String(1 + n)));
    expect(await recordTrades(store.client, tape, { products })).toMatchObject({ recorded: 10_100 });
    expect(await snapshots()).toEqual([expect.objectContaining({ revision: '9999' })]);

    const fromSnapshot = connectClient(store.connectionString);
    const again = await recordTrades(fromSnapshot, [...tape.slice(9_990), input('10101')], { products });
    expect(again).toMatchObject({ recorded: 1, alreadyPresent: 110 });
    await fromSnapshot.dispose();

    // Something else wrote to the side stream: not a snapshot, so the next writer reads the whole stream.
    await appendToStream(store.client, tradeIndexStream('trades-BTC-USD'), {
      type: 'TradeIndexSnapshot',
      data: { revision: '5', index: { sources: { coinbase: 7 } } },
    });
    const fromGarbage = connectClient(store.connectionString);
    const third = await recordTrades(fromGarbage, [input('17'), input('10102')], { products });
    expect(third).toMatchObject({ recorded: 1, alreadyPresent: 1 });
    await fromGarbage.dispose();
    expect(await stored()).toHaveLength(10_102);
  }, 60_000);

  const stored = async (): Promise<string[]> => {
    const ids: string[] = [];
    for await (const event of readStream(store.client, 'trades-BTC-USD'))
      ids.push((event.data as { tradeId: string }).tradeId);
    return ids;
  };
});
