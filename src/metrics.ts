// Prometheus metrics for `GET /metrics`: one registry per API server, since tests run several in one
// process. Hot paths get a pre-bound counter or one histogram observation; whatever a component counts
// already (the feed, the reactor, the WebSocket server) is read from it when scraped.
//
// Labels stay bounded: product and source (capped: feeders name sources freely), stream kind,
// outcome, transport, status class. Never a user, an alert or an address.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { watchAppends } from './eventstore/observe.ts';
import type { StoreClient } from './eventstore/store.ts';
import type { FeedStats } from './feeds/index.ts';
import type { Leases } from './runtime/leases.ts';
import type { Reactor, ReactorObserver, ReactorStats } from './runtime/reactor.ts';

/** Product/source pairs counted apart; past this many, further sources are counted as `other`. */
const MAX_TRADE_SERIES = 200;
const STORE_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SETTLE_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the API server reads off itself when scraped; each is asked only for its own gauge. */
export interface ApiGauges {
  webSocketConnections(): number;
  webSocketSubscriptions(): number;
  runningBacktests(): number;
}

export type Transport = 'ws' | 'sse';

/** The counters the API bumps as things happen. */
export interface ApiObserver {
  /** A live trigger handed to one subscriber. */
  triggerDelivered(): void;
  /** A subscriber cut off for not reading. */
  slowClose(transport: Transport): void;
  /** A mutation refused with RATE_LIMITED. */
  rateLimited(): void;
  /** An HTTP response sent (WebSocket upgrades excluded). */
  httpResponse(status: number): void;
}

export interface Metrics {
  readonly registry: Registry;
  /** startReactor's `observer`. */
  readonly reactor: ReactorObserver;
  readonly api: ApiObserver;
  /** The same client with every append timed: give it to whatever appends (reactor, API, feed). */
  timeAppends(client: StoreClient): StoreClient;
  watchReactor(reactor: Reactor): void;
  /** A reactor's product leases (`serve --role reactor`). */
  watchLeases(leases: Pick<Leases, 'products' | 'leads'>): void;
  watchFeed(feed: { stats(): FeedStats }): void;
  watchApi(gauges: ApiGauges): void;
  /** The registry in Prometheus' text format, and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Which kind of stream an append went to: pricealert's stream names, never the id in them. */
const streamKind = (stream: string): string =>
  stream.startsWith('trades-') ? 'trade' : stream.startsWith('alert-') ? 'alert' : 'other';

interface FeedCounts {
  received: number;
  recorded: number;
  alreadyPresent: number;
  rejected: number;
  duplicate: number;
  late: number;
  gaps: number;
  missed: number;
  connected: boolean;
  reconnects: number;
  malformed: number;
  recordFailures: number;
}

/** The same counters for either feed; the simulator never sees duplicates or gaps, nor disconnects. */
function feedCounts(stats: FeedStats): FeedCounts | undefined {
  switch (stats.feed) {
    case 'coinbase':
      return {
        received: stats.trades + stats.duplicates,
        recorded: stats.writer.recorded,
        alreadyPresent: stats.writer.alreadyPresent,
        rejected: stats.writer.rejected,
        duplicate: stats.duplicates,
        late: stats.lateTrades,
        gaps: stats.gaps,
        missed: stats.missedTrades,
        connected: stats.connected,
        reconnects: stats.disconnects,
        malformed: stats.malformed,
        recordFailures: stats.writer.failures,
      };
    case 'simulated':
      return {
        received: stats.trades,
        recorded: stats.writer.recorded,
        alreadyPresent: stats.writer.alreadyPresent,
        rejected: stats.writer.rejected,
        duplicate: 0,
        late: 0,
        gaps: 0,
        missed: 0,
        connected: true,
        reconnects: 0,
        malformed: 0,
        recordFailures: stats.writer.failures,
      };
    case 'none':
      return undefined;
  }
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // Read when scraped; set once the component starts.
  let reactor: Reactor | undefined;
  let feed: { stats(): FeedStats } | undefined;
  let api: ApiGauges | undefined;
  let leases: Pick<Leases, 'products' | 'leads'> | undefined;

  // Store appends.
  const appendSeconds = new Histogram({
    name: 'pricealert_store_append_duration_seconds',
    help: 'Time an append to the store took, by stream kind (trade, alert, other), failed ones included.',
    labelNames: ['stream'],
    buckets: STORE_SECONDS,
    registers,
  });
  const appendErrors = new Counter({
    name: 'pricealert_store_append_errors_total',
    help: 'Appends the store refused or failed: wrong_expected_version (a conflict, retried) or error.',
    labelNames: ['stream', 'reason'],
    registers,
  });
  const appendTimers = new Map(
    ['trade', 'alert', 'other'].map((kind) => [
      kind,
      {
        seconds: appendSeconds.labels(kind),
        conflict: appendErrors.labels(kind, 'wrong_expected_version'),
        error: appendErrors.labels(kind, 'error'),
      },
    ]),
  );

  // Trades, as the reactor folds them: every path in (feed, recordTrade, import) counts.
  const tradesRecorded = new Counter({
    name: 'pricealert_trades_recorded_total',
    help: 'Trades recorded in the store, by product and source, as the reactor takes them in.',
    labelNames: ['product', 'source'],
    registers,
  });
  const tradeSeries = new Map<string, Counter.Internal>();
  const tradeSettle = new Histogram({
    name: 'pricealert_reactor_trade_settle_seconds',
    help: 'From the store recording a trade that changes alerts to those changes written and its triggers handed to subscribers.',
    buckets: SETTLE_SECONDS,
    registers,
  });

  // Read off the components' own counters when scraped.
  type Sample = [labels: Record<string, string>, value: number];
  const collectedCounter = (name: string, help: string, labelNames: string[], read: () => Sample[]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  const collectedGauge = (name: string, help: string, labelNames: string[], read: () => Sample[]) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });

