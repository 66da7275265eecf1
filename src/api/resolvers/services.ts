// What the resolvers are built from; one object per API server.
import type { BacktestThreads } from '../../backtest/thread.ts';
import type { Config } from '../../config.ts';
import type { StoreClient } from '../../eventstore/store.ts';
import type { Logger } from '../../logger.ts';
import type { Reactor } from '../../runtime/reactor.ts';
import type { ApiLimits } from '../limits.ts';
import type { PriceHub } from '../priceHub.ts';
import type { TriggerFeed } from '../triggerFeed.ts';

export interface ApiServices {
  config: Config;
  client: StoreClient;
  reactor: Reactor;
  triggers: TriggerFeed;
  prices: PriceHub;
  backtests: BacktestThreads;
  limits: ApiLimits;
  logger: Logger;
}
