import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseTime } from '../../src/domain/time.ts';
import { simulateTape, startSimulatedFeed, type TapeTrade } from '../../src/feeds/simulated.ts';
import { loadSimulatorSettings } from '../../src/feeds/settings.ts';

const START = Date.UTC(2026, 10, 26, 8, 0, 0);

function take(count: number, seed: number, ratePerSecond = 20): TapeTrade[] {
  const tape = simulateTape({ seed, products: ['BTC-USD', 'ETH-USD'], ratePerSecond, startMs: START });
  return Array.from({ length: count }, () => tape.next().value as TapeTrade);
}

describe('simulated tape', () => {
  it('is the same tape for the same seed, and another for another seed', () => {
    expect(take(2_000, 7)).toEqual(take(2_000, 7));
    expect(take(50, 8).map((t) => t.trade.price)).not.toEqual(take(50, 7).map((t) => t.trade.price));
  });

  it('has cent prices, 8-decimal sizes, valid microsecond times in order, and unique growing ids', () => {
    const trades = take(2_000, 1);
    for (const { trade } of trades) {
      expect(trade.price).toMatch(/^\d+\.\d{2}$/);
      expect(trade.size).toMatch(/^\d+\.\d{8}$/);
      expect(Number(trade.size)).toBeGreaterThan(0);
      expect(parseTime(trade.time)?.iso).toBe(trade.time);
      expect(['buy', 'sell']).toContain(trade.side);
      expect(trade.source).toBe('simulated');
    }
    const times = trades.map((t) => t.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const btcIds = trades.filter((t) => t.trade.product === 'BTC-USD').map((t) => Number(t.trade.tradeId));
    expect(btcIds.every((id, index) => index === 0 || id === btcIds[index - 1]! + 1)).toBe(true);
  });

  it('arrives at about the configured mean rate per product, in bursts', () => {
    for (const rate of [10, 5_000]) {
      const trades = take(20_000, 3, rate);
      const seconds = (trades.at(-1)!.atMs - START) / 1000;
      const perProduct = trades.length / 2 / seconds;
      expect(perProduct).toBeGreaterThan(rate * 0.85);
      expect(perProduct).toBeLessThan(rate * 1.15);
      // A Poisson stream would put ~10% of its gaps under a tenth of the mean gap; bursts put far more.
      const btc = trades.filter((t) => t.trade.product === 'BTC-USD');
      const closeGaps = btc.filter((t, i) => i > 0 && t.atMs - btc[i - 1]!.atMs < 100 / rate).length;
      expect(closeGaps / btc.length).toBeGreaterThan(0.4);
    }
  });

  it('moves prices as a random walk, not a constant', () => {
    const prices = take(5_000, 5)
      .filter((t) => t.trade.product === 'BTC-USD')
      .map((t) => Number(t.trade.price));
    expect(new Set(prices).size).toBeGreaterThan(100);
    expect(Math.max(...prices) / Math.min(...prices)).toBeLessThan(1.2);
  });

  it('reads its settings from the environment, with defaults, and refuses nonsense', () => {
    expect(loadSimulatorSettings({})).toEqual({ seed: 42, ratePerSecond: 5 });
    expect(loadSimulatorSettings({ PRICEALERT_SIM_SEED: '7', PRICEALERT_SIM_RATE: '0.5' })).toEqual({
      seed: 7,
      ratePerSecond: 0.5,
    });
    expect(() => loadSimulatorSettings({ PRICEALERT_SIM_RATE: '-1' })).toThrow(/PRICEALERT_SIM_RATE/);
    expect(() => loadSimulatorSettings({ PRICEALERT_SIM_SEED: 'abc' })).toThrow(/PRICEALERT_SIM_SEED/);
  });

  it('stops while the store is down and the tape is held back', async () => {
    let calls = 0;
    const feed = startSimulatedFeed({
      seed: 1,
      products: ['BTC-USD'],
      ratePerSecond: 100_000,
      logger: pino({ level: 'silent' }),
      record: async () => {
        calls += 1;
        throw new Error('store unavailable');
      },
    });
    while (calls < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    await feed.stop();
    expect(feed.stats().writer.recorded).toBe(0);
    expect(feed.stats().trades).toBeGreaterThan(0);
  });
});
