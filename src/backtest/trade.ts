// Trades as the replay meets them: decoded from TradeRecorded events or file lines, timed to the microsecond.
import type { ResolvedEvent } from '@eventstore/db-client';
import { badInput } from '../domain/errors.ts';
import { parseEvent } from '../domain/events.ts';
import { parseTime, timeMicros, type TradeTime } from '../domain/time.ts';
import type { TradeInput } from '../domain/types.ts';
import type { BacktestTrade } from './report.ts';

/** A `from`/`to` bound: canonical text and micros. */
export type Bound = TradeTime;

export function parseBound(text: string, field: 'from' | 'to'): Bound {
  const time = parseTime(text);
  if (!time) throw badInput(field, 'must be an ISO-8601 time with a zone, e.g. 2026-11-20T00:00:00Z');
  return time;
}

/** The stored trade; a malformed event stops the replay rather than being skipped silently. */
export function tradeFromEvent(resolved: ResolvedEvent): TradeInput {
  const event = resolved.event;
  if (!event) throw new Error('trade stream holds an unresolved link');
  const parsed = parseEvent(event.type, event.data);
  if (!parsed.ok || parsed.event.type !== 'TradeRecorded') {
    throw new Error(
      `${event.streamId}@${event.revision}: ${parsed.ok ? `unexpected ${event.type}` : parsed.reason}`,
    );
  }
  return parsed.event.data;
}

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
