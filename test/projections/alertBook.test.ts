import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cross, evolve, initialState, setAlert, size, type BookAlert } from '../../projections/alertBook.ts';
import type { Ratio } from '../../src/domain/crossing.ts';
import { Decimal } from '../../src/domain/decimal.ts';
import type { AlertEvent } from '../../src/domain/events.ts';

const alert = (
  alertId: string,
  direction: 'ABOVE' | 'BELOW',
  threshold: string,
  more: Partial<BookAlert> = {},
): BookAlert => ({
  alertId,
  product: 'BTC-USD',
  direction,
  threshold,
  measure: 'MEAN',
  window: '10m',
  repeat: false,
  rearmBy: '0',
  ...more,
});
const created = (a: BookAlert): AlertEvent => ({
  type: 'AlertCreated',
  data: { ...a, userId: 'u', createdAt: '2026-11-26T08:00:00.000000Z' },
});
const at = (value: Ratio) => () => value;
const changes = (book: ReturnType<typeof initialState>, value: Ratio) =>
  cross(book, 'BTC-USD', at(value), 0).map((c) => `${c.kind} ${c.alert.alertId}`);

describe('alertBook', () => {
  it('given ABOVE and BELOW alerts, when the mean reaches a threshold exactly, then those fire and no others', () => {
    const book = [alert('a', 'ABOVE', '100'), alert('b', 'ABOVE', '100.5'), alert('c', 'BELOW', '99')]
      .map(created)
      .reduce(evolve, initialState());
    // Mean of 299.99 over 3 trades is 99.996666…: below 100, so nothing fires.
    expect(changes(book, { num: 29999n, den: 300n })).toEqual([]);
    // Σprice = 300, count 3 → exactly 100: ABOVE 100 fires (≥), 100.5 does not.
    expect(changes(book, { num: 300n, den: 3n })).toEqual(['fire a']);
    expect(changes(book, { num: 99n, den: 1n })).toEqual(['fire c']);
    expect(size(book)).toBe(1);
  });

  it('given a repeat alert, when it fires, then it disarms and re-arms only past rearmBy', () => {
    const book = [alert('r', 'ABOVE', '100', { repeat: true, rearmBy: '5' })]
      .map(created)
      .reduce(evolve, initialState());
    expect(changes(book, { num: 101n, den: 1n })).toEqual(['fire r']);
    expect(changes(book, { num: 102n, den: 1n })).toEqual([]);
    expect(changes(book, { num: 95n, den: 1n })).toEqual([]); // not below 100 − 5
    expect(changes(book, { num: 9499n, den: 100n })).toEqual(['rearm r']);
    expect(changes(book, { num: 100n, den: 1n })).toEqual(['fire r']);
  });

  it('given a cancelled or expired alert, when the measure crosses, then it does not fire', () => {
    const a = alert('a', 'ABOVE', '1');
    const b = alert('b', 'ABOVE', '1');
    const book = [
      created(a),
      created(b),
      {
        type: 'AlertCancelled',
        data: { alertId: 'a', userId: 'u', cancelledAt: '2026-11-26T08:00:00.000000Z' },
      },
      { type: 'AlertExpired', data: { alertId: 'b', expiredAt: '2026-11-26T08:00:00.000000Z' } },
    ].reduce<ReturnType<typeof initialState>>(
      (state, event) => evolve(state, event as AlertEvent),
      initialState(),
    );
    expect(changes(book, { num: 5n, den: 1n })).toEqual([]);
  });

  it('given AlertTriggered and AlertRearmed events, when folded, then the book follows them', () => {
    const r = alert('r', 'BELOW', '10', { repeat: true });
    const book = evolve(evolve(initialState(), created(r)), {
      type: 'AlertTriggered',
      data: {
        ...r,
        userId: 'u',
        value: '9',
        trade: { tradeId: '1', price: '9', size: '1', side: 'buy', time: '2026-11-26T08:00:00.000000Z' },
        triggeredAt: '2026-11-26T08:00:00.000000Z',
      },
    });
    expect(changes(book, { num: 9n, den: 1n })).toEqual([]);
    evolve(book, {
      type: 'AlertRearmed',
      data: { alertId: 'r', value: '11', tradeId: '2', rearmedAt: '2026-11-26T08:00:00.000000Z' },
    });
    expect(changes(book, { num: 9n, den: 1n })).toEqual(['fire r']);
  });

  it('finds exactly the crossings a naive scan with exact comparisons finds', () => {
    const spec = fc.record({
      direction: fc.constantFrom('ABOVE' as const, 'BELOW' as const),
      threshold: fc.integer({ min: 1, max: 400 }),
      repeat: fc.boolean(),
      rearmBy: fc.integer({ min: 0, max: 30 }),
      measure: fc.constantFrom('MEAN' as const, 'VWAP' as const, 'LAST' as const),
    });
    const value = fc.record({
      num: fc.bigInt({ min: 1n, max: 40_000n }),
      den: fc.bigInt({ min: 1n, max: 100n }),
    });
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 60 }),
        fc.array(fc.record({ mean: value, vwap: value, last: value }), { maxLength: 40 }),
        (specs, values) => {
          const book = initialState();
          const naive = specs.map((s, index) => {
            const a = alert(String(index), s.direction, (s.threshold / 4).toString(), {
              repeat: s.repeat,
              rearmBy: (s.rearmBy / 8).toString(),
              measure: s.measure,
            });
            setAlert(book, a, true);
            return { a, armed: true, gone: false };
          });
          for (const v of values) {
            const ratioOf = (measure: string): Ratio =>
              measure === 'MEAN' ? v.mean : measure === 'VWAP' ? v.vwap : v.last;
            const got = cross(book, 'BTC-USD', (measure) => ratioOf(measure), 0)
              .map((c) => `${c.kind} ${c.alert.alertId}`)
              .sort();
            const expected: string[] = [];
            for (const n of naive) {
              if (n.gone) continue;
              const r = ratioOf(n.a.measure);
              const m = new Decimal(r.num.toString()).div(r.den.toString());
              const t = new Decimal(n.a.threshold!);
              const above = n.a.direction === 'ABOVE';
              if (n.armed && (above ? m.gte(t) : m.lte(t))) {
                expected.push(`fire ${n.a.alertId}`);
                n.armed = false;
                n.gone = !n.a.repeat;
              } else if (!n.armed && (above ? m.lt(t.minus(n.a.rearmBy)) : m.gt(t.plus(n.a.rearmBy)))) {
                expected.push(`rearm ${n.a.alertId}`);
                n.armed = true;
              }
            }
            expect(got).toEqual(expected.sort());
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
