// What a backtest answers: GraphQL's BacktestReport (CONTRACT §4) plus how it read and a summary per alert.
import type { DecimalString, IsoTime, TradeInput } from '../domain/types.ts';

/** A trade as GraphQL's `Trade` shows it: everything but the venue it came from. */
export type BacktestTrade = Omit<TradeInput, 'source'>;

export interface BacktestTrigger {
  /** Position of the alert in the given list, from 0. */
  alertIndex: number;
  /** The measure's value when it met the threshold, formatted as every measure is (CONTRACT §3). */
  value: DecimalString;
  trade: BacktestTrade;
  /** The time of the trade that fired it: a replay has no wall clock worth reporting. */
  triggeredAt: IsoTime;
}

export interface AlertSummary {
  alertIndex: number;
  fired: number;
  firstTriggeredAt: IsoTime | null;
  lastTriggeredAt: IsoTime | null;
}

/** Where the replay started reading, so a reader can judge the warm-up. */
export interface WarmUp {
  /** Trades applied before `from`: they fill windows but cannot fire. */
  trades: number;
  /** Time of the first trade read; null when nothing was read. */
  since: IsoTime | null;
}

/** How the store was searched for the first trade to read (absent for a file). */
export interface SeekInfo {
  /** Revision of `trades-{product}` the replay started from. */
  startRevision: number;
  /** Revisions in the stream when the backtest began. */
  streamLength: number;
  /** Single-event reads the searches by time needed (and one for the stream's length). */
  reads: number;
  ms: number;
}

export interface BacktestReport {
  product: string;
  /** Trades applied in [from, to]: those that could fire. */
  tradesReplayed: number;
  /** Trades read before `from` (or stored later but timed before it) that only filled the windows; = warmUp.trades. */
  warmUpTrades: number;
  from: IsoTime | null;
  to: IsoTime | null;
  triggers: BacktestTrigger[];
  /** The replay's own time (reading and applying), not the process's. */
  elapsedMs: number;
  summary: AlertSummary[];
  warmUp: WarmUp;
  seek: SeekInfo | null;
  /** Trades whose time is earlier than one before them in stream order; the replay keeps stream order. */
  outOfOrderTrades: number;
  /** False when cancelled: the triggers are those found so far. */
  complete: boolean;
}

/** Times fired, first and last trigger of each alert, in alert order. */
export function summarize(alertCount: number, triggers: readonly BacktestTrigger[]): AlertSummary[] {
  const summary: AlertSummary[] = Array.from({ length: alertCount }, (_, alertIndex) => ({
    alertIndex,
    fired: 0,
    firstTriggeredAt: null,
    lastTriggeredAt: null,
  }));
  for (const trigger of triggers) {
    const entry = summary[trigger.alertIndex];
    if (!entry) continue;
    entry.fired += 1;
    entry.firstTriggeredAt ??= trigger.triggeredAt;
    entry.lastTriggeredAt = trigger.triggeredAt;
  }
  return summary;
}
