// Starts the feed PRICEALERT_FEED names: the live Coinbase connector, the simulator, or none.
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { startCoinbaseFeed, type CoinbaseFeedStats } from './coinbase.ts';
import { loadSimulatorSettings } from './settings.ts';
import { startSimulatedFeed } from './simulated.ts';
import type { RecordTrades, WriterStats } from './writer.ts';

export type { RecordSummary, RecordTrades } from './writer.ts';

export type FeedStats =
  | ({ feed: 'coinbase' } & CoinbaseFeedStats)
  | { feed: 'simulated'; trades: number; writer: WriterStats }
  | { feed: 'none' };

export interface RunningFeed {
  /** Closes the connection (or stops the tape) and records what is already queued. */
  stop(): Promise<void>;
  stats(): FeedStats;
}

export interface StartFeedOptions {
  config: Config;
  /** Where trades go, e.g. `(trades) => recordTrades(client, trades, { products: config.PRICEALERT_PRODUCTS })`. */
  record: RecordTrades;
  logger: Logger;
  /** Read for the simulator's settings (PRICEALERT_SIM_SEED, PRICEALERT_SIM_RATE). Default process.env. */
  env?: Record<string, string | undefined>;
}

/** Throws ConfigError (exit 2) for bad simulator settings; never waits for the network. */
export async function startFeed({
  config,
  record,
  logger,
  env = process.env,
}: StartFeedOptions): Promise<RunningFeed> {
  const products = config.PRICEALERT_PRODUCTS;
  switch (config.PRICEALERT_FEED) {
    case 'coinbase': {
      const feed = startCoinbaseFeed({
        url: config.COINBASE_WS_URL,
        products,
        record,
        logger: logger.child({ feed: 'coinbase' }),
      });
      return { stop: feed.stop, stats: () => ({ feed: 'coinbase', ...feed.stats() }) };
    }
    case 'simulated': {
      const settings = loadSimulatorSettings(env);
      const feed = startSimulatedFeed({
        ...settings,
        products,
        record,
        logger: logger.child({ feed: 'simulated' }),
      });
      return { stop: feed.stop, stats: () => ({ feed: 'simulated', ...feed.stats() }) };
    }
    case 'none':
      logger.info('no trade feed (PRICEALERT_FEED=none)');
      return { stop: async () => {}, stats: () => ({ feed: 'none' }) };
  }
}
