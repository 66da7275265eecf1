// The replay: trades in stream order through the live projections and alert book, triggers collected.
import * as averagePrice from '../../projections/averagePrice.ts';
import { addAlert, applyTrade, createMarket } from '../../projections/market.ts';
import { DomainError } from '../domain/errors.ts';
import { ALL_WINDOW, type IsoTime, type TradeInput } from '../domain/types.ts';
import type { BacktestAlert } from './alerts.ts';
import { summarize, type BacktestReport, type BacktestTrade, type BacktestTrigger } from './report.ts';
import { tradeMicros, tradeView } from './trade.ts';

export interface BacktestProgress {
  /** Trades read so far, warm-up included. */
  trades: number;
  triggers: number;
  /** How many trades the source expects to deliver, when it can tell (the store exactly, a file by its size). */
  expectedTrades?: number;
}

export interface RunBacktestOptions {
  product: string;
  /** The product's trades in stream order, starting where the warm-up should begin. */
  trades: AsyncIterable<TradeInput>;
  alerts: readonly BacktestAlert[];
  /** First trade time that can fire (inclusive), in micros since the epoch, and as reported. */
  from?: { iso: IsoTime; micros: number };
  /** Last trade time applied (inclusive): the replay ends at the first trade after it. */
  to?: { iso: IsoTime; micros: number };
  /** Throws DomainError LIMIT_EXCEEDED when the source has more trades than this to read, warm-up included. */
  maxTrades?: number;
  /** Throws DomainError LIMIT_EXCEEDED naming `triggers` as soon as the alerts fire more often than this. */
  maxTriggers?: number;
  /** Aborting ends the replay early; the report then has `complete: false` and the triggers so far. */
  signal?: AbortSignal;
  /** Called before the first trade, every 10,000 trades and at the end. */
  onProgress?: (progress: BacktestProgress) => void;
}

const PROGRESS_EVERY = 10_000;

/** The GraphQL query's cap (CONTRACT §4) reached: the caller should narrow from/to. */
export const limitExceeded = (maxTrades: number): DomainError =>
  new DomainError('LIMIT_EXCEEDED', `a backtest replays at most ${maxTrades} trades; narrow from and to`);

/** The GraphQL query's cap on the report's size reached: fewer alerts or a narrower range would fit. */
export const tooManyTriggers = (maxTriggers: number): DomainError =>
  new DomainError(
    'LIMIT_EXCEEDED',
    `a backtest reports at most ${maxTriggers} triggers; narrow from and to, or test fewer alerts (the CLI has no cap)`,
    'triggers',
  );

/**
 * Replays `trades` (one product's, in stream order) through the live projections with `applyTrade`
 * (projections/market.ts), the very function the live reactor calls for each trade. The alerts are created
 * armed just before the first trade at or after `from`; earlier trades only fill the windows (warm-up).
 * Each fire is a trigger whose `triggeredAt` is the firing trade's time. The replay ends before the first
 * trade after `to`, when the trades run out, or when `signal` aborts.
 */
export async function runBacktest(options: RunBacktestOptions): Promise<Omit<BacktestReport, 'seek'>> {
  const started = performance.now();
  const { alerts, from, to, signal, onProgress } = options;
  const maxTrades = options.maxTrades ?? Number.POSITIVE_INFINITY;
  const maxTriggers = options.maxTriggers ?? Number.POSITIVE_INFINITY;
  const market = createMarket(windowsUsed(alerts));
  let armed = false;
  const triggers: BacktestTrigger[] = [];
  /** Trades read, warm-up included: what maxTrades and progress count. */
  let read = 0;
  let warmUpTrades = 0;
  let since: IsoTime | null = null;
  let latest = Number.NEGATIVE_INFINITY;
  let outOfOrderTrades = 0;
  let complete = true;

  onProgress?.({ trades: 0, triggers: 0 });
  for await (const trade of options.trades) {
    if (signal?.aborted) {
      complete = false;
      break;
    }
    const micros = tradeMicros(trade);
    if (to && micros > to.micros) break;
    if (read >= maxTrades) throw limitExceeded(maxTrades);
    read += 1;
    since ??= trade.time;
    if (micros < latest) outOfOrderTrades += 1;
    else latest = micros;

    if (from && micros < from.micros) {
      // Warm-up, and late trades from before `from`: they count in the windows but cannot fire.
      warmUpTrades += 1;
      averagePrice.evolve(market.prices, trade);
    } else {
      if (!armed) {
        // Created now, as a live alert would be: only this trade and later ones can fire them.
        alerts.forEach((alert, index) =>
          addAlert(market, { ...alert, alertId: String(index), product: options.product }),
        );
        armed = true;
      }
      let view: BacktestTrade | undefined; // one per trade, shared by the alerts it fires
      for (const change of applyTrade(market, trade)) {
        if (change.kind !== 'fire') continue;
        if (triggers.length >= maxTriggers) throw tooManyTriggers(maxTriggers);
        view ??= tradeView(trade);
        triggers.push({
          alertIndex: Number(change.alert.alertId),
          value: change.value,
          trade: view,
          triggeredAt: trade.time,
        });
      }
    }
    if (onProgress && read % PROGRESS_EVERY === 0) onProgress({ trades: read, triggers: triggers.length });
  }
  onProgress?.({ trades: read, triggers: triggers.length });

  return {
    product: options.product,
    tradesReplayed: read - warmUpTrades,
    warmUpTrades,
    from: from?.iso ?? null,
    to: to?.iso ?? null,
    triggers,
    elapsedMs: Math.round(performance.now() - started),
    summary: summarize(alerts.length, triggers),
    warmUp: { trades: warmUpTrades, since },
    outOfOrderTrades,
    complete,
  };
}

/** The sliding windows the alerts measure; the market keeps only these (each window's values are independent). */
function windowsUsed(alerts: readonly BacktestAlert[]): string[] {
  return [
    ...new Set(
      alerts
        .filter(
          (alert) => (alert.measure !== 'LAST' || alert.condition === 'MOVE') && alert.window !== ALL_WINDOW,
        )
        .map((alert) => alert.window),
    ),
  ];
}
