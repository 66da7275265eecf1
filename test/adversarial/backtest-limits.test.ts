// The public backtest query within its documented limits: alerts per caller, triggers per report, and
// the counts a ranged report gives (tradesReplayed in [from, to], the warm-up apart).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, gql, startHarness, type Harness } from '../api/harness.ts';
import { appendTrades, tape } from '../backtest/tape.ts';

const BACKTEST = `query($input: BacktestInput!) {
  backtest(input: $input) { tradesReplayed warmUpTrades from to triggers { alertIndex triggeredAt } }
}`;
const TRADES = [...tape({ count: 3_000, maxGapMicros: 1_000_000, seed: 11 })];
const never = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ direction: 'ABOVE', threshold: String(1_000_000 + index) }));

/** Every backtest starts a thread (tsx loads the modules again): slow on a busy machine. */
const SLOW = 60_000;
let harness: Harness;
let alice: string;

beforeAll(async () => {
  harness = await startHarness({ maxBacktestTriggers: 50 });
  alice = await harness.token('alice');
  await appendTrades(harness.store.client, TRADES);
});
afterAll(() => harness?.stop());

describe('backtest limits', () => {
  it(
    'takes 100 alerts from an anonymous caller, and 1000 with a token',
    async () => {
      const run = (count: number, token?: string) =>
        gql(harness.url, BACKTEST, { input: { product: 'BTC-USD', alerts: never(count) } }, token);

      const anonymousOver = await run(101);
      expect(codes(anonymousOver)).toEqual(['LIMIT_EXCEEDED']);
      expect(anonymousOver.errors![0]!.extensions?.field).toBe('input.alerts');
      expect(anonymousOver.errors![0]!.message).toContain('at most 100 alerts (1000 with a token)');
      expect((await run(100)).errors).toBeUndefined();

      const withToken = await run(101, alice);
      expect(withToken.errors).toBeUndefined();
      expect(withToken.data!.backtest.tradesReplayed).toBe(TRADES.length);
      const tokenOver = await run(1_001, alice);
      expect(codes(tokenOver)).toEqual(['LIMIT_EXCEEDED']);
      expect(tokenOver.errors![0]!.message).toContain('at most 1000 alerts');
    },
    SLOW,
  );

  it(
    'refuses a report of more triggers than the cap with LIMIT_EXCEEDED naming `triggers`',
    async () => {
      const input = { product: 'BTC-USD', alerts: [{ direction: 'ABOVE', threshold: '1', measure: 'LAST' }] };
      const few = await gql(harness.url, BACKTEST, { input });
      expect(few.data!.backtest.triggers).toHaveLength(1);

      // Repeat alerts at twenty levels across the tape's prices: each crosses its level many times.
      const prices = TRADES.map((trade) => Number(trade.price));
      const [low, high] = [Math.min(...prices), Math.max(...prices)];
      const chatty = Array.from({ length: 20 }, (_, index) => ({
        direction: 'ABOVE',
        threshold: (low + ((high - low) * (index + 0.5)) / 20).toFixed(2),
        measure: 'LAST',
        repeat: true,
      }));
      const many = await gql(harness.url, BACKTEST, { input: { ...input, alerts: chatty } });
      expect(codes(many)).toEqual(['LIMIT_EXCEEDED']);
      expect(many.errors![0]!.extensions?.field).toBe('triggers');
      expect(many.errors![0]!.message).toMatch(/^triggers: a backtest reports at most 50 triggers/);
      expect(many.data).toBeNull();
    },
    SLOW,
  );

  it('still names the field of a bad alert, checked in the backtest thread', async () => {
    const response = await gql(harness.url, BACKTEST, {
      input: {
        product: 'BTC-USD',
        alerts: [
          { direction: 'ABOVE', threshold: '100' },
          { direction: 'BELOW', threshold: '0' },
        ],
      },
    });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).toMatch(/^alerts\[1\]\.threshold: /);
  });
});

describe('a ranged backtest', () => {
  it('counts the trades in [from, to] as tradesReplayed and the warm-up before them apart', async () => {
    const from = TRADES[1_000]!.time;
    const to = TRADES[2_000]!.time;
    const response = await gql(harness.url, BACKTEST, {
      input: {
        product: 'BTC-USD',
        from,
        to,
        alerts: [{ direction: 'ABOVE', threshold: '1', window: '10m' }],
      },
    });
    expect(response.errors).toBeUndefined();
    const report = response.data!.backtest;
    const inRange = TRADES.filter((trade) => trade.time >= from && trade.time <= to).length;
    // About two trades a second: the 10m window at `from` reaches back some 1,200 trades, all read first.
    const warm = TRADES.filter((trade) => trade.time < from).length;
    expect(report).toMatchObject({ tradesReplayed: inRange, warmUpTrades: warm, from, to });
    expect(report.triggers).toEqual([{ alertIndex: 0, triggeredAt: from }]);
  });
});
