// Property: over random tapes (late trades, equal times) and random alerts of every condition (once,
// repeat, rearmBy, cooldowns), the alert book (a backtest) and the reactor's stream decision fire
// exactly where a naive recomputation fires — windows recomputed from every trade with decimal.js, and
// each condition written the plain way, as sides of a threshold or range.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, formatMeasure } from '../../src/domain/decimal.ts';
import type { AlertCreated, TradeRecorded } from '../../src/domain/events.ts';
import { alertOf, bookChanges, reactorChanges, trade } from '../helpers/conditions.ts';

const WINDOWS = ['10s', '1m'];
const WINDOW_MICROS: Record<string, number> = { '10s': 10_000_000, '1m': 60_000_000 };
const COOLDOWN_MICROS: Record<string, number> = { '1s': 1_000_000, '5s': 5_000_000, '30s': 30_000_000 };

interface Applied {
  micros: number;
  price: Decimal;
  size: Decimal;
  order: number;
}

/** The value an alert compares after `applied` (in order applied), recomputed from scratch. */
function naiveValue(alert: AlertCreated, applied: readonly Applied[]): Decimal {
  const newest = applied.reduce((a, b) => (b.micros >= a.micros ? b : a));
  const moving = alert.condition === 'MOVE';
  if (alert.measure === 'LAST' && !moving) return newest.price;
  const span = WINDOW_MICROS[alert.window];
  const inside =
    span === undefined
      ? applied
      : applied.filter((t) => t.micros > newest.micros - span && t.micros <= newest.micros);
  if (moving) {
    const oldest = inside.reduce((a, b) => (b.micros < a.micros ? b : a));
    return newest.price.minus(oldest.price).times(100).div(oldest.price);
  }
  if (alert.measure === 'MEAN')
    return inside.reduce((sum, t) => sum.plus(t.price), new Decimal(0)).div(inside.length);
  const notional = inside.reduce((sum, t) => sum.plus(t.price.times(t.size)), new Decimal(0));
  return notional.div(inside.reduce((sum, t) => sum.plus(t.size), new Decimal(0)));
}

/** Where each alert fires, decided the plain way: `trade alert value`. */
function naiveFires(alerts: readonly AlertCreated[], trades: readonly TradeRecorded[]): string[] {
  const applied: Applied[] = [];
  const machines = alerts.map(() => ({
    armed: true,
    side: 'unknown' as 'unknown' | 'far' | 'near',
    done: false,
    lastFire: undefined as number | undefined,
  }));
  const fires: string[] = [];
  trades.forEach((t, index) => {
    const micros = Date.parse(t.time) * 1000 + Number(t.time.slice(23, 26));
    applied.push({ micros, price: new Decimal(t.price), size: new Decimal(t.size), order: index });
    alerts.forEach((alert, which) => {
      const machine = machines[which]!;
      if (machine.done) return;
      const v = naiveValue(alert, applied);
      const cooling =
        alert.cooldown !== undefined &&
        machine.lastFire !== undefined &&
        micros - machine.lastFire < COOLDOWN_MICROS[alert.cooldown]!;
      const fire = (): void => {
        fires.push(`${index} ${alert.alertId} ${formatMeasure(v)}`);
        machine.lastFire = micros;
        if (!alert.repeat) machine.done = true;
      };
      const above = alert.direction === 'ABOVE';
      const condition = alert.condition ?? 'LEVEL';
      if (condition === 'LEVEL' || condition === 'MOVE') {
        const level =
          condition === 'MOVE'
            ? new Decimal(alert.percent!).times(above ? 1 : -1)
            : new Decimal(alert.threshold!);
        const met = above ? v.gte(level) : v.lte(level);
        const band = new Decimal(alert.rearmBy);
        const clear = above ? v.lt(level.minus(band)) : v.gt(level.plus(band));
        if (machine.armed && met && !cooling) {
          fire();
          machine.armed = false;
        } else if (!machine.armed && clear) machine.armed = true;
        return;
      }
      let near: boolean;
      let far: boolean;
      if (condition === 'CROSS') {
        const threshold = new Decimal(alert.threshold!);
        const band = new Decimal(alert.rearmBy);
        near = above ? v.gte(threshold) : v.lte(threshold);
        far = above ? v.lt(threshold.minus(band)) : v.gt(threshold.plus(band));
      } else {
        const inRange = v.gte(alert.low!) && v.lte(alert.high!);
        near = condition === 'ENTER' ? inRange : !inRange;
        far = !near;
      }
      if (near) {
        if (machine.side === 'far' && !cooling) fire();
        machine.side = 'near';
      } else if (far) machine.side = 'far';
    });
  });
  return fires;
}