  // Feed: its counters are per source (the feed running), not per product.
  const fromFeed = (pick: (counts: FeedCounts) => number) => (): Sample[] => {
    const stats = feed?.stats();
    const counts = stats && feedCounts(stats);
    return stats && counts ? [[{ source: stats.feed }, pick(counts)]] : [];
  };
  const outcomes = ['recorded', 'already_present', 'rejected', 'duplicate'] as const;
  const outcomeCount = (counts: FeedCounts, outcome: (typeof outcomes)[number]): number =>
    ({
      recorded: counts.recorded,
      already_present: counts.alreadyPresent,
      rejected: counts.rejected,
      duplicate: counts.duplicate,
    })[outcome];
  collectedCounter(
    'pricealert_feed_trades_received_total',
    'Trades the feed received, duplicates included.',
    ['source'],
    fromFeed((counts) => counts.received),
  );
  collectedCounter(
    'pricealert_feed_trades_total',
    'What became of the trades the feed received: recorded, already_present (in the store before), rejected (invalid), duplicate (re-sent, dropped).',
    ['source', 'outcome'],
    () =>
      outcomes.flatMap((outcome) =>
        fromFeed((counts) => outcomeCount(counts, outcome))().map(([labels, value]): Sample => [
          { ...labels, outcome },
          value,
        ]),
      ),
  );
  collectedCounter(
    'pricealert_feed_late_trades_total',
    'Trades that came after a newer one and filled a trade-id gap.',
    ['source'],
    fromFeed((counts) => counts.late),
  );
  collectedCounter(
    'pricealert_feed_trade_id_gaps_total',
    'Jumps in trade ids: trades the feed skipped.',
    ['source'],
    fromFeed((counts) => counts.gaps),
  );
  collectedCounter(
    'pricealert_feed_reconnects_total',
    'Feed connections that ended other than by stopping (each is followed by a reconnect).',
    ['source'],
    fromFeed((counts) => counts.reconnects),
  );
  collectedCounter(
    'pricealert_feed_malformed_frames_total',
    'Feed frames that were not usable messages.',
    ['source'],
    fromFeed((counts) => counts.malformed),
  );
  collectedCounter(
    'pricealert_feed_record_failures_total',
    'Times recording a batch of feed trades failed (the batch is retried).',
    ['source'],
    fromFeed((counts) => counts.recordFailures),
  );
  collectedGauge(
    'pricealert_feed_connected',
    '1 while the feed is connected, else 0.',
    ['source'],
    fromFeed((counts) => (counts.connected ? 1 : 0)),
  );
  collectedGauge(
    'pricealert_feed_missed_trades',
    'Trades the trade-id gaps skipped that have not come since (late trades take it down).',
    ['source'],
    fromFeed((counts) => counts.missed),
  );

