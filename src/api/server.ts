// The GraphQL server: yoga over HTTP (GraphiQL included) and graphql-ws on the same /graphql path.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createGraphQLError, createSchema, createYoga } from 'graphql-yoga';
import { startBacktestThreads } from '../backtest/thread.ts';
import type { Config } from '../config.ts';
import type { StoreClient } from '../eventstore/store.ts';
import { packageFile } from '../layout.ts';
import type { Logger } from '../logger.ts';
import { createMetrics, type Metrics } from '../metrics.ts';
import type { Reactor } from '../runtime/reactor.ts';
import { loadSecret } from './auth.ts';
import { createContext, type ApiContext } from './context.ts';
import { dashboardRoutes } from './dashboard.ts';
import { answerHealth, reactorReadiness } from './health.ts';
import { isGraphQLError } from './errors.ts';
import { answerClientErrors } from './httpErrors.ts';
import { DEFAULT_LIMITS, type ApiLimits } from './limits.ts';
import { armorPlugins, useBodyErrors, useErrorCodes, useRateLimits, useRequestLog } from './plugins.ts';
import { startPriceHub } from './priceHub.ts';
import { createResolvers } from './resolvers/index.ts';
import { notReady, useReadiness } from './readiness.ts';
import { startTriggerFeed } from './triggerFeed.ts';
import { attachWebSocket } from './ws.ts';

export const GRAPHQL_PATH = '/graphql';
const STOP_GRACE_MS = 2_000;
const SCHEMA_FILE = packageFile('schema/schema.graphql');

export interface ApiServerOptions {
  config: Config;
  /** The store's client, and its connection string for the threads that run backtests. */
  store: { client: StoreClient; connectionString: string };
  reactor: Reactor;
  logger: Logger;
  /** Overrides of DEFAULT_LIMITS (tests use small ones). */
  limits?: Partial<ApiLimits>;
  /** Served at `/metrics`; pass the one the reactor (and feed) report to. Default: a registry of its own. */
  metrics?: Metrics;
}

export interface ApiServer {
  /** `http://host:port/graphql`: GraphiQL in a browser, GraphQL over HTTP, and `ws://` on the same path. */
  url: string;
  /** Backtests running now, each in a worker thread of its own. */
  readonly runningBacktests: number;
  /** Stops accepting, closes WebSockets with 1001, stops following the reactor, ends running backtests. */
  stop(): Promise<void>;
}

/**
 * Errors meant for clients are GraphQLErrors with a code (domain errors are translated in the
 * resolvers); anything else is an internal failure: logged, and shown only as "Unexpected error.".
 */
function maskError(error: unknown, message: string): Error {
  const graphQLError = isGraphQLError(error) ? error : undefined;
  const forClient =
    typeof graphQLError?.extensions.code === 'string' &&
    (graphQLError.originalError === undefined || isGraphQLError(graphQLError.originalError));
  if (forClient) return error as Error;
  return createGraphQLError(message, {
    nodes: graphQLError?.nodes,
    path: graphQLError?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

/** The limits the environment sets (mutation rates, connections per address); the others keep their defaults. */
function limitsOf(config: Config): Partial<ApiLimits> {
  const [userMutationsPerSecond, userMutationBurst] = config.PRICEALERT_USER_RATE ?? [];
  const [addressMutationsPerSecond, addressMutationBurst] = config.PRICEALERT_ADDR_RATE ?? [];
  return Object.fromEntries(
    Object.entries({
      userMutationsPerSecond,
      userMutationBurst,
      addressMutationsPerSecond,
      addressMutationBurst,
      maxConnectionsPerAddress: config.PRICEALERT_ADDR_CONNECTIONS,
    }).filter(([, value]) => value !== undefined),
  );
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { config, store, reactor } = options;
  const logger = options.logger.child({ component: 'api' });
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...limitsOf(config), ...options.limits };
  const secret = await loadSecret(config);
  const metrics = options.metrics ?? createMetrics();
  metrics.watchReactor(reactor);
  const triggers = startTriggerFeed(reactor, metrics.api.triggerDelivered);
  const prices = startPriceHub(reactor);
  const backtests = startBacktestThreads({
    connectionString: store.connectionString,
    maxPerClient: limits.maxBacktestsPerClient,
    maxRunning: limits.maxBacktestsRunning,
    maxHeapMb: limits.maxBacktestHeapMb,
  });
  const services = { config, client: store.client, reactor, triggers, prices, backtests, limits, logger };

  const yoga = createYoga<Record<string, unknown>, ApiContext>({
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- yoga widens the schema's context type per server context
    schema: createSchema<any>({
      typeDefs: await readFile(SCHEMA_FILE, 'utf8'),
      resolvers: createResolvers(services),
    }),
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: { title: 'pricealert', subscriptionsProtocol: 'WS' },
    // GraphiQL's page and scripts are served from this package, not a CDN, so it works offline.
    renderGraphiQL,
    landingPage: false,
    maskedErrors: { isDev: false, maskError },
    context: createContext(secret, limits, () => metrics.api.slowClose('sse')) as never,
    plugins: [
      ...armorPlugins(limits),
      useReadiness(reactor),
      useErrorCodes(),
      useBodyErrors(),
      useRateLimits(limits, metrics.api.rateLimited),
      useRequestLog(logger),
    ],
    logging: {
      debug: (...args) => logger.debug(args.join(' ')),
      info: (...args) => logger.info(args.join(' ')),
      warn: (...args) => logger.warn(args.join(' ')),
      error: (...args) =>
        logger.error(
          { err: args.find((arg) => arg instanceof Error) },
          args.filter((arg) => !(arg instanceof Error)).join(' ') || 'error',
        ),
    },
  });

  const dashboard = dashboardRoutes(config, secret, logger);
  const health = { readiness: reactorReadiness(reactor), metrics, logger };
  const httpServer = createServer((request, response) => {
    response.once('finish', () => metrics.api.httpResponse(response.statusCode));
    const path = request.url?.split('?')[0];
    if (path !== undefined && dashboard.handles(path)) return void dashboard.answer(request, response, path);
    if (answerHealth(path, response, health)) return;
    return yoga(request, response);
  });
  answerClientErrors(httpServer);
  const ws = attachWebSocket({
    httpServer,
    path: GRAPHQL_PATH,
    yoga,
    secret,
    limits,
    logger,
    refuse: (document) => notReady(reactor, document),
    onSlowClose: () => metrics.api.slowClose('ws'),
  });
  metrics.watchApi({
    webSocketConnections: () => ws.connections,
    webSocketSubscriptions: () => ws.subscriptions(),
    runningBacktests: () => backtests.running,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.PORT, config.HOST, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await ws.dispose();
    prices.stop();
    triggers.stop();
    await backtests.stop();
    throw error;
  }
  const { address, port } = httpServer.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}${GRAPHQL_PATH}`;
  logger.info({ url }, 'GraphQL API listening');

  let stopping: Promise<void> | undefined;
  return {
    url,
    get runningBacktests() {
      return backtests.running;
    },
    stop: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        await ws.dispose();
        // A running backtest would hold its request open until the grace period ends.
        await backtests.stop();
        // In-flight requests get a moment to finish; open SSE streams and keep-alives are then cut.
        httpServer.closeIdleConnections();
        const cut = setTimeout(() => httpServer.closeAllConnections(), STOP_GRACE_MS);
        await closed;
        clearTimeout(cut);
        prices.stop();
        triggers.stop();
        logger.info('GraphQL API stopped');
      })()),
  };
}
