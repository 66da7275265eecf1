// The GraphQL server: yoga over HTTP (GraphiQL included) and graphql-ws on the same /graphql path.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventStoreDBClient } from '@eventstore/db-client';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createGraphQLError, createSchema, createYoga } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Reactor } from '../runtime/reactor.ts';
import { loadSecret } from './auth.ts';
import { createContext, type ApiContext } from './context.ts';
import { isGraphQLError } from './errors.ts';
import { answerClientErrors } from './httpErrors.ts';
import { DEFAULT_LIMITS, type ApiLimits } from './limits.ts';
import { armorPlugins, useBodyErrors, useErrorCodes, useRateLimits, useRequestLog } from './plugins.ts';
import { startPriceHub } from './priceHub.ts';
import { createResolvers } from './resolvers/index.ts';
import { startTriggerLog } from './triggerLog.ts';
import { attachWebSocket } from './ws.ts';

export const GRAPHQL_PATH = '/graphql';
const STOP_GRACE_MS = 2_000;
const SCHEMA_FILE = new URL('../../schema/schema.graphql', import.meta.url);

export interface ApiServerOptions {
  config: Config;
  store: { client: EventStoreDBClient };
  reactor: Reactor;
  logger: Logger;
  /** Overrides of DEFAULT_LIMITS (tests use small ones). */
  limits?: Partial<ApiLimits>;
}

export interface ApiServer {
  /** `http://host:port/graphql`: GraphiQL in a browser, GraphQL over HTTP, and `ws://` on the same path. */
  url: string;
  /** Stops accepting, closes WebSockets with 1001, ends the trigger subscription. */
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

/** The mutation rate limits the environment sets; the others keep their defaults. */
function rateLimitsOf(config: Config): Partial<ApiLimits> {
  const [userMutationsPerSecond, userMutationBurst] = config.PRICEALERT_USER_RATE ?? [];
  const [addressMutationsPerSecond, addressMutationBurst] = config.PRICEALERT_ADDR_RATE ?? [];
  return Object.fromEntries(
    Object.entries({
      userMutationsPerSecond,
      userMutationBurst,
      addressMutationsPerSecond,
      addressMutationBurst,
    }).filter(([, value]) => value !== undefined),
  );
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { config, store, reactor } = options;
  const logger = options.logger.child({ component: 'api' });
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...rateLimitsOf(config), ...options.limits };
  const secret = await loadSecret(config);
  const triggers = startTriggerLog(
    store.client,
    logger.child({ component: 'triggers' }),
    limits.maxTriggersKept,
  );
  const prices = startPriceHub(reactor);
  const services = { config, client: store.client, reactor, triggers, prices, limits, logger };

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
    context: createContext(secret, limits) as never,
    plugins: [
      ...armorPlugins(limits),
      useErrorCodes(),
      useBodyErrors(),
      useRateLimits(limits),
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

  const httpServer = createServer(yoga);
  answerClientErrors(httpServer);
  const ws = attachWebSocket({ httpServer, path: GRAPHQL_PATH, yoga, secret, limits, logger });
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
    await triggers.stop();
    throw error;
  }
  const { address, port } = httpServer.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}${GRAPHQL_PATH}`;
  logger.info({ url }, 'GraphQL API listening');

  let stopping: Promise<void> | undefined;
  return {
    url,
    stop: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        await ws.dispose();
        // In-flight requests get a moment to finish; open SSE streams and keep-alives are then cut.
        httpServer.closeIdleConnections();
        const cut = setTimeout(() => httpServer.closeAllConnections(), STOP_GRACE_MS);
        await closed;
        clearTimeout(cut);
        prices.stop();
        await triggers.stop();
        logger.info('GraphQL API stopped');
      })()),
  };
}
