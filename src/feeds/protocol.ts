// The Coinbase Exchange WebSocket feed protocol, as far as pricealert speaks it: the subscribe request
// and the messages it answers with, turned into typed frames. Pure: no socket, no clock, no logger.
//
// The server, after `{"type":"subscribe","product_ids":[…],"channels":["matches","heartbeat"]}`:
//   {"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]},…]}
//   {"type":"last_match","trade_id":20,"sequence":50,"product_id":"BTC-USD","price":"400.23","size":"0.5","side":"sell","time":"…"}
//   {"type":"match", …same fields…}                      one per executed trade, in trade_id order per product
//   {"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"…"}   every second per product
//   {"type":"error","message":"…","reason":"…"}            then, usually, the server closes the socket
// `side` is the maker order's side. `trade_id` counts up by one per product, so a jump is a lost trade;
// `sequence` also counts the order-book messages of the full channel, so on `matches` it jumps by design.
import type { RawData } from 'ws';
import { tradeProblem } from '../domain/trades.ts';
import type { TradeInput } from '../domain/types.ts';

const COINBASE_CHANNELS = ['matches', 'heartbeat'] as const;

export function subscribeRequest(products: readonly string[]): string {
  return JSON.stringify({ type: 'subscribe', product_ids: products, channels: COINBASE_CHANNELS });
}

export type CoinbaseFrame =
  | { type: 'trade'; trade: TradeInput; tradeId: number; sequence: number | undefined }
  | { type: 'heartbeat'; product: string; lastTradeId: number; sequence: number | undefined }
  | { type: 'subscriptions'; channels: { name: string; products: string[] }[] }
  | { type: 'error'; message: string; reason: string | undefined }
  | { type: 'unexpected'; messageType: string }
  | { type: 'malformed'; reason: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Coinbase trade ids are JSON numbers counting up per product; the connector relies on that for gaps. */
function numericTradeId(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

const optionalSequence = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;

/**
 * A Coinbase trade (a `match`/`last_match` message, or a REST `/products/{id}/trades` row) as a
 * TradeInput, or the reason it is not one. Shape only: what the values may be (tradeId's length and
 * characters, price, size, time) is the domain's to check, so that every path says it the same way.
 */
export function tradeFromCoinbase(
  message: Json,
  { product, source }: { product?: string | undefined; source: string },
): { trade: TradeInput } | { error: string } {
  const rawId = message.trade_id;
  // Files may carry ids as strings, and other venues' ids need not be numbers.
  const tradeId = numericTradeId(rawId) ?? (typeof rawId === 'string' ? rawId : undefined);
  if (tradeId === undefined) return { error: 'trade_id must be a non-negative integer or a string' };
  const productId = message.product_id ?? product;
  if (typeof productId !== 'string' || productId === '')
    return { error: 'no product (give product_id or --product)' };
  for (const field of ['price', 'size', 'time'] as const) {
    if (typeof message[field] !== 'string') return { error: `${field} must be a string` };
  }
  const side = message.side;
  if (side !== 'buy' && side !== 'sell') return { error: 'side must be "buy" or "sell"' };
  return {
    trade: {
      product: productId,
      tradeId: String(tradeId),
      price: message.price as string,
      size: message.size as string,
      side,
      time: message.time as string,
      source,
    },
  };
}

/** Frames from `ws` arrive as a Buffer, an ArrayBuffer, or (fragmented) a list of Buffers. */
export function frameText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export interface FrameContext {
  /** The products the store accepts; a match of any other is malformed. */
  products: readonly string[];
  /** Default `coinbase`. */
  source?: string;
}

/**
 * One feed message as a typed frame. A match becomes a `trade` frame only when the domain would record
 * it (configured product, price and size > 0, a valid time…): the connector moves its per-product
 * cursor on trade frames, so one it would move for a trade the store then refuses could hide every
 * real trade after it.
 */
export function parseCoinbaseFrame(
  text: string,
  { products, source = 'coinbase' }: FrameContext,
): CoinbaseFrame {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { type: 'malformed', reason: 'not JSON' };
  }
  if (!isObject(message)) return { type: 'malformed', reason: 'not a JSON object' };
  switch (message.type) {
    case 'match':
    case 'last_match': {
      if (typeof message.product_id !== 'string')
        return { type: 'malformed', reason: `${message.type} without product_id` };
      const tradeId = numericTradeId(message.trade_id);
      if (tradeId === undefined)
        return { type: 'malformed', reason: `${message.type}: trade_id must be a non-negative integer` };
      const parsed = tradeFromCoinbase(message, { source });
      if ('error' in parsed) return { type: 'malformed', reason: `${message.type}: ${parsed.error}` };
      const invalid = tradeProblem(parsed.trade, products);
      if (invalid) return { type: 'malformed', reason: `${message.type}: ${invalid}` };
      return { type: 'trade', trade: parsed.trade, tradeId, sequence: optionalSequence(message.sequence) };
    }
    case 'heartbeat': {
      const lastTradeId = numericTradeId(message.last_trade_id);
      if (typeof message.product_id !== 'string' || lastTradeId === undefined) {
        return { type: 'malformed', reason: 'heartbeat without product_id or last_trade_id' };
      }
      return {
        type: 'heartbeat',
        product: message.product_id,
        lastTradeId,
        sequence: optionalSequence(message.sequence),
      };
    }
    case 'subscriptions': {
      if (!Array.isArray(message.channels))
        return { type: 'malformed', reason: 'subscriptions without channels' };
      const channels = message.channels.filter(isObject).map((channel) => ({
        name: String(channel.name),
        products: Array.isArray(channel.product_ids) ? channel.product_ids.map(String) : [],
      }));
      return { type: 'subscriptions', channels };
    }
    case 'error':
      return {
        type: 'error',
        message: typeof message.message === 'string' ? message.message : 'unknown error',
        reason: typeof message.reason === 'string' ? message.reason : undefined,
      };
    default:
      return typeof message.type === 'string'
        ? { type: 'unexpected', messageType: message.type }
        : { type: 'malformed', reason: 'no message type' };
  }
}
