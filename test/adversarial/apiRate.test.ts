// Mutation floods: one user (or one address) is slowed down with RATE_LIMITED, nobody else is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, connect, gql, startHarness, type Harness } from '../api/harness.ts';
import { recordPrices } from '../api/trades.ts';

const CREATE = `mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "100" }) { id } }`;

let harness: Harness;

beforeAll(async () => {
  // Slow refills, so that nothing is refilled while a test runs.
  harness = await startHarness({
    userMutationsPerSecond: 0.1,
    userMutationBurst: 5,
    addressMutationsPerSecond: 0.1,
    addressMutationBurst: 14,
  });
});
afterAll(() => harness?.stop());

/** Sends `count` createAlerts as `token` over HTTP; the raw responses, with their Retry-After header. */
async function flood(token: string, count: number) {
  const responses = [];
  for (let index = 0; index < count; index += 1) {
    const response = await fetch(harness.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: CREATE }),
    });
    const body = (await response.json()) as {
      errors?: { message: string; extensions: { code: string; retryAfter?: number } }[];
    };
    responses.push({ status: response.status, retryAfter: response.headers.get('retry-after'), body });
  }
  return responses;
}

describe('mutation rate limits', () => {
  it('per user: past the burst, 429 RATE_LIMITED with Retry-After; another user is not slowed', async () => {
    const ok = await flood(await harness.token('flooder'), 6);
    expect(ok.slice(0, 5).every((response) => response.status === 200 && !response.body.errors)).toBe(true);
    const last = ok[5]!;
    expect(last.status).toBe(429);
    expect(Number(last.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(last.body.errors![0]!.extensions).toEqual({
      code: 'RATE_LIMITED',
      retryAfter: Number(last.retryAfter),
    });

    const other = await flood(await harness.token('patient'), 1);
    expect(other[0]!.body.errors).toBeUndefined();
    // Queries are never rate limited.
    const read = await gql(harness.url, '{ alerts { id } }', {}, await harness.token('flooder'));
    expect(read.data!.alerts).toHaveLength(5);
  });

  it('over WebSocket too, as an error with retryAfter', async () => {
    const client = connect(harness.wsUrl, await harness.token('flooder'));
    const outcome = await new Promise<unknown>((resolve) =>
      client.client.subscribe({ query: CREATE }, { next: resolve, error: resolve, complete: () => {} }),
    );
    expect(outcome).toMatchObject({
      errors: [{ extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) } }],
    });
    await client.dispose();
  });

  it('per address: many users from one address share its bucket; feeders are exempt', async () => {
    // 8 mutations so far from this address (6 + 1 + 1): two users of 5 each exhaust the 14.
    const results = await Promise.all(['u1', 'u2'].map(async (user) => flood(await harness.token(user), 5)));
    const refused = results.flat().filter((response) => response.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(codes({ status: 429, ...refused[0]!.body })).toEqual(['RATE_LIMITED']);
    await recordPrices(harness, await harness.token('feeder', 'feeder'), ['1', '2', '3', '4', '5', '6']);
  });
});
