// A client that stops reading is cut off with 4429 and does not hold up anyone else.
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { recordTrades } from '../../src/domain/trades.ts';
import { SLOW_CONSUMER_CLOSE } from '../../src/api/outlets.ts';
import { connect, settled, startHarness, subscribe, type Harness } from './harness.ts';

// Every field, so that each frame is a few hundred bytes and the kernel's socket buffers fill soon.
const PRICE =
  'subscription { price(product: "BTC-USD", window: "1m") { product window last mean vwap high low count volume time } }';
const SUBSCRIPTIONS = 95;
const TRADES = 400;

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ maxBufferedBytes: 64 * 1024 });
});
afterAll(() => harness?.stop());

/** A raw graphql-transport-ws client with many price subscriptions, so that it has a lot to read. */
async function greedyClient(): Promise<{
  socket: WebSocket;
  messages: () => number;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const socket = new WebSocket(harness.wsUrl, 'graphql-transport-ws');
  let count = 0;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise((resolve) => socket.once('open', resolve));
  let acknowledged: () => void = () => {};
  const ack = new Promise<void>((resolve) => (acknowledged = resolve));
  const ready = new Promise<void>((resolve) =>
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; id?: string };
      if (message.type === 'connection_ack') acknowledged();
      if (message.type === 'next') count += 1;
      if (message.type === 'complete' && message.id === 'barrier') resolve();
    }),
  );
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await ack;
  for (let id = 0; id < SUBSCRIPTIONS; id += 1)
    socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: PRICE } }));
  socket.send(JSON.stringify({ id: 'barrier', type: 'subscribe', payload: { query: '{ products }' } }));
  await ready;
  return { socket, messages: () => count, closed };
}

it('cuts off a client that stops reading while another keeps receiving every update', async () => {
  const slow = await greedyClient();
  slow.socket.pause();

  const fast = connect(harness.wsUrl);
  const prices = subscribe<{ price: { last: string; count: number } }>(fast.client, PRICE);
  await settled(fast.client);

  const base = Date.parse('2026-11-26T09:00:00Z');
  const trades = Array.from({ length: TRADES }, (_, index) => ({
    product: 'BTC-USD',
    tradeId: `slow-${index}`,
    price: String(1000 + index),
    size: '1',
    side: 'sell' as const,
    time: new Date(base + index).toISOString(),
    source: 'test',
  }));
  await recordTrades(harness.store.client, trades, { products: harness.config.PRICEALERT_PRODUCTS });

  // The reading client sees the figures move all the way to the last trade.
  for (;;) {
    const { price } = await prices.next();
    if (price.last === String(1000 + TRADES - 1)) break;
  }

  slow.socket.resume();
  const { code, reason } = await slow.closed;
  expect(code).toBe(SLOW_CONSUMER_CLOSE);
  expect(reason).toMatch(/resume/);
  expect(slow.messages()).toBeLessThan(SUBSCRIPTIONS * TRADES);
  // Operators see it in /metrics.
  const scraped = await (await fetch(new URL('/metrics', harness.url))).text();
  expect(scraped).toMatch(/^pricealert_api_slow_client_closes_total\{transport="ws"\} 1$/m);
  await fast.dispose();
});
