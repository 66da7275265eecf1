// The events of CONTRACT §2 (and AlertDisarmed, README "Conditions") as TypeScript types and runtime schemas; the store's public schema.
import { z } from 'zod';
import { isDecimalString } from './decimal.ts';
import { parseTime } from './time.ts';
import { windowMillis } from '../config.ts';
import { CONDITION_FIELDS, CONDITIONS, type EventType } from './types.ts';

const decimal = z.string().refine(isDecimalString, 'must be a plain decimal string');
/** A measure value: a MOVE alert's is a percentage, negative for a fall. */
const value = z
  .string()
  .refine((text) => isDecimalString(text.startsWith('-') ? text.slice(1) : text), 'must be a decimal string');
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

/**
 * What an alert watches; AlertTriggered repeats it so that a trigger reads on its own. `condition` is
 * left out for LEVEL (events written before conditions existed mean LEVEL), and each condition carries
 * only the fields it uses: direction and threshold (LEVEL, CROSS), direction and percent (MOVE), low
 * and high (ENTER, EXIT).
 */
const watched = {
  alertId: id,
  userId: id,
  product: id,
  condition: z.enum(CONDITIONS).optional(),
  direction: z.enum(['ABOVE', 'BELOW']).optional(),
  threshold: decimal.optional(),
  percent: decimal.optional(),
  low: decimal.optional(),
  high: decimal.optional(),
  measure: z.enum(['LAST', 'MEAN', 'VWAP']),
  window: id,
};

const conditionFields = (
  data: { condition?: (typeof CONDITIONS)[number] } & Partial<Record<string, unknown>>,
  context: z.RefinementCtx,
): void => {
  for (const field of CONDITION_FIELDS[data.condition ?? 'LEVEL']) {
    if (data[field] === undefined)
      context.addIssue({
        code: 'custom',
        path: [field],
        message: `is required for ${data.condition ?? 'LEVEL'}`,
      });
  }
};

export const alertCreatedSchema = z
  .object({
    ...watched,
    repeat: z.boolean(),
    rearmBy: decimal,
    /** Repeat alerts only: a duration such as `5m` (the window syntax). */
    cooldown: z
      .string()
      .refine((text) => windowMillis(text) !== undefined, 'must be a duration such as 30s, 5m or 1h')
      .optional(),
    expiresAt: time.optional(),
    note: z.string().optional(),
    createdAt: time,
  })
  .superRefine(conditionFields);

export const alertCancelledSchema = z.object({ alertId: id, userId: id, cancelledAt: time });

export const alertTriggeredSchema = z
  .object({
    ...watched,
    value,
    trade: z.object({ tradeId: id, price: decimal, size: decimal, side: z.enum(['buy', 'sell']), time }),
    triggeredAt: time,
  })
  .superRefine(conditionFields);

export const alertRearmedSchema = z.object({ alertId: id, value, tradeId: id, rearmedAt: time });

/** An edge (CROSS, ENTER, EXIT) that came inside the cooldown: spent, the alert waits for the next one. */
export const alertDisarmedSchema = z.object({ alertId: id, value, tradeId: id, disarmedAt: time });

export const alertExpiredSchema = z.object({ alertId: id, expiredAt: time });

export type TradeRecorded = z.infer<typeof tradeRecordedSchema>;
export type AlertCreated = z.infer<typeof alertCreatedSchema>;
export type AlertCancelled = z.infer<typeof alertCancelledSchema>;
export type AlertTriggered = z.infer<typeof alertTriggeredSchema>;
export type AlertRearmed = z.infer<typeof alertRearmedSchema>;
export type AlertExpired = z.infer<typeof alertExpiredSchema>;
export type AlertDisarmed = z.infer<typeof alertDisarmedSchema>;

export type PriceAlertEvent =
  | { type: 'TradeRecorded'; data: TradeRecorded }
  | { type: 'AlertCreated'; data: AlertCreated }
  | { type: 'AlertCancelled'; data: AlertCancelled }
  | { type: 'AlertTriggered'; data: AlertTriggered }
  | { type: 'AlertRearmed'; data: AlertRearmed }
  | { type: 'AlertExpired'; data: AlertExpired }
  | { type: 'AlertDisarmed'; data: AlertDisarmed };

/** The events of one alert's stream. */
export type AlertEvent = Exclude<PriceAlertEvent, { type: 'TradeRecorded' }>;

const schemas: { [K in EventType]: z.ZodType<Extract<PriceAlertEvent, { type: K }>['data']> } = {
  TradeRecorded: tradeRecordedSchema,
  AlertCreated: alertCreatedSchema,
  AlertCancelled: alertCancelledSchema,
  AlertTriggered: alertTriggeredSchema,
  AlertRearmed: alertRearmedSchema,
  AlertExpired: alertExpiredSchema,
  AlertDisarmed: alertDisarmedSchema,
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
