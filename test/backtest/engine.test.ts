// The replay's rules: inclusive bounds to the microsecond, honest warm-up, cancellation, the cap.
import { describe, expect, it } from 'vitest';
import { parseBacktestAlerts } from '../../src/backtest/alerts.ts';
import { runBacktest } from '../../src/backtest/engine.ts';
import { parseBound } from '../../src/backtest/trade.ts';
import { formatMicros } from '../../src/domain/time.ts';
import type { TradeInput } from '../../src/domain/types.ts';

const START = Date.UTC(2026, 10, 20) * 1_000;
const at = (seconds: number): string => formatMicros(START + Math.round(seconds * 1_000_000));

function trades(rows: [seconds: number, price: string][]): TradeInput[] {
  return rows.map(([seconds, price], index) => ({
    product: 'BTC-USD',
    tradeId: `t${index}`,
    price,
    size: '1',
    side: 'buy',
    time: at(seconds),
    source: 'coinbase',
  }));
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

const alerts = (raw: object[]) => parseBacktestAlerts(raw, { product: 'BTC-USD', windows: ['1m', '10m'] });
const repeatLast = alerts([{ direction: 'ABOVE', threshold: '150', measure: 'LAST', repeat: true }]);

describe('runBacktest', () => {
  const tape = trades([
    [0, '200'],
    [1, '100'],
    [2, '200'], // warm-up: would fire if it could
    [3, '200'], // exactly at from: fires
    [4, '100'], // re-arms
    [5, '200'],
    [6, '100'],
    [7, '200'], // exactly at to: fires
    [7.000001, '100'], // one microsecond after to: not applied, so it cannot re-arm ...
    [8, '200'], // ... and this cannot fire
  ]);

  it('includes trades exactly at from and to, and applies nothing after to', async () => {
    const report = await runBacktest({
      product: 'BTC-USD',
      trades: from(tape),
      alerts: repeatLast,
      from: parseBound(at(3), 'from'),
      to: parseBound(at(7), 'to'),
    });
    expect(
      report.triggers.map((trigger) => [trigger.trade.tradeId, trigger.triggeredAt, trigger.value]),
    ).toEqual([
      ['t3', at(3), '200'],
      ['t5', at(5), '200'],
      ['t7', at(7), '200'],
    ]);
    // t3..t7 are in range; t0..t2 only warmed the windows.
    expect(report).toMatchObject({
      tradesReplayed: 5,
      warmUpTrades: 3,
      from: at(3),
      to: at(7),
      warmUp: { trades: 3, since: at(0) },
      complete: true,
      summary: [{ alertIndex: 0, fired: 3, firstTriggeredAt: at(3), lastTriggeredAt: at(7) }],
    });
    expect(report.triggers[0]?.trade).toEqual({
      product: 'BTC-USD',
      tradeId: 't3',
      price: '200',
      size: '1',
      side: 'buy',
      time: at(3),
    });
  });

  it('without bounds, replays everything with the alerts armed before the first trade', async () => {
    const report = await runBacktest({ product: 'BTC-USD', trades: from(tape), alerts: repeatLast });
    expect(report.triggers.map((trigger) => trigger.trade.tradeId)).toEqual(['t0', 't2', 't5', 't7', 't9']);
    expect(report).toMatchObject({
      tradesReplayed: 10,
      warmUpTrades: 0,
      from: null,
      to: null,
      warmUp: { trades: 0, since: at(0) },
    });
  });

  it('fills the windows with the trades before from', async () => {
    const warm = trades([
      [-100, '1000000'], // older than the 1m window at from: no part of a 1m mean
      [0, '1000'],
      [30, '1000'],
      [40, '10'], // from: the 1m mean is (1000 + 1000 + 10) / 3 = 670, not 10
    ]);
    const report = await runBacktest({
      product: 'BTC-USD',
      trades: from(warm),
      alerts: alerts([
        { direction: 'ABOVE', threshold: '500', window: '1m' },
        { direction: 'ABOVE', threshold: '500', window: 'all', measure: 'MEAN' },
        { direction: 'BELOW', threshold: '10', measure: 'LAST' },
      ]),
      from: parseBound(at(40), 'from'),
    });
    expect(report.triggers.map((trigger) => [trigger.alertIndex, trigger.value])).toEqual(
      expect.arrayContaining([
        [0, '670'],
        [1, '250502.5'],
        [2, '10'],
      ]),
    );
    expect(report.triggers).toHaveLength(3);
    expect(report.warmUp).toEqual({ trades: 3, since: at(-100) });
    expect(report).toMatchObject({ tradesReplayed: 1, warmUpTrades: 3 });
  });

  it('stops when aborted and returns what it found so far', async () => {
    const abort = new AbortController();
    async function* aborting(): AsyncGenerator<TradeInput> {
      for (const [index, trade] of tape.entries()) {
        if (index === 6) abort.abort();
        yield trade;
      }
    }
    const report = await runBacktest({
      product: 'BTC-USD',
      trades: aborting(),
      alerts: repeatLast,
      signal: abort.signal,
    });
    expect(report.complete).toBe(false);
    expect(report.tradesReplayed).toBe(6);
    expect(report.triggers.map((trigger) => trigger.trade.tradeId)).toEqual(['t0', 't2', 't5']);
  });

  it('refuses more trades than maxTrades with LIMIT_EXCEEDED, counting what it reads up to `to`', async () => {
    await expect(
      runBacktest({ product: 'BTC-USD', trades: from(tape), alerts: repeatLast, maxTrades: 9 }),
    ).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
    });
    const bounded = await runBacktest({
      product: 'BTC-USD',
      trades: from(tape),
      alerts: repeatLast,
      maxTrades: 8,
      from: parseBound(at(3), 'from'),
      to: parseBound(at(7), 'to'),
    });
    expect(bounded).toMatchObject({ tradesReplayed: 5, warmUpTrades: 3 });
  });

  it('refuses more triggers than maxTriggers with LIMIT_EXCEEDED naming `triggers`', async () => {
    const run = (maxTriggers: number) =>
      runBacktest({ product: 'BTC-USD', trades: from(tape), alerts: repeatLast, maxTriggers });
    await expect(run(4)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'triggers' });
    expect((await run(5)).triggers).toHaveLength(5);
  });

  it('counts trades that arrive later than a newer one, and keeps stream order', async () => {
    const late = trades([
      [0, '100'],
      [10, '100'],
      [5, '200'], // late: counts in the windows, never becomes LAST
      [11, '100'],
    ]);
    const report = await runBacktest({ product: 'BTC-USD', trades: from(late), alerts: repeatLast });
    expect(report.outOfOrderTrades).toBe(1);
    expect(report.triggers).toEqual([]);
  });
});
