// Backtests from the store or from a trade file: check the request, seek, replay (the CLI and GraphQL call these).
import { stat } from 'node:fs/promises';
import { windowMillis } from '../config.ts';
import { ALL_WINDOW, type TradeInput } from '../domain/types.ts';
import { badInput, DomainError } from '../domain/errors.ts';
import { validateTrade } from '../domain/trades.ts';
import type { StoreClient } from '../eventstore/store.ts';
import { readTradeFile } from '../feeds/parse.ts';
import { parseBacktestAlerts, type BacktestAlert } from './alerts.ts';
import { limitExceeded, runBacktest, type BacktestProgress } from './engine.ts';
import type { BacktestReport } from './report.ts';
import { openStoreRange } from './storeSource.ts';
import { parseBound, tradeMicros, type Bound } from './trade.ts';

export type { BacktestProgress };

export interface BacktestRequest {
  product: string;
  /** BacktestAlertInput-shaped values (GraphQL input or a parsed alerts file); checked here. */
  alerts: unknown;
  /** ISO-8601 UTC, inclusive; microseconds kept. */
  from?: string | null;
  to?: string | null;
  /** Configured products and windows (PRICEALERT_PRODUCTS, PRICEALERT_WINDOWS). */
  products: readonly string[];
  windows: readonly string[];
  /** More trades to read (warm-up included) than this throws DomainError LIMIT_EXCEEDED; no cap when absent. */
  maxTrades?: number;
  /** More triggers than this throws DomainError LIMIT_EXCEEDED naming `triggers`; no cap when absent. */
  maxTriggers?: number;
  signal?: AbortSignal;
  onProgress?: (progress: BacktestProgress) => void;
}

interface Plan {
  alerts: BacktestAlert[];
  from?: Bound;
  to?: Bound;
  /** Trades at or before this time cannot be in any window at `from`; read everything when absent. */
  readAfterMicros?: number;
}

/** Replays `trades-{product}` in stream order, starting where the warm-up needs it (a search by time). */
export async function backtestFromStore(
  request: BacktestRequest & { client: StoreClient },
): Promise<BacktestReport> {
  const plan = planBacktest(request);
  const range = await openStoreRange(request.client, request.product, {
    afterMicros: plan.readAfterMicros,
    toMicros: plan.to?.micros,
  });
  if (request.maxTrades !== undefined && range.expectedTrades > request.maxTrades) {
    throw limitExceeded(request.maxTrades);
  }
  const report = await replay(request, plan, range.trades, () => range.expectedTrades);
  return { ...report, elapsedMs: report.elapsedMs + range.seek.ms, seek: range.seek };
}

/**
 * Replays a CSV/NDJSON file in the import formats (CONTRACT §1) without touching the store, as if it had
 * been imported into an empty stream: its trades pass the same checks (rejected ones are reported through
 * `onRejected` and skipped), a repeated trade id counts once, trades of other products are skipped, and so
 * are trades too old to be in any window at `from`. Throws TradeFileError (feeds/parse.ts) or the fs error
 * when the file cannot be read as trades.
 */
export async function backtestFromFile(
  request: BacktestRequest & {
    path: string;
    format?: 'csv' | 'ndjson';
    onRejected?: (line: number, reason: string) => void;
  },
): Promise<BacktestReport> {
  const plan = planBacktest(request);
  const size = request.onProgress ? (await stat(request.path)).size : 0;
  let bytesRead = 0;
  const trades = fileTrades(request.path, request, plan.readAfterMicros, (bytes) => (bytesRead = bytes));
  // Lines are about the same length, so the share of bytes read estimates the share of trades replayed.
  const report = await replay(request, plan, trades, (replayed) =>
    bytesRead > 0 ? Math.round((replayed * size) / bytesRead) : undefined,
  );
  return { ...report, seek: null };
}

function replay(
  request: BacktestRequest,
  plan: Plan,
  trades: AsyncIterable<TradeInput>,
  expectedTrades: (replayed: number) => number | undefined,
): ReturnType<typeof runBacktest> {
  const { onProgress } = request;
  return runBacktest({
    product: request.product,
    trades,
    alerts: plan.alerts,
    from: plan.from,
    to: plan.to,
    maxTrades: request.maxTrades,
    maxTriggers: request.maxTriggers,
    signal: request.signal,
    onProgress:
      onProgress &&
      ((progress) => onProgress({ ...progress, expectedTrades: expectedTrades(progress.trades) })),
  });
}

function planBacktest(request: BacktestRequest): Plan {
  if (!request.products.includes(request.product)) {
    throw badInput('product', `must be one of ${request.products.join(', ')}`);
  }
  const alerts = parseBacktestAlerts(request.alerts, { product: request.product, windows: request.windows });
  const from = request.from ? parseBound(request.from, 'from') : undefined;
  const to = request.to ? parseBound(request.to, 'to') : undefined;
  if (from && to && to.micros < from.micros) throw badInput('to', 'must not be before from');
  const readAfterMicros = from ? from.micros - lookbackMicros(alerts) : undefined;
  return {
    alerts,
    from,
    to,
    readAfterMicros: Number.isFinite(readAfterMicros) ? readAfterMicros : undefined,
  };
}

/**
 * How far before `from` a trade can still be in a window the alerts use: the largest such window (at least
 * 1 µs, so a trade exactly at `from` is read); infinite for `all`. LAST looks at the trade itself only.
 */
function lookbackMicros(alerts: readonly BacktestAlert[]): number {
  let largest = 1;
  for (const alert of alerts) {
    if (alert.measure === 'LAST') continue;
    if (alert.window === ALL_WINDOW) return Number.POSITIVE_INFINITY;
    largest = Math.max(largest, (windowMillis(alert.window) ?? 0) * 1_000);
  }
  return largest;
}

async function* fileTrades(
  path: string,
  request: BacktestRequest & {
    format?: 'csv' | 'ndjson';
    onRejected?: (line: number, reason: string) => void;
  },
  readAfterMicros: number | undefined,
  onBytes: (bytesRead: number) => void,
): AsyncGenerator<TradeInput> {
  const lines = readTradeFile(path, {
    format: request.format,
    product: request.product,
    source: 'coinbase',
    onProgress: onBytes,
  });
  const seen = new Set<string>();
  for await (const item of lines) {
    if ('error' in item) {
      request.onRejected?.(item.line, item.error);
      continue;
    }
    if (item.trade.product !== request.product) continue;
    let trade: TradeInput;
    try {
      trade = validateTrade(item.trade, request.products);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      request.onRejected?.(item.line, error.message);
      continue;
    }
    // An import records a trade once however often the file repeats it, so the replay applies it once.
    if (seen.has(trade.tradeId)) continue;
    seen.add(trade.tradeId);
    if (readAfterMicros !== undefined && tradeMicros(trade) <= readAfterMicros) continue;
    yield trade;
  }
}
