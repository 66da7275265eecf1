// A local WebSocket server speaking the Coinbase Exchange feed protocol (subscribe → subscriptions,
// last_match, match, heartbeat, error), driven by the test: it sends what the test tells it to and
// drops connections on demand. Used by the connector tests and the feed benchmark.
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TradeInput } from '../../src/domain/types.ts';

export interface FakeConnection {
  /** The parsed subscribe request this connection sent. */
  subscribe: { type: string; product_ids: string[]; channels: unknown[] };
  send(frame: object | string): void;
  /** Sends a match (or last_match) for the trade; remembers its id for the heartbeats. */
  sendTrade(trade: TradeInput, type?: 'match' | 'last_match'): void;
  /** Stops this connection's heartbeats (the connection itself stays open). */
  silence(): void;
  /** Messages the client sent on this connection, the subscribe request included. */
  readonly received: number;
  /** Cuts the connection without a close handshake, as a network failure would. */
  drop(): void;
  readonly open: boolean;
}

export interface FakeCoinbase {
  url: string;
  /** Every subscribed connection so far, oldest first. */
  connections: FakeConnection[];
  /** Resolves with the n-th (1-based) connection once it has subscribed. */
  connection(n: number): Promise<FakeConnection>;
  close(): Promise<void>;
}

let sequence = 1_000;

export function matchMessage(
  trade: TradeInput,
  type: 'match' | 'last_match' = 'match',
): Record<string, unknown> {
  sequence += 3; // the matches channel skips the order-book messages' sequence numbers
  return {
    type,
    trade_id: Number(trade.tradeId),
    maker_order_id: 'ac928c66-ca53-498f-9c13-a110027a60e8',
    taker_order_id: '132fb6ae-456b-4654-b4e0-d681ac05cea1',
    side: trade.side,
    size: trade.size,
    price: trade.price,
    product_id: trade.product,
    sequence,
    time: trade.time,
  };
}

export async function startFakeCoinbase({
  heartbeatMs = 50,
}: { heartbeatMs?: number } = {}): Promise<FakeCoinbase> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const connections: FakeConnection[] = [];
  const waiters: (() => void)[] = [];
  const timers = new Set<NodeJS.Timeout>();

  server.on('connection', (socket: WebSocket) => {
    let received = 0;
    socket.on('message', () => (received += 1));
    socket.once('message', (data) => {
      const subscribe = JSON.parse(String(data)) as FakeConnection['subscribe'];
      const lastIds = new Map<string, number>();
      const send = (frame: object | string): void => {
        if (socket.readyState === socket.OPEN)
          socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
      };
      const heartbeat = setInterval(() => {
        for (const product of subscribe.product_ids) {
          send({
            type: 'heartbeat',
            sequence: (sequence += 1),
            last_trade_id: lastIds.get(product) ?? 0,
            product_id: product,
            time: new Date().toISOString(),
          });
        }
      }, heartbeatMs);
      timers.add(heartbeat);
      socket.once('close', () => clearInterval(heartbeat));
      send({
        type: 'subscriptions',
        channels: subscribe.channels.map((name) => ({ name, product_ids: subscribe.product_ids })),
      });
      connections.push({
        subscribe,
        send,
        sendTrade(trade, type = 'match') {
          lastIds.set(trade.product, Math.max(lastIds.get(trade.product) ?? 0, Number(trade.tradeId)));
          send(matchMessage(trade, type));
        },
        silence: () => clearInterval(heartbeat),
        drop: () => socket.terminate(),
        get received() {
          return received;
        },
        get open() {
          return socket.readyState === socket.OPEN;
        },
      });
      for (const wake of waiters.splice(0)) wake();
    });
  });

  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    async connection(n) {
      while (connections.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return connections[n - 1]!;
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A small tape of trades with consecutive ids per product, Coinbase-style. */
export function tape(
  product: string,
  fromId: number,
  count: number,
  startMs = Date.UTC(2026, 10, 26, 8, 0, 0),
): TradeInput[] {
  return Array.from({ length: count }, (_, index) => ({
    product,
    tradeId: String(fromId + index),
    price: (40_000 + ((index * 37) % 500) + 0.25).toFixed(2),
    size: (0.001 + (index % 7) / 1000).toFixed(8),
    side: index % 3 === 0 ? 'sell' : 'buy',
    time: new Date(startMs + index * 10).toISOString().replace('Z', '123Z'),
    source: 'coinbase',
  }));
}
