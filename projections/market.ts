// The one function that turns a trade into alert changes, shared by the live reactor and the backtest.
import { formatRatio } from '../src/domain/decimal.ts';
import { startsArmed } from '../src/domain/conditions.ts';
import type { Ratio } from '../src/domain/crossing.ts';
import type { TradeRecorded } from '../src/domain/events.ts';
import { timeMicros } from '../src/domain/time.ts';
import * as alertBook from './alertBook.ts';
import * as averagePrice from './averagePrice.ts';

/** Prices and the alert book of every product: the state {@link applyTrade} folds. */
export interface Market {
  prices: averagePrice.AveragePriceState;
  book: alertBook.AlertBookState;
}

/** A fire, re-arm or spent edge one trade causes. `value` is the alert's value printed by CONTRACT §3's output rule. */
export interface AlertChange {
  kind: 'fire' | 'rearm' | 'disarm';
  /** The very object given to {@link addAlert} (or the AlertCreated data the reactor folded). */
  alert: alertBook.BookAlert;
  value: string;
  /** The exact value, for deciding again against the alert's stream (see `fires`/`rearms` in src/domain/crossing.ts). */
  ratio: Ratio;
}

/** An empty market keeping the given sliding windows (plus `all`). */
export function createMarket(windows: readonly string[]): Market {
  return { prices: averagePrice.initialState(windows), book: alertBook.initialState() };
}

/**
 * Adds an alert as if its AlertCreated came now (armed, or for an edge condition waiting for the first
 * value to set its side): only trades applied after this can fire it. Returns false (and ignores it)
 * when one of its decimals has more than 18 decimal places.
 */
export function addAlert(market: Market, alert: alertBook.BookAlert): boolean {
  return alertBook.setAlert(market.book, alert, startsArmed(alert));
}

/**
 * Applies one trade to the prices and then to the alert book, in that order (CONTRACT §3: alerts
 * fire after each trade is applied), and returns every alert change it causes — each alert at most
 * once — in a stable order (by product group, then threshold, then the order alerts were added).
 * The book is updated as the changes say: fired once-alerts are gone, repeat alerts disarm and
 * re-arm.
 *
 * For the backtest (engineer E), the whole replay is:
 *
 *     const market = createMarket(config.PRICEALERT_WINDOWS);
 *     for await (const trade of trades) {              // TradeRecorded-shaped, in order
 *       if (!warm && trade.time >= from) { alerts.forEach((a, i) => addAlert(market, { ...a, alertId: String(i) })); warm = true; }
 *       if (to !== undefined && trade.time > to) break;
 *       for (const change of applyTrade(market, trade)) if (change.kind === 'fire') report(change.alert.alertId, change.value, trade);
 *     }
 *
 * Adding the alerts at the first trade at or after `from` gives warm-up for free: earlier trades fill
 * the windows but cannot fire, exactly as for a live alert created at that point. Hypothetical alerts
 * need only the `BookAlert` fields (alertId, product, measure, window, repeat, rearmBy and the
 * condition's fields); decimals as plain decimal strings, rearmBy "0" when not given. A window that
 * is not kept (not in `windows`, not `all`) never fires, so validate windows first.
 *
 * The live reactor calls exactly this, then writes AlertTriggered/AlertRearmed/AlertDisarmed for each change.
 */
export function applyTrade(market: Market, trade: TradeRecorded): AlertChange[] {
  averagePrice.evolve(market.prices, trade);
  const product = market.prices.products.get(trade.product);
  const micros = timeMicros(trade.time);
  if (!product || micros === undefined) return [];
  const crossings = alertBook.cross(
    market.book,
    trade.product,
    (measure, window) => {
      const index = measure === 'LAST' ? 0 : averagePrice.windowIndex(market.prices, window);
      if (index < 0) return undefined;
      return measure === 'MOVE'
        ? averagePrice.moveRatio(product, index)
        : averagePrice.measureRatio(product, measure, index);
    },
    micros,
  );
  return crossings.map((crossing) => ({
    ...crossing,
    value: formatRatio(crossing.ratio.num, crossing.ratio.den),
  }));
}
