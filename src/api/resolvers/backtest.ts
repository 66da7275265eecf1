// The public `backtest` query: the CLI's replay from the store, capped at CONTRACT §4's trade limit.
import { backtestFromStore } from '../../backtest/index.ts';
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
  return {
    Query: {
      backtest: async (_: unknown, args: { input: BacktestInput }, context: ApiContext) => {
        const { input } = args;
        checkProduct(services, input.product, 'input.product');
        const report = await backtestFromStore({
          client: services.client,
          product: input.product,
          alerts: input.alerts,
          from: input.from,
          to: input.to,
          products: services.config.PRICEALERT_PRODUCTS,
          windows: services.config.PRICEALERT_WINDOWS,
          maxTrades: services.limits.maxBacktestTrades,
          signal: context.signal,
        });
        return { ...report, elapsedMs: Math.round(report.elapsedMs) };
      },
    },
  };
}
