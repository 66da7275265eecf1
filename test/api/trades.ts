// Trades for API tests: a feeder records them one by one through the `recordTrade` mutation.
import { gql, type Harness } from './harness.ts';

const RECORD = `mutation($input: RecordTradeInput!) { recordTrade(input: $input) { tradeId price time } }`;

let sequence = 0;
const BASE = Date.parse('2026-11-26T08:00:00Z');

/** Records trades of `product` at the given prices, one second apart, and returns their ids. */
export async function recordPrices(
  harness: Harness,
  feederToken: string,
  prices: string[],
  product = 'BTC-USD',
): Promise<string[]> {
  const ids: string[] = [];
  for (const price of prices) {
    sequence += 1;
    const tradeId = `t${sequence}`;
    const time = new Date(BASE + sequence * 1000).toISOString().replace('Z', '123Z');
    const response = await gql(
      harness.url,
      RECORD,
      { input: { product, tradeId, price, size: '0.5', side: 'buy', time } },
      feederToken,
    );
    if (response.errors) throw new Error(`recordTrade failed: ${JSON.stringify(response.errors)}`);
    ids.push(tradeId);
  }
  return ids;
}
