// Runs alerts over a tape the two ways the system decides them, for the condition tests: through the
// alert book alone (what a backtest does), and as the reactor does — the book proposes, decideOnTrade
// decides against the alert's state folded from its stream, and the book follows that state.
import * as averagePrice from '../../projections/averagePrice.ts';
import * as alertBook from '../../projections/alertBook.ts';
import { addAlert, applyTrade, createMarket } from '../../projections/market.ts';
import { decideOnTrade, evolveAlert, type AlertState } from '../../src/domain/alerts.ts';
import { watchedValue } from '../../src/domain/conditions.ts';
import type { Ratio } from '../../src/domain/crossing.ts';
import { formatRatio } from '../../src/domain/decimal.ts';
import type { AlertCreated, AlertEvent, TradeRecorded } from '../../src/domain/events.ts';
import { formatMicros } from '../../src/domain/time.ts';

export const T0 = Date.UTC(2026, 10, 26, 9) * 1000;
const NOW = '2026-11-26T10:00:00.000000Z';

/** A trade `second`s after T0 (fractions allowed, to the microsecond). */
export const trade = (index: number, second: number, price: string, size = '1'): TradeRecorded => ({
  product: 'BTC-USD',
  tradeId: `t${index}`,
  price,
  size,
  side: 'buy',
  time: formatMicros(T0 + Math.round(second * 1_000_000)),
  source: 's',
});

/** Prices one second apart. */
export const tapeOf = (prices: readonly string[]): TradeRecorded[] =>
  prices.map((price, index) => trade(index, index, price));

export const alertOf = (alertId: string, fields: Partial<AlertCreated>): AlertCreated => ({
  alertId,
  userId: 'u1',
  product: 'BTC-USD',
  measure: 'LAST',
  window: '1m',
  repeat: false,
  rearmBy: '0',
  createdAt: NOW,
  ...fields,
});

/** One change: which trade (index in the tape), which alert, what, and the value printed. */
export interface Seen {
  trade: number;
  alertId: string;
  kind: 'fire' | 'rearm' | 'disarm';
  value: string;
}

const KIND = { AlertTriggered: 'fire', AlertRearmed: 'rearm', AlertDisarmed: 'disarm' } as const;

/** What a backtest sees: the book's changes, trade by trade. */
export function bookChanges(
  alerts: readonly AlertCreated[],
  trades: readonly TradeRecorded[],
  windows = ['1m'],
): Seen[] {
  const market = createMarket(windows);
  for (const alert of alerts) addAlert(market, alert);
  return trades.flatMap((t, index) =>
    applyTrade(market, t).map((change) => ({
      trade: index,
      alertId: change.alert.alertId,
      kind: change.kind,
      value: change.value,
    })),
  );
}

/** The exact value an alert compares after the market has taken a trade, computed without the book. */
export function valueOf(market: ReturnType<typeof createMarket>, alert: AlertCreated): Ratio | undefined {
  const product = market.prices.products.get(alert.product);
  if (!product) return undefined;
  const watched = watchedValue(alert);
  const index = watched === 'LAST' ? 0 : averagePrice.windowIndex(market.prices, alert.window);
  if (index < 0) return undefined;
  return watched === 'MOVE'
    ? averagePrice.moveRatio(product, index)
    : averagePrice.measureRatio(product, watched, index);
}

/**
 * As the reactor decides: the book proposes changes, decideOnTrade decides each against the alert's
 * state folded from the events written so far, and the book is set to that state. With `everyTrade`,
 * decideOnTrade is asked about every alert on every trade (the stream alone decides; the book only
 * keeps the prices), which shows the book never misses a change the stream's decision would make.
 */
export function reactorChanges(
  alerts: readonly AlertCreated[],
  trades: readonly TradeRecorded[],
  options: { windows?: string[]; everyTrade?: boolean } = {},
): { seen: Seen[]; states: Map<string, AlertState>; streams: Map<string, AlertEvent[]> } {
  const market = createMarket(options.windows ?? ['1m']);
  const states = new Map<string, AlertState>();
  const streams = new Map<string, AlertEvent[]>();
  for (const alert of alerts) {
    const event: AlertEvent = { type: 'AlertCreated', data: alert };
    states.set(alert.alertId, evolveAlert(undefined, event, { revision: 0n })!);
    streams.set(alert.alertId, [event]);
    addAlert(market, alert);
  }
  const seen: Seen[] = [];
  trades.forEach((t, index) => {
    const changes = applyTrade(market, t);
    const proposals = options.everyTrade
      ? alerts.flatMap((alert) => {
          const ratio = valueOf(market, alert);
          return ratio ? [{ alert, ratio, value: formatRatio(ratio.num, ratio.den) }] : [];
        })
      : changes;
    for (const proposal of proposals) {
      const alertId = proposal.alert.alertId;
      const state = states.get(alertId)!;
      const position = BigInt(index + 1);
      const event = decideOnTrade(
        state,
        { trade: t, position, recordedAt: 0, ratio: proposal.ratio, value: proposal.value },
        NOW,
      );
      if (!event) continue;
      const next = evolveAlert(state, event, { revision: state.revision + 1n, cause: position })!;
      states.set(alertId, next);
      streams.get(alertId)!.push(event);
      if (next.status === 'ACTIVE')
        alertBook.setAlert(market.book, next.created, next.armed, next.lastFiredAt);
      else alertBook.removeAlert(market.book, alertId);
      const kind = KIND[event.type as keyof typeof KIND];
      const value = (event.data as { value: string }).value;
      seen.push({ trade: index, alertId, kind, value });
    }
  });
  return { seen, states, streams };
}

/** `fire@3 101`, `rearm@1 99`: a compact line per change, for specs that read like the README. */
export const lines = (seen: readonly Seen[]): string[] =>
  seen.map((change) => `${change.kind}@${change.trade} ${change.value}`);
