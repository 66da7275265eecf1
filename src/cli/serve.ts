// `pricealert serve` (= `npm start`): the store, the reactor, the GraphQL API and the trade feed, until
// SIGTERM/SIGINT; `--role` runs only some of them, to run each in processes of its own (README: Roles).
import type { Command } from 'commander';
import { reactorReadiness, startHealthServer } from '../api/health.ts';
import { startApiServer } from '../api/server.ts';
import { loadConfig, type Config, type Role } from '../config.ts';
import { recordTrades } from '../domain/trades.ts';
import { openStore } from '../eventstore/connect.ts';
import { startFeed } from '../feeds/index.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { startLeases } from '../runtime/leases.ts';
import { startReactor, type Reactor } from '../runtime/reactor.ts';
import { startWebhookWorker } from '../webhooks/worker.ts';
import { UsageError } from './errors.ts';

interface ServeOptions {
  host?: string;
  port?: string;
  data?: string;
  role?: string;
}

export function defineServe(command: Command): void {
  command
    .option('--host <address>', 'GraphQL bind address (HOST, default 127.0.0.1)')
    .option('--port <n>', 'GraphQL port, 0 for any free one (PORT, default 4000)')
    .option(
      '--data <dir>',
      'data dir for the embedded store and the token secret (PRICEALERT_DATA_DIR, default ./data)',
    )
    .option(
      '--role <list>',
      'what to run, comma-separated: api, reactor, feed, or all (PRICEALERT_ROLE, default all)',
    )
    .action(async (options: ServeOptions) => {
      const config = loadConfig(process.env, {
        HOST: options.host,
        PORT: options.port,
        PRICEALERT_DATA_DIR: options.data,
        PRICEALERT_ROLE: options.role,
      });
      await serve(config);
    });
}

async function serve(config: Config): Promise<void> {
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
    const roles = new Set(config.PRICEALERT_ROLE);
    const all = roles.has('all');
    const runs = (role: Role): boolean => all || roles.has(role);

    // The read models: a reactor decides the products it holds a lease on and follows the rest; an
    // API without a reactor follows every product and writes nothing. `all` decides every product.
    let reactor: Reactor | undefined;
    if (runs('reactor') || runs('api')) {
      const leases =
        runs('reactor') && !all
          ? await startLeases({ client, products: config.PRICEALERT_PRODUCTS, logger })
          : undefined;
      if (leases) {
        stops.push(() => leases.stop());
        metrics.watchLeases(leases);
      }
      reactor = await startReactor({
        client,
        config,
        logger,
        observer: metrics.reactor,
        readOnly: !runs('reactor'),
        ...(leases ? { leadership: leases } : {}),
      });
      const started = reactor;
      stops.push(() => started.stop());
      metrics.watchReactor(reactor);
    }
    if (runs('reactor')) {
      // Webhook deliveries run beside each reactor (several may: see README, Webhooks).
      const webhooks = startWebhookWorker({ client, config, logger });
      stops.push(() => webhooks.stop());
    }

    // The parts each role adds start here, in the order they stop in reverse.
    let announce: string;
    if (runs('api')) {
      const api = await startApiServer({
        config,
        store: { client, connectionString: store.connectionString },
        reactor: reactor!,
        logger,
        metrics,
      }).catch(inUse(config));
      stops.push(() => api.stop());
      announce = `GraphiQL at ${api.url}`;
    } else {
      // Containers probe every role alike: /health, /ready and /metrics on PORT.
      const health = await startHealthServer({
        host: config.HOST,
        port: config.PORT,
        readiness: reactor ? reactorReadiness(reactor) : () => ({ ready: true }),
        metrics,
        logger,
      }).catch(inUse(config));
      stops.push(() => health.stop());
      announce = `health at ${health.url}/health`;
    }
    if (runs('feed')) {
      const feed = await startFeed({
        config,
        record: (trades) => recordTrades(client, trades, { products: config.PRICEALERT_PRODUCTS }),
        logger,
      });
      stops.push(() => feed.stop());
      metrics.watchFeed(feed);
    }

    // /health answers (and /ready with 503) at once; the address is announced once ready.
    signal = await Promise.race([(reactor?.ready ?? Promise.resolve()).then(() => undefined), signalled]);
    if (!signal) {
      const parts = all ? 'all' : [...roles].join(', ');
      process.stdout.write(
        `pricealert: ${announce} (roles: ${parts}; feed: ${runs('feed') ? config.PRICEALERT_FEED : 'none'}; Ctrl-C stops)\n`,
      );
    }
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

/** Turns a port already taken into a one-line usage error. */
function inUse(config: Config) {
  return (error: unknown): never => {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new UsageError(
      `${config.HOST}:${config.PORT} is already in use; choose another with --port or PORT`,
    );
  };
}
