// A big public backtest next to well-behaved clients: it runs in a thread of its own, only so many run at
// once per client and in all, and a client that goes away takes its backtest (and thread) with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, eventually, gql, startHarness, type GqlResponse, type Harness } from '../api/harness.ts';
import { appendTrades, tape } from '../backtest/tape.ts';

const BACKTEST = `query($input: BacktestInput!) { backtest(input: $input) { tradesReplayed } }`;
// 20,000 alerts over 20,000 trades (the size): far longer than any test here waits, so a
// backtest that was not ended when its client left would still be running when these tests look.
const TRADES = [...tape({ count: 20_000, maxGapMicros: 100_000, seed: 13 })];
const BIG = {
  product: 'BTC-USD',
  alerts: Array.from({ length: 20_000 }, (_, index) => ({
    direction: index % 2 === 0 ? 'ABOVE' : 'BELOW',
    threshold: index % 2 === 0 ? String(1_000_000 + index) : '0.01',
    measure: ['LAST', 'MEAN', 'VWAP'][index % 3],
    window: index % 4 === 0 ? '1m' : '10m',
  })),
};

let harness: Harness;

/** A backtest request its caller can walk away from; `settled` says whether the answer has come. */
function startBig(token?: string) {
  const abort = new AbortController();
  const state = { settled: false };
  const response = fetch(harness.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: BACKTEST, variables: { input: BIG } }),
    signal: abort.signal,
  }).then(
    async (answer) => {
      state.settled = true;
      return (await answer.json()) as GqlResponse;
    },
    (error: unknown) => {
      state.settled = true;
      return error;
    },
  );
  return { state, response, leave: () => abort.abort() };
}

const running = (count: number) => () => (harness.api.runningBacktests === count ? true : undefined);

beforeAll(async () => {
  harness = await startHarness({
    maxBacktestAlerts: 20_000,
    maxBacktestAlertsWithToken: 20_000,
    maxBacktestsPerClient: 1,
    maxBacktestsRunning: 2,
  });
  await appendTrades(harness.store.client, TRADES);
});
afterAll(() => harness?.stop());

describe('a big backtest', () => {
  it('does not hold up other clients: their queries complete while it is still running', async () => {
    const big = startBig();
    await eventually(running(1));
    for (let round = 0; round < 10; round += 1) {
      const answer = await gql(
        harness.url,
        '{ products price(product: "BTC-USD", window: "1m") { last count } }',
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.products).toEqual(['BTC-USD', 'ETH-USD']);
      expect(big.state.settled).toBe(false);
    }
    expect(harness.api.runningBacktests).toBe(1);

    big.leave();
    expect(await big.response).toMatchObject({ name: 'AbortError' });
    // The client left: its thread is terminated long before the replay could have ended.
    await eventually(running(0));
  });

  it('runs at most one per client and two in all, LIMIT_EXCEEDED beyond, and frees a slot when its client leaves', async () => {
    const [bob, carol] = await Promise.all([harness.token('bob'), harness.token('carol')]);
    const anonymous = startBig();
    await eventually(running(1));

    // Another anonymous request from the same address is the same client.
    const second = await gql(harness.url, BACKTEST, { input: BIG });
    expect(codes(second)).toEqual(['LIMIT_EXCEEDED']);
    expect(second.errors![0]!.message).toContain('at most 1 backtests run at once per client');

    const bobs = startBig(bob);
    await eventually(running(2));
    const bobAgain = await gql(harness.url, BACKTEST, { input: BIG }, bob);
    expect(codes(bobAgain)).toEqual(['LIMIT_EXCEEDED']);
    const carols = await gql(harness.url, BACKTEST, { input: BIG }, carol);
    expect(codes(carols)).toEqual(['LIMIT_EXCEEDED']);
    expect(carols.errors![0]!.message).toContain('at most 2 backtests at once');
    expect(anonymous.state.settled || bobs.state.settled).toBe(false);

    anonymous.leave();
    bobs.leave();
    await eventually(running(0));
    const small = await gql(harness.url, BACKTEST, {
      input: { product: 'BTC-USD', alerts: [{ direction: 'ABOVE', threshold: '1', measure: 'LAST' }] },
    });
    expect(small.errors).toBeUndefined();
    expect(small.data!.backtest.tradesReplayed).toBe(TRADES.length);
  });
});
