// A real store node, reactor, API and webhook worker(s) in this process, for webhook tests and benchmarks.
import { signToken, loadSecret } from '../../src/api/auth.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { createLogger } from '../../src/logger.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startWebhookWorker, type WebhookWorker } from '../../src/webhooks/worker.ts';
import { gql, type Data } from '../api/harness.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

export interface WebhookSetup {
  config: Config;
  store: TestStore;
  reactor: Reactor;
  api: ApiServer;
  workers: WebhookWorker[];
  url: string;
  token(userId: string): Promise<string>;
  /** A GraphQL request as `userId`; throws on errors unless `allowErrors`. */
  as(userId: string, query: string, variables?: Record<string, unknown>): Promise<Data>;
  /** Records a trade at `price` (BTC-USD, size 1), a second after the previous one. */
  trade(price: string): Promise<void>;
  stop(): Promise<void>;
}

let tradeCount = 0;

/** `env` overrides the webhook settings; by default private targets are allowed and retries are quick. */
export async function startWebhookSetup(
  env: Record<string, string> = {},
  options: { workers?: number; store?: TestStore } = {},
): Promise<WebhookSetup> {
  const store = options.store ?? (await startTestStore());
  const config = loadConfig({
    PORT: '0',
    PRICEALERT_DATA_DIR: store.dataDir,
    PRICEALERT_FEED: 'none',
    PRICEALERT_WINDOWS: '1m,10m',
    PRICEALERT_WEBHOOK_ALLOW_PRIVATE: 'true',
    PRICEALERT_WEBHOOK_RETRY: '20ms,200ms,24h',
    PRICEALERT_USER_RATE: '1000,1000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const reactor = await startReactor({ client: store.client, config, logger });
  const workers = Array.from({ length: options.workers ?? 1 }, (_, index) =>
    startWebhookWorker({ client: store.client, config, logger, workerId: `worker-${index}` }),
  );
  await Promise.all(workers.map((worker) => worker.ready));
  const api = await startApiServer({
    config,
    store: { client: store.client, connectionString: store.connectionString },
    reactor,
    logger,
  });
  const secret = await loadSecret(config);
  const token = (userId: string) => signToken(secret, { userId, role: 'user' }, 3600);
  return {
    config,
    store,
    reactor,
    api,
    workers,
    url: api.url,
    token,
    async as(userId, query, variables = {}) {
      const response = await gql(api.url, query, variables, await token(userId));
      if (response.errors) throw new Error(JSON.stringify(response.errors));
      return response.data!;
    },
    async trade(price) {
      tradeCount += 1;
      await recordTrades(
        store.client,
        [
          {
            product: 'BTC-USD',
            tradeId: `w${Date.now()}-${tradeCount}`,
            price,
            size: '1',
            side: 'buy',
            time: new Date(Date.UTC(2026, 10, 26) + tradeCount * 1000).toISOString(),
            source: 'test',
          },
        ],
        { products: ['BTC-USD'] },
      );
    },
    async stop() {
      await api.stop();
      await Promise.all(workers.map((worker) => worker.stop()));
      await reactor.stop();
      if (!options.store) await store.stop();
    },
  };
}

export const CREATE_WEBHOOK = `mutation ($url: String!, $description: String, $alertIds: [ID!]) {
  createWebhook(url: $url, description: $description, alertIds: $alertIds) {
    secret
    webhook { id url description alertIds status createdAt }
  }
}`;

export const CREATE_ALERT = `mutation ($threshold: Decimal!) {
  createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: $threshold, measure: LAST, repeat: true }) { id }
}`;

export const DELIVERIES = `query ($id: ID!, $after: ID) {
  webhookDeliveries(webhookId: $id, after: $after) {
    id kind outcome nextAttemptAt finishedAt
    attempts { attempt startedAt attemptedAt ok statusCode error ms }
  }
}`;
