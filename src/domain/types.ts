// The vocabulary shared by every layer: products, trades, alerts, measures (CONTRACT §2–§4).

export type Side = 'buy' | 'sell';
export type Direction = 'ABOVE' | 'BELOW';
export type Measure = 'LAST' | 'MEAN' | 'VWAP';
/** What makes an alert fire (README "Conditions"); an AlertCreated without one is LEVEL. */
export const CONDITIONS = ['LEVEL', 'CROSS', 'MOVE', 'ENTER', 'EXIT'] as const;
export type Condition = (typeof CONDITIONS)[number];
/** The fields each condition needs, all of them (`rearmBy`, optional, is LEVEL's and CROSS's alone). */
export const CONDITION_FIELDS = {
  LEVEL: ['direction', 'threshold'],
  CROSS: ['direction', 'threshold'],
  MOVE: ['direction', 'percent'],
  ENTER: ['low', 'high'],
  EXIT: ['low', 'high'],
} as const satisfies Record<Condition, readonly ConditionField[]>;
export type ConditionField = 'direction' | 'threshold' | 'percent' | 'low' | 'high';
export type AlertStatus = 'ACTIVE' | 'TRIGGERED' | 'CANCELLED' | 'EXPIRED';
export type Role = 'user' | 'feeder' | 'admin';

/** Decimal numbers travel as strings; decimal.js does the arithmetic. */
export type DecimalString = string;
/** ISO-8601 UTC, microsecond precision kept (`2026-11-26T08:16:27.123456Z`). */
export type IsoTime = string;

/** A trade as a command carries it, before it becomes a `TradeRecorded` event. */
export interface TradeInput {
  product: string;
  tradeId: string;
  price: DecimalString;
  size: DecimalString;
  side: Side;
  time: IsoTime;
  source: string;
}

export const ALL_WINDOW = 'all';

/** The namespace of trade event ids: uuidv5(`${source}:${product}:${tradeId}`, TRADE_ID_NAMESPACE). */
export const TRADE_ID_NAMESPACE = '4937933d-9065-4a1d-93bf-a268d987feb6';

export const EVENT_TYPES = [
  'TradeRecorded',
  'AlertCreated',
  'AlertCancelled',
  'AlertTriggered',
  'AlertRearmed',
  'AlertExpired',
  'AlertDisarmed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const tradeStream = (product: string): string => `trades-${product}`;
export const alertStream = (alertId: string): string => `alert-${alertId}`;
