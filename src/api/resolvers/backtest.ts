// The public `backtest` query: the CLI's replay from the store, in a worker thread, within the API's limits
// on trades read, alerts, triggers returned and backtests running at once (src/api/limits.ts).
import { createGraphQLError } from 'graphql-yoga';
import { DomainError } from '../../domain/errors.ts';
import type { ApiContext } from '../context.ts';
import { checkProduct } from './market.ts';
import type { ApiServices } from './services.ts';

interface BacktestInput {
  product: string;
  from?: string | null;
  to?: string | null;
  alerts: unknown[];
}

export function backtestResolvers(services: ApiServices) {
  const { limits, config } = services;
  return {
    Query: {
      backtest: async (_: unknown, args: { input: BacktestInput }, context: ApiContext) => {
        const { input } = args;
        checkProduct(services, input.product, 'input.product');
        const maxAlerts = context.viewer ? limits.maxBacktestAlertsWithToken : limits.maxBacktestAlerts;
        if (input.alerts.length > maxAlerts) {
          const more = context.viewer ? '' : ` (${limits.maxBacktestAlertsWithToken} with a token)`;
          throw new DomainError(
            'LIMIT_EXCEEDED',
            `a backtest tests at most ${maxAlerts} alerts${more}; the CLI has no cap`,
            'input.alerts',
          );
        }
        // A token's user is one client wherever it connects from; anonymous callers are told apart by address.
        const client = context.viewer ? `user:${context.viewer.userId}` : `ip:${context.ip ?? 'unknown'}`;
        const report = await services.backtests
          .run(
            client,
            {
              product: input.product,
              alerts: input.alerts,
              from: input.from,
              to: input.to,
              products: config.PRICEALERT_PRODUCTS,
              windows: config.PRICEALERT_WINDOWS,
              maxTrades: limits.maxBacktestTrades,
              maxTriggers: limits.maxBacktestTriggers,
            },
            context.signal,
          )
          .catch((error: unknown) => {
            // Nobody reads this answer; a code of its own keeps a departed client from being logged
            // as a server failure (nginx calls it 499, Client Closed Request).
            if (context.signal?.aborted) {
              throw createGraphQLError('the client went away before the backtest finished', {
                extensions: { code: 'CLIENT_CLOSED_REQUEST' },
              });
            }
            throw error;
          });
        return { ...report, elapsedMs: Math.round(report.elapsedMs) };
      },
    },
  };
}
