import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deserialize, serialize } from 'node:v8';
import { evolve, initialState, price, restore, snapshot } from '../../projections/averagePrice.ts';
import { Decimal, formatMeasure } from '../../src/domain/decimal.ts';
import type { TradeRecorded } from '../../src/domain/events.ts';
import { formatMicros } from '../../src/domain/time.ts';

const BASE = Date.UTC(2026, 10, 26, 8) * 1000;
const trade = (seconds: number, priceText: string, size = '1', tradeId = String(seconds)): TradeRecorded => ({
  product: 'BTC-USD',
  tradeId,
  price: priceText,
  size,
  side: 'buy',
  time: formatMicros(BASE + Math.round(seconds * 1_000_000)),
  source: 'test',
});
const given = (windows: string[], trades: TradeRecorded[]) => trades.reduce(evolve, initialState(windows));

describe('averagePrice', () => {
  it('given no trades, when asked for a price, then there is none', () => {
    expect(price(initialState(['1m']), 'BTC-USD', '1m')).toBeUndefined();
  });

  it('given trades inside and outside a window, when asked, then the window holds only (t − w, t]', () => {
    const state = given(['1m'], [trade(0, '100'), trade(30, '200', '3'), trade(60, '300')]);
    // At t = 60 s the 1m window is (0, 60]: the trade at exactly 0 has left.
    expect(price(state, 'BTC-USD', '1m')).toEqual({
      product: 'BTC-USD',
      window: '1m',
      last: '300',
      mean: '250',
      vwap: '225',
      high: '300',
      low: '200',
      count: 2,
      volume: '4',
      time: formatMicros(BASE + 60_000_000),
    });
    expect(price(state, 'BTC-USD', 'all')).toMatchObject({
      mean: '200',
      count: 3,
      high: '300',
      low: '100',
      volume: '5',
    });
  });

  it('given a mean with a repeating decimal, when printed, then it is rounded half-even to 8 places', () => {
    const state = given(['1m'], [trade(0, '1'), trade(1, '1'), trade(2, '2')]);
    expect(price(state, 'BTC-USD', '1m')?.mean).toBe('1.33333333');
    const half = given(['1m'], [trade(0, '0.000000005'), trade(1, '0.00000002')]);
    expect(price(half, 'BTC-USD', '1m')?.mean).toBe('0.00000001'); // 0.0000000125 → …01 (half-even at the 9th place: 0.00000001|25)
  });

  it('given microsecond times, when a trade is exactly one window later, then the older one has left', () => {
    const state = given(['1s'], [trade(0.000001, '10'), trade(1.000001, '20')]);
    expect(price(state, 'BTC-USD', '1s')).toMatchObject({ count: 1, mean: '20' });
    expect(price(state, 'BTC-USD', '1s')?.time).toBe(formatMicros(BASE + 1_000_001));
  });

  it('given a late trade, when applied, then it counts in the windows its time falls in and does not become LAST', () => {
    const state = given(
      ['10s', '1m'],
      [trade(0, '100'), trade(50, '200'), trade(45, '50'), trade(5, '1000')],
    );
    expect(price(state, 'BTC-USD', '10s')).toMatchObject({ count: 2, low: '50', last: '200', mean: '125' });
    expect(price(state, 'BTC-USD', '1m')).toMatchObject({ count: 4, high: '1000' });
  });

  it('given prices with growing decimals and huge values, when summed, then nothing is rounded', () => {
    const state = given(
      ['1m'],
      [
        trade(0, '0.1'),
        trade(1, '0.000000000000000000000000001'),
        trade(2, '123456789012345678901234567890.5'),
      ],
    );
    expect(price(state, 'BTC-USD', '1m')).toMatchObject({
      high: '123456789012345678901234567890.5',
      low: '0.000000000000000000000000001',
      count: 3,
    });
  });

  it('keeps every window equal to a naive recomputation for random tapes with late trades and equal times', () => {
    const windows = ['1s', '3s', '10s'];
    const step = fc.record({
      // Mostly forward, sometimes the same time, sometimes late.
      dt: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 2_000_000 }),
        fc.integer({ min: -12_000_000, max: -1 }),
      ),
      units: fc.bigInt({ min: 1n, max: 10n ** 12n }),
      priceScale: fc.integer({ min: 0, max: 20 }),
      sizeUnits: fc.bigInt({ min: 1n, max: 10n ** 9n }),
      sizeScale: fc.integer({ min: 0, max: 10 }),
    });
    const decimalText = (units: bigint, scale: number) =>
      new Decimal(units.toString()).div(new Decimal(10).pow(scale)).toFixed();
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
        const state = initialState(windows);
        const applied: { micros: number; price: string; size: string }[] = [];
        let clock = BASE;
        for (const [index, s] of steps.entries()) {
          clock += s.dt;
          const priceText = decimalText(s.units, s.priceScale);
          const sizeText = decimalText(s.sizeUnits, s.sizeScale);
          evolve(state, { ...trade(0, priceText, sizeText, String(index)), time: formatMicros(clock) });
          applied.push({ micros: clock, price: priceText, size: sizeText });
          const newest = Math.max(...applied.map((t) => t.micros));
          const lastApplied = applied.filter((t) => t.micros === newest).at(-1)!;
          for (const [window, micros] of [
            ['1s', 1e6],
            ['3s', 3e6],
            ['10s', 10e6],
            ['all', Infinity],
          ] as const) {
            const inside = applied.filter((t) => t.micros > newest - micros);
            const prices = inside.map((t) => new Decimal(t.price));
            const sizes = inside.map((t) => new Decimal(t.size));
            const sumSize = Decimal.sum(...sizes);
            const notional = Decimal.sum(...inside.map((t, i) => prices[i]!.mul(sizes[i]!)));
            expect(price(state, 'BTC-USD', window)).toEqual({
              product: 'BTC-USD',
              window,
              last: new Decimal(lastApplied.price).toFixed(),
              mean: formatMeasure(Decimal.sum(...prices).div(inside.length)),
              vwap: formatMeasure(notional.div(sumSize)),
              high: Decimal.max(...prices).toFixed(),
              low: Decimal.min(...prices).toFixed(),
              count: inside.length,
              volume: sumSize.toFixed(),
              time: formatMicros(newest),
            });
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('stays equal to a naive recomputation over long tapes (the store compacts and grows)', () => {
    const state = initialState(['1s', '5s']);
    const applied: { micros: number; units: number }[] = [];
    let clock = BASE;
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let index = 0; index < 6000; index += 1) {
      clock += random() < 0.05 ? -Math.floor(random() * 3_000_000) : Math.floor(random() * 20_000);
      const units = 1 + Math.floor(random() * 1000);
      evolve(state, { ...trade(0, String(units), '1', String(index)), time: formatMicros(clock) });
      applied.push({ micros: clock, units });
      if (index % 500 !== 499) continue;
      const newest = Math.max(...applied.map((t) => t.micros));
      for (const [window, micros] of [
        ['1s', 1e6],
        ['5s', 5e6],
      ] as const) {
        const inside = applied.filter((t) => t.micros > newest - micros).map((t) => t.units);
        expect(price(state, 'BTC-USD', window)).toMatchObject({
          count: inside.length,
          high: String(Math.max(...inside)),
          low: String(Math.min(...inside)),
          volume: String(inside.length),
          mean: formatMeasure(new Decimal(inside.reduce((a, b) => a + b, 0)).div(inside.length)),
        });
      }
    }
  });

  it('given a snapshot written and read back, when folding on, then it answers as the original does', () => {
    const windows = ['1s', '4s'];
    const step = fc.record({
      dt: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 900_000 }),
        fc.integer({ min: -5_000_000, max: -1 }),
      ),
      units: fc.oneof(fc.bigInt({ min: 1n, max: 10n ** 6n }), fc.bigInt({ min: 1n, max: 10n ** 30n })),
      scale: fc.integer({ min: 0, max: 12 }),
      product: fc.constantFrom('BTC-USD', 'ETH-USD'),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 80 }),
        fc.array(step, { minLength: 1, maxLength: 80 }),
        (before, after) => {
          const original = initialState(windows);
          let clock = BASE;
          const apply = (state: ReturnType<typeof initialState>, s: (typeof before)[number], index: number) =>
            evolve(state, {
              ...trade(
                0,
                new Decimal(s.units.toString()).div(new Decimal(10).pow(s.scale)).toFixed(),
                '1',
                String(index),
              ),
              product: s.product,
              time: formatMicros(clock),
            });
          before.forEach((s, index) => {
            clock += s.dt;
            apply(original, s, index);
          });
          const restored = restore(deserialize(serialize(snapshot(original))), windows)!;
          after.forEach((s, index) => {
            clock += s.dt;
            apply(original, s, index);
            apply(restored, s, index);
            for (const product of ['BTC-USD', 'ETH-USD'])
              for (const window of [...windows, 'all'])
                expect(price(restored, product, window)).toEqual(price(original, product, window));
          });
        },
      ),
      { numRuns: 100 },
    );
    expect(restore(snapshot(initialState(['1s'])), ['1m'])).toBeUndefined();
  });
});
