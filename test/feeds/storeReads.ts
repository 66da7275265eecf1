// Reads a product's trade stream back from the store, as the tests' "what did the user get" check.
import { StreamNotFoundError, type EventStoreDBClient } from '@eventstore/db-client';
import { tradeStream } from '../../src/domain/types.ts';

export async function storedTrades(
  client: EventStoreDBClient,
  product: string,
): Promise<Record<string, unknown>[]> {
  const trades: Record<string, unknown>[] = [];
  try {
    for await (const resolved of client.readStream(tradeStream(product))) {
      if (resolved.event) trades.push(resolved.event.data as Record<string, unknown>);
    }
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  return trades;
}
