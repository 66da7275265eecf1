// The six events of CONTRACT §2 as TypeScript types and runtime schemas; the store's public schema.
import { z } from 'zod';
import { isDecimalString } from './decimal.ts';
import { parseTime } from './time.ts';
import type { EventType } from './types.ts';

const decimal = z.string().refine(isDecimalString, 'must be a plain decimal string');
const time = z.string().refine((text) => parseTime(text) !== undefined, 'must be an ISO-8601 UTC time');
const id = z.string().min(1);

export const tradeRecordedSchema = z.object({
  product: id,
  tradeId: id,
  price: decimal,
  size: decimal,
  side: z.enum(['buy', 'sell']),
  time,
  source: id,
});

/** What an alert watches; AlertTriggered repeats it so that a trigger reads on its own. */
const watched = {
  alertId: id,
  userId: id,
  product: id,
  direction: z.enum(['ABOVE', 'BELOW']),
  threshold: decimal,
  measure: z.enum(['LAST', 'MEAN', 'VWAP']),
  window: id,
};

export const alertCreatedSchema = z.object({
  ...watched,
  repeat: z.boolean(),
  rearmBy: decimal,
  expiresAt: time.optional(),
  note: z.string().optional(),
  createdAt: time,
});

export const alertCancelledSchema = z.object({ alertId: id, userId: id, cancelledAt: time });

export const alertTriggeredSchema = z.object({
  ...watched,
  value: decimal,
  trade: z.object({ tradeId: id, price: decimal, size: decimal, side: z.enum(['buy', 'sell']), time }),
  triggeredAt: time,
});

export const alertRearmedSchema = z.object({ alertId: id, value: decimal, tradeId: id, rearmedAt: time });

export const alertExpiredSchema = z.object({ alertId: id, expiredAt: time });

export type TradeRecorded = z.infer<typeof tradeRecordedSchema>;
export type AlertCreated = z.infer<typeof alertCreatedSchema>;
export type AlertCancelled = z.infer<typeof alertCancelledSchema>;
export type AlertTriggered = z.infer<typeof alertTriggeredSchema>;
export type AlertRearmed = z.infer<typeof alertRearmedSchema>;
export type AlertExpired = z.infer<typeof alertExpiredSchema>;

export type PriceAlertEvent =
  | { type: 'TradeRecorded'; data: TradeRecorded }
  | { type: 'AlertCreated'; data: AlertCreated }
  | { type: 'AlertCancelled'; data: AlertCancelled }
  | { type: 'AlertTriggered'; data: AlertTriggered }
  | { type: 'AlertRearmed'; data: AlertRearmed }
  | { type: 'AlertExpired'; data: AlertExpired };

/** The events of one alert's stream. */
export type AlertEvent = Exclude<PriceAlertEvent, { type: 'TradeRecorded' }>;

const schemas: { [K in EventType]: z.ZodType<Extract<PriceAlertEvent, { type: K }>['data']> } = {
  TradeRecorded: tradeRecordedSchema,
  AlertCreated: alertCreatedSchema,
  AlertCancelled: alertCancelledSchema,
  AlertTriggered: alertTriggeredSchema,
  AlertRearmed: alertRearmedSchema,
  AlertExpired: alertExpiredSchema,
};

export type ParsedEvent = { ok: true; event: PriceAlertEvent } | { ok: false; reason: string };

/** Checks a stored event against its schema; unknown types and malformed data come back as a reason, never a throw. */
export function parseEvent(type: string, data: unknown): ParsedEvent {
  if (!Object.hasOwn(schemas, type)) return { ok: false, reason: `unknown event type ${type}` };
  const result = schemas[type as EventType].safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      ok: false,
      reason: `malformed ${type}: ${issue?.path.join('.') || 'data'} ${issue?.message ?? ''}`.trim(),
    };
  }
  return { ok: true, event: { type, data: result.data } as PriceAlertEvent };
}
