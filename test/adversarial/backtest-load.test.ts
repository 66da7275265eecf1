// A big public backtest next to well-behaved clients: it runs in a thread of its own, only so many run at
// once per client and in all, and a client that goes away takes its backtest (and thread) with it.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, eventually, gql, startHarness, type Harness } from '../api/harness.ts';
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

/**
 * A backtest request its caller can walk away from (`leave` closes the connection), sent from
 * `localAddress` (any 127.x address reaches the server on Linux); `settled` says whether the answer came.
 */
function startBig(options: { token?: string; localAddress?: string } = {}) {
  const state = { settled: false };
  const url = new URL(harness.url);
  const request = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    localAddress: options.localAddress,
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
  });
  const response = new Promise<unknown>((resolve) => {
    request.on('response', (answer) => {
      let text = '';
      answer.on('data', (chunk: Buffer) => (text += chunk.toString()));
      answer.on('end', () => {
        state.settled = true;
        resolve(JSON.parse(text));
      });
    });
    request.on('error', (error) => {
      state.settled = true;
      resolve(error);
    });
  });
  request.end(JSON.stringify({ query: BACKTEST, variables: { input: BIG } }));
  return { state, response, leave: () => request.destroy() };
}

/** Each request carries 20,000 alerts and each backtest starts a thread: slow on a busy machine. */
const SLOW = 60_000;
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
  it(
    'does not hold up other clients: their queries complete while it is still running',
    async () => {
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
      expect(await big.response).toBeInstanceOf(Error);
      // The client left: its thread is terminated long before the replay could have ended.
      await eventually(running(0));
    },
    SLOW,
  );

  it(
    'runs at most one per client and two in all, LIMIT_EXCEEDED beyond, and frees a slot when its client leaves',
    async () => {
      const [bob, carol] = await Promise.all([harness.token('bob'), harness.token('carol')]);
      const here = startBig({ localAddress: '127.0.0.1' });
      await eventually(running(1));

      // Another anonymous request from the same address is the same client; from another address, another.
      const again = await gql(harness.url, BACKTEST, { input: BIG });
      expect(codes(again)).toEqual(['LIMIT_EXCEEDED']);
      expect(again.errors![0]!.message).toContain('at most 1 backtests run at once per client');
      const there = startBig({ localAddress: '127.0.0.2' });
      await eventually(running(2));

      const carols = await gql(harness.url, BACKTEST, { input: BIG }, carol);
      expect(codes(carols)).toEqual(['LIMIT_EXCEEDED']);
      expect(carols.errors![0]!.message).toContain('at most 2 backtests at once');
      expect(here.state.settled || there.state.settled).toBe(false);
      here.leave();
      there.leave();
      await eventually(running(0));

      // A token's user is one client, whatever address it comes from.
      const bobs = startBig({ token: bob, localAddress: '127.0.0.3' });
      await eventually(running(1));
      const bobAgain = await gql(harness.url, BACKTEST, { input: BIG }, bob);
      expect(codes(bobAgain)).toEqual(['LIMIT_EXCEEDED']);
      expect(bobAgain.errors![0]!.message).toContain('per client');
      bobs.leave();
      await eventually(running(0));

      const small = await gql(harness.url, BACKTEST, {
        input: { product: 'BTC-USD', alerts: [{ direction: 'ABOVE', threshold: '1', measure: 'LAST' }] },
      });
      expect(small.errors).toBeUndefined();
      expect(small.data!.backtest.tradesReplayed).toBe(TRADES.length);
    },
    SLOW,
  );
});
