import { describe, expect, it } from 'vitest';
import { parseCoinbaseFrame as parseFrame, subscribeRequest } from '../../src/feeds/protocol.ts';

const parseCoinbaseFrame = (text: string) => parseFrame(text, { products: ['BTC-USD', 'ETH-USD'] });

const match = {
  type: 'match',
  trade_id: 10,
  maker_order_id: 'ac928c66-ca53-498f-9c13-a110027a60e8',
  taker_order_id: '132fb6ae-456b-4654-b4e0-d681ac05cea1',
  side: 'sell',
  size: '5.23512',
  price: '400.23',
  product_id: 'BTC-USD',
  sequence: 50,
  time: '2014-11-07T08:19:27.028459Z',
};

describe('Coinbase feed protocol', () => {
  it('asks for the matches and heartbeat channels of the products', () => {
    expect(JSON.parse(subscribeRequest(['BTC-USD', 'ETH-USD']))).toEqual({
      type: 'subscribe',
      product_ids: ['BTC-USD', 'ETH-USD'],
      channels: ['matches', 'heartbeat'],
    });
  });

  it('reads match and last_match as trades with the maker side as given', () => {
    for (const type of ['match', 'last_match']) {
      expect(parseCoinbaseFrame(JSON.stringify({ ...match, type }))).toEqual({
        type: 'trade',
        tradeId: 10,
        sequence: 50,
        trade: {
          product: 'BTC-USD',
          tradeId: '10',
          price: '400.23',
          size: '5.23512',
          side: 'sell',
          time: '2014-11-07T08:19:27.028459Z',
          source: 'coinbase',
        },
      });
    }
  });

  it('reads heartbeats, subscriptions and errors', () => {
    expect(
      parseCoinbaseFrame(
        '{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}',
      ),
    ).toEqual({ type: 'heartbeat', product: 'BTC-USD', lastTradeId: 20, sequence: 90 });
    expect(
      parseCoinbaseFrame(
        '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]}]}',
      ),
    ).toEqual({
      type: 'subscriptions',
      channels: [{ name: 'matches', products: ['BTC-USD'] }],
    });
    expect(
      parseCoinbaseFrame(
        '{"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}',
      ),
    ).toEqual({
      type: 'error',
      message: 'Failed to subscribe',
      reason: 'BTC-XYZ is not a valid product',
    });
  });

  it('calls everything else unexpected or malformed, with a reason', () => {
    expect(parseCoinbaseFrame('{"type":"ticker"}')).toEqual({ type: 'unexpected', messageType: 'ticker' });
    expect(parseCoinbaseFrame('{oops')).toMatchObject({ type: 'malformed', reason: 'not JSON' });
    expect(parseCoinbaseFrame('null')).toMatchObject({ type: 'malformed' });
    expect(parseCoinbaseFrame(JSON.stringify({ ...match, trade_id: 1e300 }))).toMatchObject({
      type: 'malformed',
      reason: expect.stringContaining('trade_id'),
    });
    expect(parseCoinbaseFrame(JSON.stringify({ ...match, side: 'hold' }))).toMatchObject({
      type: 'malformed',
      reason: expect.stringContaining('side'),
    });
    expect(parseCoinbaseFrame(JSON.stringify({ ...match, price: 400.23 }))).toMatchObject({
      type: 'malformed',
      reason: expect.stringContaining('price'),
    });
    expect(parseCoinbaseFrame(JSON.stringify({ ...match, product_id: undefined }))).toMatchObject({
      type: 'malformed',
    });
  });

  it('calls a match the store would refuse malformed, with the field at fault', () => {
    const refused = (fields: object) => parseCoinbaseFrame(JSON.stringify({ ...match, ...fields }));
    expect(refused({ price: '-5.00' })).toEqual({
      type: 'malformed',
      reason: expect.stringMatching(/^match: price: /),
    });
    expect(refused({ size: '0' })).toMatchObject({ reason: expect.stringMatching(/^match: size: /) });
    expect(refused({ time: 'yesterday' })).toMatchObject({ reason: expect.stringMatching(/^match: time: /) });
    expect(refused({ product_id: 'DOGE-USD' })).toMatchObject({
      reason: expect.stringMatching(/^match: product: DOGE-USD is not a configured product/),
    });
    expect(refused({ trade_id: -1 })).toMatchObject({ type: 'malformed' });
    expect(refused({ trade_id: 2 ** 53 })).toMatchObject({ type: 'malformed' });
    expect(refused({ trade_id: 10.5 })).toMatchObject({ type: 'malformed' });
  });
});
