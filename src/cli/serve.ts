// `pricealert serve` (= `npm start`): the store, the reactor, the GraphQL API and the trade feed, until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { startApiServer } from '../api/server.ts';
import { loadConfig } from '../config.ts';
import { recordTrades } from '../domain/trades.ts';
import { openStore } from '../eventstore/connect.ts';
import { startFeed } from '../feeds/index.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { startReactor } from '../runtime/reactor.ts';
import { UsageError } from './errors.ts';

interface ServeOptions {
  host?: string;
  port?: string;
  data?: string;
}

export function defineServe(command: Command): void {
  command
    .option('--host <address>', 'GraphQL bind address (HOST, default 127.0.0.1)')
    .option('--port <n>', 'GraphQL port, 0 for any free one (PORT, default 4000)')
    .option(
      '--data <dir>',
      'data dir for the embedded store and the token secret (PRICEALERT_DATA_DIR, default ./data)',
    )
    .action(async (options: ServeOptions) => {
      const config = loadConfig(process.env, {
        HOST: options.host,
        PORT: options.port,
        PRICEALERT_DATA_DIR: options.data,
      });
      await serve(config);
    });
}

async function serve(config: ReturnType<typeof loadConfig>): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  // Each part is stopped in the reverse order of starting: no new trades, no new clients, the
  // reactor's checkpoint saved, then the node.
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.error({ err: error }, 'error while shutting down');
      }
    }
  };
  // Listened for from the start: a signal while the projections catch up stops as cleanly as later.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

  let signal: NodeJS.Signals | undefined;
  try {
    const store = await openStore(config, logger);
    stops.push(() => store.close());
    const metrics = createMetrics();
    // Every append pricealert makes (trades, alert changes, checkpoints) is timed for /metrics.
    const client = metrics.timeAppends(store.client);
    const reactor = await startReactor({ client, config, logger, observer: metrics.reactor });
    stops.push(() => reactor.stop());
    const api = await startApiServer({
      config,
      store: { client, connectionString: store.connectionString },
      reactor,
      logger,
      metrics,
    }).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw new UsageError(
        `${config.HOST}:${config.PORT} is already in use; choose another with --port or PORT`,
      );
    });
    stops.push(() => api.stop());
    const feed = await startFeed({
      config,
      record: (trades) => recordTrades(client, trades, { products: config.PRICEALERT_PRODUCTS }),
      logger,
    });
    stops.push(() => feed.stop());
    metrics.watchFeed(feed);
    // The API answers /health (and /ready with 503) at once; the address is announced once ready.
    signal = await Promise.race([reactor.ready.then(() => undefined), signalled]);
    if (!signal)
      process.stdout.write(
        `pricealert: GraphiQL at ${api.url} (feed: ${config.PRICEALERT_FEED}; Ctrl-C stops)\n`,
      );
  } catch (error) {
    await stopAll();
    throw error;
  }

  signal ??= await signalled;
  logger.info({ signal }, 'shutting down');
  // A second signal while shutting down means "now".
  const force = (): never => process.exit(1);
  process.once('SIGTERM', force).once('SIGINT', force);
  await stopAll();
  logger.info('stopped');
}
