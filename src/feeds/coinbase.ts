// The live Coinbase Exchange connector: one WebSocket, subscribed once per connection to `matches` and
// `heartbeat`, every executed trade recorded once, reconnecting for as long as it runs.
//
// Exactly once: the trade ids seen per product (the newest and the open gaps below it) drop what a
// reconnect re-sends (`last_match`, overlaps) while letting a late trade fill its gap, and the
// deterministic event ids make the store ignore anything that still slips through (e.g. after a
// process restart). Only matches the store would record count as seen. Lost trades cannot be re-fetched
// from this feed; they are logged and counted as gaps.
import WebSocket from 'ws';
import type { TradeInput } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay, type Backoff } from './backoff.ts';
import { frameText, parseCoinbaseFrame, subscribeRequest } from './protocol.ts';
import { throttledWarn } from './throttledLog.ts';
import { createTradeIdTracker } from './tradeIds.ts';
import { createTradeWriter, type RecordTrades, type WriterStats } from './writer.ts';

const COINBASE_SOURCE = 'coinbase';

export interface CoinbaseFeedOptions {
  /** e.g. wss://ws-feed.exchange.coinbase.com (COINBASE_WS_URL). */
  url: string;
  products: readonly string[];
  record: RecordTrades;
  logger: Logger;
  /** No heartbeat for this long means the connection is dead: it is dropped and reopened. Default 5000 ms
   *  (Coinbase sends one per product every second). Also bounds the opening handshake. */
  heartbeatTimeoutMs?: number;
  /** Delays between reconnects. Default 500 ms doubling to 30 s, reset by the first heartbeat or trade. */
  reconnect?: Backoff;
  /** Most trades per record call. Default 1000. */
  maxBatch?: number;
  /** Trades waiting for the store before the socket is paused. Default 10,000. */
  highWater?: number;
}

export interface CoinbaseFeedStats {
  /** Whether the socket is open now. */
  connected: boolean;
  /** Connections opened, the first included. */
  connections: number;
  /** Connections that ended for any reason other than stop(). */
  disconnects: number;
  heartbeatTimeouts: number;
  frames: number;
  /** Trades passed on to be recorded. */
  trades: number;
  /** Trades seen before (re-sent after a reconnect) and not passed on. */
  duplicates: number;
  /** Trades that came after a newer one (ids swapped in flight, or brought by a reconnect's last_match);
   *  passed on, and taken back out of missedTrades. */
  lateTrades: number;
  /** Jumps in trade_id (between matches, or behind a heartbeat's last_trade_id). */
  gaps: number;
  /** Trades the jumps skipped over and that have not come since. */
  missedTrades: number;
  /** Frames that are not a usable message, matches the store would refuse included (bad price, time,
   *  product…); they change nothing but the counters. */
  malformed: number;
  unexpected: number;
  serverErrors: number;
  /** Times the socket was paused because the store fell behind. */
  pauses: number;
  writer: WriterStats;
}

export interface CoinbaseFeed {
  stop(): Promise<void>;
  stats(): CoinbaseFeedStats;
}

