import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.ts';
import { appendToStream } from '../../src/eventstore/store.ts';
import { decideRecordTrade, recordTrade, recordTrades, tradeEventId } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
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

describe('recordTrades through the embedded node', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await startTestStore();
  });
  afterAll(async () => {
    await store?.stop();
  });
  const stored = async (product: string): Promise<string[]> => {
    const ids: string[] = [];
    for await (const resolved of store.client.readStream(`trades-${product}`))
      ids.push((resolved.event!.data as { tradeId: string }).tradeId);
    return ids;
  };

  it('given a batch, when recorded twice and then overlapping, then each trade is stored once and counted honestly', async () => {
    const batch = ['1', '2', '3', '4'].map((id) => input(id));
    expect(await recordTrades(store.client, [...batch, input('bad', { price: 'x' })], { products })).toEqual({
      recorded: 4,
      alreadyPresent: 0,
      rejected: [{ index: 4, reason: 'price: must be a decimal number greater than 0' }],
    });
    expect(await recordTrades(store.client, batch, { products })).toEqual({
      recorded: 0,
      alreadyPresent: 4,
      rejected: [],
    });
    // Some old, some new, interleaved: the node refuses the whole batch; finer appends record each once.
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
});
