// Reads a product's trade stream back from the store, as the tests' "what did the user get" check.
import { tradeStream } from '../../src/domain/types.ts';
import { readStream, type StoreClient } from '../../src/eventstore/store.ts';

export async function storedTrades(client: StoreClient, product: string): Promise<Record<string, unknown>[]> {
  const trades: Record<string, unknown>[] = [];
  for await (const event of readStream(client, tradeStream(product)))
    trades.push(event.data as Record<string, unknown>);
  return trades;
}