export function startCoinbaseFeed(options: CoinbaseFeedOptions): CoinbaseFeed {
  const { url, products, logger } = options;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 5_000;
  const reconnect = options.reconnect ?? { baseMs: 500, maxMs: 30_000 };
  const writer = createTradeWriter({
    record: options.record,
    logger,
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    ...(options.highWater === undefined ? {} : { highWater: options.highWater }),
  });
  const warn = throttledWarn(logger);
  const stats: Omit<CoinbaseFeedStats, 'writer'> = {
    connected: false,
    connections: 0,
    disconnects: 0,
    heartbeatTimeouts: 0,
    frames: 0,
    trades: 0,
    duplicates: 0,
    lateTrades: 0,
    gaps: 0,
    missedTrades: 0,
    malformed: 0,
    unexpected: 0,
    serverErrors: 0,
    pauses: 0,
  };
  const tradeIds = createTradeIdTracker();
  let attempt = 0;
  let stopped = false;
  let socket: WebSocket | undefined;
  let socketClosed: Promise<void> = Promise.resolve();
  let retryTimer: NodeJS.Timeout | undefined;

  function countGap(product: string, after: number, missed: number, seenIn: string): void {
    stats.gaps += 1;
    stats.missedTrades += missed;
    logger.warn({ product, after, next: after + missed + 1, missed, seenIn }, 'trades missed (trade_id gap)');
  }

  function onTrade(trade: TradeInput, tradeId: number): boolean {
    const verdict = tradeIds.match(trade.product, tradeId);
    switch (verdict.kind) {
      case 'duplicate':
        stats.duplicates += 1;
        return true;
      case 'late':
        stats.lateTrades += 1;
        stats.missedTrades -= 1; // counted missed when its gap opened; it came after all
        break;
      case 'gap':
        countGap(trade.product, verdict.after, verdict.missed, 'match');
        break;
      case 'next':
        break;
    }
    stats.trades += 1;
    return writer.push(trade);
  }

  function onHeartbeat(product: string, lastTradeId: number): void {
    // A heartbeat follows the matches it counts, so a higher last_trade_id means those matches never came.
    const gap = tradeIds.heartbeat(product, lastTradeId);
    if (gap) countGap(product, gap.after, gap.missed, 'heartbeat');
  }

  function connect(): void {
    if (stopped) return;
    stats.connections += 1;
    const ws = new WebSocket(url, { handshakeTimeout: heartbeatTimeoutMs, perMessageDeflate: false });
    socket = ws;
    let watchdog: NodeJS.Timeout | undefined;
    const disarm = (): void => clearTimeout(watchdog);
    const arm = (): void => {
      disarm();
      watchdog = setTimeout(() => {
        stats.heartbeatTimeouts += 1;
        logger.warn({ url, heartbeatTimeoutMs }, 'no heartbeat from the feed; reconnecting');
        ws.terminate();
      }, heartbeatTimeoutMs);
    };
    const pauseUntilDrained = (): void => {
      if (ws.isPaused) return;
      stats.pauses += 1;
      ws.pause();
      disarm(); // silence while paused is ours, not the server's
      void writer.drained().then(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.resume();
        arm();
      });
    };

    socketClosed = new Promise((resolve) => ws.once('close', () => resolve()));
    arm();
    ws.on('open', () => {
      stats.connected = true;
      logger.info({ url, products }, 'connected to the Coinbase feed; subscribing');
      ws.send(subscribeRequest(products));
    });
    ws.on('message', (data) => {
      stats.frames += 1;
      const frame = parseCoinbaseFrame(frameText(data), { products, source: COINBASE_SOURCE });
      switch (frame.type) {
        case 'trade':
          attempt = 0;
          if (!onTrade(frame.trade, frame.tradeId)) pauseUntilDrained();
          return;
        case 'heartbeat':
          attempt = 0;
          if (!ws.isPaused) arm();
          onHeartbeat(frame.product, frame.lastTradeId);
          return;
        case 'subscriptions': {
          const matched = frame.channels.find((channel) => channel.name === 'matches')?.products ?? [];
          const missing = products.filter((product) => !matched.includes(product));
          if (missing.length > 0)
            logger.warn(
              { missing, channels: frame.channels },
              'the feed did not subscribe these products to matches',
            );
          else logger.info({ channels: frame.channels }, 'subscribed');
          return;
        }
        case 'error':
          stats.serverErrors += 1;
          logger.warn({ message: frame.message, reason: frame.reason }, 'the feed sent an error');
          return;
        case 'unexpected':
          stats.unexpected += 1;
          warn(
            'unexpected',
            { messageType: frame.messageType },
            'unexpected message type from the feed; ignored',
          );
          return;
        case 'malformed':
          stats.malformed += 1;
          warn('malformed', { reason: frame.reason }, 'malformed frame from the feed; ignored');
          return;
      }
    });
    ws.on('error', (error) => warn('socket-error', { err: error, url }, 'feed connection error'));
    ws.on('close', (code) => {
      stats.connected = false;
      disarm();
      if (socket === ws) socket = undefined;
      if (stopped) return;
      stats.disconnects += 1;
      const delay = backoffDelay(attempt, reconnect);
      attempt += 1;
      logger.warn({ code, retryInMs: delay }, 'feed connection closed; reconnecting');
      retryTimer = setTimeout(connect, delay);
    });
  }

  connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      socket?.close(1000);
      const forced = setTimeout(() => socket?.terminate(), 1_000);
      await socketClosed;
      clearTimeout(forced);
      await writer.close();
    },
    stats: () => ({ ...stats, writer: writer.stats() }),
  };
}
