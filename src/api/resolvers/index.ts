// All resolvers, one object per server; domain errors become GraphQL errors here, once.
import { DomainError } from '../../domain/errors.ts';
import { userError } from '../errors.ts';
import { DateTime, Decimal } from '../scalars.ts';
import { alertResolvers } from './alerts.ts';
import { backtestResolvers } from './backtest.ts';
import { marketResolvers } from './market.ts';
import type { ApiServices } from './services.ts';
import { webhookResolvers } from './webhooks.ts';

type Resolver = (...args: never[]) => unknown;

/** The resolver with DomainError (code, field) turned into the GraphQL error the client sees. */
function translated<F extends Resolver>(resolver: F): F {
  const translate = (error: unknown): never => {
    if (error instanceof DomainError) throw userError(error.code, error.message, error.field);
    throw error;
  };
  return ((...args: Parameters<F>) => {
    try {
      const result = resolver(...args);
      return result instanceof Promise ? result.catch(translate) : result;
    } catch (error) {
      return translate(error);
    }
  }) as F;
}

function translateAll<T extends Record<string, Resolver | { subscribe: Resolver; resolve: Resolver }>>(
  resolvers: T,
): T {
  return Object.fromEntries(
    Object.entries(resolvers).map(([name, resolver]) => [
      name,
      typeof resolver === 'function'
        ? translated(resolver)
        : { subscribe: translated(resolver.subscribe), resolve: translated(resolver.resolve) },
    ]),
  ) as T;
}

export function createResolvers(services: ApiServices) {
  const market = marketResolvers(services);
  const alerts = alertResolvers(services);
  const backtest = backtestResolvers(services);
  const webhooks = webhookResolvers(services);
  return {
    Decimal,
    DateTime,
    Query: translateAll({ ...market.Query, ...alerts.Query, ...backtest.Query, ...webhooks.Query }),
    Mutation: translateAll({ ...market.Mutation, ...alerts.Mutation, ...webhooks.Mutation }),
    Subscription: translateAll({ ...market.Subscription, ...alerts.Subscription }),
  };
}
