// Products, prices and trades: public reads, `recordTrade` for feeders, the `price` subscription.
import { parseEvent, type TradeRecorded } from '../../domain/events.ts';
import { recordTrade } from '../../domain/trades.ts';
import { ALL_WINDOW, tradeStream, type TradeInput } from '../../domain/types.ts';
import { BACKWARDS, END, readStream } from '../../eventstore/store.ts';
import { followInto } from '../channel.ts';
import { requireViewer, type ApiContext } from '../context.ts';
import { badInput, userError } from '../errors.ts';
import { untilReady } from '../readiness.ts';
import type { ApiServices } from './services.ts';

/** GraphQL's Trade: a TradeRecorded without its source. */
export const tradeView = ({ source: _source, ...trade }: TradeRecorded) => trade;

export function checkProduct(services: ApiServices, product: string, field = 'product'): void {
  const products = services.config.PRICEALERT_PRODUCTS;
  if (!products.includes(product))
    throw badInput(field, `${product.slice(0, 40)} is not a configured product (${products.join(', ')})`);
}

export function checkWindow(services: ApiServices, window: string, field = 'window'): void {
  const windows = services.config.PRICEALERT_WINDOWS;
  if (window !== ALL_WINDOW && !windows.includes(window)) {
    throw badInput(
      field,
      `${window.slice(0, 40)} is not a configured window (${[...windows, ALL_WINDOW].join(', ')})`,
    );
  }
}

export function checkPageSize(services: ApiServices, value: number, field: string): void {
  if (value < 1 || value > services.limits.maxPageSize)
    throw badInput(field, `must be between 1 and ${services.limits.maxPageSize}`);
}

export function marketResolvers(services: ApiServices) {
  const price = (product: string, window: string) => {
    checkProduct(services, product);
    checkWindow(services, window);
    return services.reactor.views.price(product, window) ?? null;
  };

  return {
    Query: {
      products: () => services.config.PRICEALERT_PRODUCTS,
      price: (_: unknown, args: { product: string; window: string }) => price(args.product, args.window),
      trades: async (_: unknown, args: { product: string; last: number }) => {
        checkProduct(services, args.product);
        checkPageSize(services, args.last, 'last');
        const trades = [];
        const events = readStream(services.client, tradeStream(args.product), {
          direction: BACKWARDS,
          fromRevision: END,
          maxCount: args.last,
        });
        for await (const recorded of events) {
          const parsed = parseEvent(recorded.type, recorded.data);
          if (parsed.ok && parsed.event.type === 'TradeRecorded') trades.push(tradeView(parsed.event.data));
        }
        return trades;
      },
    },
    Mutation: {
      recordTrade: async (_: unknown, args: { input: TradeInput }, context: ApiContext) => {
        const viewer = requireViewer(context);
        if (viewer.role === 'user')
          throw userError('FORBIDDEN', 'recording trades needs a token with role feeder or admin');
        const { trade, conflictingFields } = await recordTrade(services.client, args.input, {
          products: services.config.PRICEALERT_PRODUCTS,
        });
        if (conflictingFields.length > 0)
          services.logger.warn(
            { product: trade.product, tradeId: trade.tradeId, source: trade.source, conflictingFields },
            'recordTrade: the trade id was already recorded with other values; kept the stored trade',
          );
        return { ...tradeView(trade), conflictingFields };
      },
    },
    Subscription: {
      price: {
        subscribe: async (_: unknown, args: { product: string; window: string }, context: ApiContext) => {
          checkProduct(services, args.product);
          checkWindow(services, args.window);
          await untilReady(services.reactor);
          return followInto<unknown>(context.outlet, (channel) => {
            // The current figures first, so a subscriber need not query and subscribe separately.
            const current = services.reactor.views.price(args.product, args.window);
            if (current) channel.push(current);
            return services.prices.follow(args.product, args.window, (value) => channel.push(value));
          });
        },
        resolve: (value: unknown) => value,
      },
    },
  };
}
