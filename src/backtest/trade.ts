// Trades as the replay meets them: decoded from TradeRecorded events or file lines, timed to the microsecond.
import { badInput } from '../domain/errors.ts';
import { parseEvent } from '../domain/events.ts';
import { parseTime, timeMicros, type TradeTime } from '../domain/time.ts';
import type { TradeInput } from '../domain/types.ts';
import type { StoredEvent } from '../eventstore/store.ts';
import type { BacktestTrade } from './report.ts';

/** A `from`/`to` bound: canonical text and micros. */
export type Bound = TradeTime;

export function parseBound(text: string, field: 'from' | 'to'): Bound {
  const time = parseTime(text);
  if (!time) throw badInput(field, 'must be an ISO-8601 time with a zone, e.g. 2026-11-20T00:00:00Z');
  return time;
}

/**
 * The trade an event holds, or undefined for one that is not a valid TradeRecorded: the live reactor
 * skips those (and logs them), so the replay skips them too.
 */
export function tradeFromEvent(type: string, data: unknown): TradeInput | undefined {
  const parsed = parseEvent(type, data);
  return parsed.ok && parsed.event.type === 'TradeRecorded' ? parsed.event.data : undefined;
}

/** {@link tradeFromEvent} of an event as the store port reads it. */
export const tradeFromStored = (event: StoredEvent): TradeInput | undefined =>
  event.isJson ? tradeFromEvent(event.type, event.data) : undefined;

export function tradeMicros(trade: TradeInput): number {
  const micros = timeMicros(trade.time);
  if (micros === undefined) throw new Error(`trade ${trade.tradeId} has an unreadable time ${trade.time}`);
  return micros;
}

/** The trade as GraphQL's `Trade` shows it. */
export const tradeView = (trade: TradeInput): BacktestTrade => ({
  product: trade.product,
  tradeId: trade.tradeId,
  price: trade.price,
  size: trade.size,
  side: trade.side,
  time: trade.time,
});