const priceArb = fc.integer({ min: 194, max: 206 }).map((half) => (half / 2).toFixed(1));
const tradesArb = fc
  .array(
    fc.record({
      gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4_000 })),
      lateMs: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 90_000 })),
      price: priceArb,
      size: fc.integer({ min: 1, max: 300 }).map((n) => (n / 100).toString()),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((steps) => {
    let ms = 100_000;
    return steps.map((step, index) => {
      ms += step.gapMs;
      return trade(index, (ms - step.lateMs) / 1000, step.price, step.size);
    });
  });

const alertArb = fc
  .record({
    condition: fc.constantFrom('LEVEL', 'CROSS', 'MOVE', 'ENTER', 'EXIT'),
    direction: fc.constantFrom('ABOVE', 'BELOW'),
    threshold: priceArb,
    percent: fc.constantFrom('0.5', '1', '2', '2.5', '3.3'),
    low: priceArb,
    width: fc.constantFrom('0.5', '1', '2.5'),
    measure: fc.constantFrom('LAST', 'MEAN', 'VWAP'),
    window: fc.constantFrom('10s', '1m', 'all'),
    repeat: fc.boolean(),
    rearmBy: fc.constantFrom('0', '0', '0.5', '1'),
    cooldown: fc.constantFrom(undefined, undefined, '1s', '5s', '30s'),
  })
  .map((r): Partial<AlertCreated> => {
    const common = {
      measure: r.measure,
      window: r.window,
      repeat: r.repeat,
      ...(r.repeat && r.cooldown ? { cooldown: r.cooldown } : {}),
    } as const;
    switch (r.condition) {
      case 'LEVEL':
        return { ...common, direction: r.direction, threshold: r.threshold, rearmBy: r.rearmBy };
      case 'CROSS':
        return {
          ...common,
          condition: 'CROSS',
          direction: r.direction,
          threshold: r.threshold,
          rearmBy: r.rearmBy,
        };
      case 'MOVE':
        return { ...common, condition: 'MOVE', direction: r.direction, percent: r.percent };
      default:
        return {
          ...common,
          condition: r.condition,
          low: r.low,
          high: new Decimal(r.low).plus(r.width).toFixed(),
        };
    }
  });

describe('conditions against a naive recomputation', () => {
  it('fire exactly where the plain rules fire, in the book and in the stream decision alike', () => {
    fc.assert(
      fc.property(tradesArb, fc.array(alertArb, { minLength: 1, maxLength: 8 }), (trades, fields) => {
        const alerts = fields.map((more, index) => alertOf(`a${index}`, more));
        const expected = naiveFires(alerts, trades);
        const fired = (seen: { kind: string; trade: number; alertId: string; value: string }[]) =>
          seen.filter((s) => s.kind === 'fire').map((s) => `${s.trade} ${s.alertId} ${s.value}`);
        const key = (s: { kind: string; trade: number; alertId: string }) =>
          `${s.trade} ${s.alertId} ${s.kind}`;
        const book = bookChanges(alerts, trades, WINDOWS);
        expect(fired(book).sort()).toEqual([...expected].sort());
        const stream = reactorChanges(alerts, trades, { windows: WINDOWS, everyTrade: true }).seen;
        expect(stream.map(key).sort()).toEqual(book.map(key).sort());
        const reactor = reactorChanges(alerts, trades, { windows: WINDOWS }).seen;
        expect(reactor).toEqual(book);
      }),
      { numRuns: 400 },
    );
  });
});