  // Reactor.
  const fromReactor = (pick: (stats: ReactorStats) => number) => (): Sample[] =>
    reactor ? [[{}, pick(reactor.stats())]] : [];
  collectedCounter(
    'pricealert_reactor_events_received_total',
    'pricealert events the reactor took from $all since it started.',
    [],
    fromReactor((stats) => stats.eventsReceived),
  );
  collectedCounter(
    'pricealert_reactor_events_processed_total',
    'Of those, events whose alert changes (and those of every event before) are settled.',
    [],
    fromReactor((stats) => stats.eventsProcessed),
  );
  collectedGauge(
    'pricealert_reactor_lag_events',
    'Events received but not settled yet.',
    [],
    fromReactor((stats) => stats.eventsReceived - stats.eventsProcessed),
  );
  collectedGauge(
    'pricealert_reactor_lag_seconds',
    'Age of the oldest trade whose alert changes are not all written; 0 when none wait.',
    [],
    fromReactor((stats) => stats.lagSeconds),
  );
  collectedGauge(
    'pricealert_reactor_checkpoint_position',
    'The $all commit position of the last checkpoint written.',
    [],
    fromReactor((stats) => Number(stats.checkpointPosition)),
  );
  collectedCounter(
    'pricealert_reactor_alert_changes_written_total',
    'AlertTriggered, AlertRearmed, AlertDisarmed and AlertExpired events the reactor wrote.',
    [],
    fromReactor((stats) => stats.alertChangesWritten),
  );
  collectedCounter(
    'pricealert_reactor_alert_change_conflicts_total',
    'Alert change appends refused with WrongExpectedVersion, then decided again.',
    [],
    fromReactor((stats) => stats.alertChangeConflicts),
  );
  collectedCounter(
    'pricealert_reactor_alert_change_failures_total',
    'Alert change appends that failed for another reason, then retried.',
    [],
    fromReactor((stats) => stats.alertChangeFailures),
  );

  collectedGauge(
    'pricealert_reactor_lease_held',
    '1 for each product whose lease this reactor holds (and so decides), 0 for those it follows.',
    ['product'],
    () => (leases ? leases.products.map((product) => [{ product }, leases!.leads(product) ? 1 : 0]) : []),
  );

  // API.
  const triggersDelivered = new Counter({
    name: 'pricealert_triggers_delivered_total',
    help: 'Live triggers handed to subscribers (one per subscriber).',
    registers,
  });
  const slowCloses = new Counter({
    name: 'pricealert_api_slow_client_closes_total',
    help: 'Subscribers cut off for not reading, by transport (ws, sse).',
    labelNames: ['transport'],
    registers,
  });
  const slowBy = { ws: slowCloses.labels('ws'), sse: slowCloses.labels('sse') };
  const rateLimited = new Counter({
    name: 'pricealert_api_rate_limited_total',
    help: 'Mutations refused with RATE_LIMITED.',
    registers,
  });
  const httpResponses = new Counter({
    name: 'pricealert_http_responses_total',
    help: 'HTTP responses by status class (2xx, 4xx…); WebSocket upgrades not included.',
    labelNames: ['code'],
    registers,
  });
  const byClass = ['1xx', '2xx', '3xx', '4xx', '5xx'].map((code) => httpResponses.labels(code));
  const fromApi = (pick: (gauges: ApiGauges) => number) => (): Sample[] => (api ? [[{}, pick(api)]] : []);
  collectedGauge(
    'pricealert_ws_connections',
    'Open GraphQL WebSocket connections.',
    [],
    fromApi((gauges) => gauges.webSocketConnections()),
  );
  collectedGauge(
    'pricealert_ws_subscriptions',
    'Operations running over WebSocket connections.',
    [],
    fromApi((gauges) => gauges.webSocketSubscriptions()),
  );
  collectedGauge(
    'pricealert_backtests_running',
    'Backtests running now.',
    [],
    fromApi((gauges) => gauges.runningBacktests()),
  );

  return {
    registry,
    reactor: {
      trade(product, source) {
        const key = `${product}\u0000${source}`;
        let series = tradeSeries.get(key);
        if (!series) {
          series = tradesRecorded.labels(product, tradeSeries.size < MAX_TRADE_SERIES ? source : 'other');
          tradeSeries.set(key, series);
        }
        series.inc();
      },
      tradeSettled: (seconds) => tradeSettle.observe(seconds),
    },
    api: {
      triggerDelivered: () => triggersDelivered.inc(),
      slowClose: (transport) => slowBy[transport].inc(),
      rateLimited: () => rateLimited.inc(),
      httpResponse: (status) => byClass[Math.floor(status / 100) - 1]?.inc(),
    },
    timeAppends(client) {
      return watchAppends(client, (stream) => {
        const timers = appendTimers.get(streamKind(stream))!;
        const end = timers.seconds.startTimer();
        return (outcome) => {
          if (outcome === 'conflict') timers.conflict.inc();
          else if (outcome === 'failed') timers.error.inc();
          end();
        };
      });
    },
    watchReactor(watched) {
      reactor = watched;
    },
    watchLeases(watched) {
      leases = watched;
    },
    watchFeed(watched) {
      feed = watched;
    },
    watchApi(gauges) {
      api = gauges;
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
